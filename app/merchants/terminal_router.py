"""HTTP routes of `app.merchants` (terminal_router)."""

from fastapi import APIRouter

router = APIRouter()
