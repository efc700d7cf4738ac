"""HTTP routes of `app.identity`."""

from fastapi import APIRouter

router = APIRouter()
