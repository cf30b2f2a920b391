"""The clinical domain's web routes: the FHIR R4 API (`/fhir/r4`, outside `/api/v1`, as FHIR clients expect a
FHIR base URL) and the clinical pages (a participant's timeline, the import page)."""

from __future__ import annotations

from fastapi import APIRouter

from lifebank.clinical import fhir_api, pages
from lifebank.messages import N_, register_labels
from lifebank.web.templating import NavItem

router = APIRouter(include_in_schema=False)
router.include_router(fhir_api.router)
router.include_router(pages.router)
NAV: list[NavItem] = [NavItem("Clinical import", "/clinical/import", "import.run", 62)]
register_labels("clinical_kind", {"condition": N_("Condition"), "measurement": N_("Lab result"),
                                  "observation": N_("Observation"), "procedure": N_("Procedure"),
                                  "medication": N_("Medication"), "immunization": N_("Immunization"),
                                  "encounter": N_("Encounter"), "death": N_("Death")})
register_labels("entity_type", {"clinical_file": N_("Clinical file"), "vocabulary": N_("Vocabulary"),
                                "fhir_group": N_("FHIR group")})
register_labels("ledger_action", {"clinical.import": N_("Clinical data imported"),
                                  "clinical.vocabulary.load": N_("Vocabulary loaded"),
                                  "clinical.export": N_("FHIR bulk export started")})
