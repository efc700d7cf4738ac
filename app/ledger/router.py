"""HTTP routes of `app.ledger`."""

from fastapi import APIRouter

router = APIRouter()
