"""HTTP routes of `app.merchants`."""

from fastapi import APIRouter

router = APIRouter()
