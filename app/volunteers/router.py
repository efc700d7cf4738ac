"""HTTP routes of `app.volunteers`."""

from fastapi import APIRouter

router = APIRouter()
