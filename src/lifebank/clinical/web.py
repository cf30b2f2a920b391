"""The clinical domain's web routes: the FHIR R4 API (`/fhir/r4`, outside `/api/v1` as FHIR clients expect a
FHIR base URL) and the clinical pages (timeline, import)."""

from __future__ import annotations

from fastapi import APIRouter

from lifebank.clinical import fhir_api
from lifebank.web.templating import NavItem

router = APIRouter()
router.include_router(fhir_api.router)
NAV: list[NavItem] = []
