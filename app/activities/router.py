"""HTTP routes of `app.activities`."""

from fastapi import APIRouter

router = APIRouter()
