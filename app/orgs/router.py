"""HTTP routes of `app.orgs`."""

from fastapi import APIRouter

router = APIRouter()
