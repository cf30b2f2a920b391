"""Pages of the sharing domain, and the Beacon API mounted at `/api/beacon/v2` (the framework fixes its paths)."""

from __future__ import annotations

from fastapi import APIRouter

from lifebank.sharing.beacon_api import router as beacon_router

router = APIRouter()
router.include_router(beacon_router)
NAV: list[object] = []
