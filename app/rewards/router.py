"""HTTP routes of `app.rewards`."""

from fastapi import APIRouter

router = APIRouter()
