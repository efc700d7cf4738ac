"""HTTP routes of `app.activities` (hours_router)."""

from fastapi import APIRouter

router = APIRouter()
