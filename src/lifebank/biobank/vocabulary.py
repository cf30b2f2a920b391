"""Labels of the biobank's codes, as users read them: statuses, lineage, container kinds, temperature
classes, sexes and SPREC sample types.

Codes stay codes in the database, the API and files (`in_use`, `automated_store`, `-80C`, `PL1`); pages and
messages show these labels, translated through the catalogue (`{{ status|label("specimen_status") }}`).
Importing this module registers them; `lifebank.biobank.web` imports it.
"""

from __future__ import annotations

from lifebank.biobank.specimen_types import SPECIMEN_TYPES
from lifebank.messages import N_, labels_of, register_labels

register_labels("specimen_status", {
    "available": N_("Available"),
    "reserved": N_("Reserved"),
    "in_use": N_("Checked out"),
    "distributed": N_("Distributed"),
    "consumed": N_("Consumed"),
    "destroyed": N_("Destroyed"),
})
register_labels("lineage", {
    "primary": N_("Primary"),
    "aliquot": N_("Aliquot"),
    "derivative": N_("Derivative"),
    "pool": N_("Pool"),
})
register_labels("container_kind", {
    "site": N_("Site"),
    "freezer": N_("Freezer"),
    "tank": N_("Liquid-nitrogen tank"),
    "automated_store": N_("Automated store"),
    "rack": N_("Rack"),
    "box": N_("Box"),
})
register_labels("temperature_class", {
    "RT": N_("Room temperature (15–25 °C)"),
    "4C": N_("2–8 °C"),
    "-20C": N_("−20 °C"),
    "-80C": N_("−80 °C"),
    "LN2": N_("Liquid nitrogen (below −150 °C)"),
})
# Ledger actions of participants, consent, storage and imports (specimen actions: specimen_events.py).
register_labels("ledger_action", {
    "participant.register": N_("Participant registered"),
    "consent.record": N_("Consent recorded"),
    "consent.withdraw": N_("Consent withdrawn"),
    "storage.type.define": N_("Container type defined"),
    "storage.type.edit": N_("Container type changed"),
    "storage.container.create": N_("Storage container created"),
    "storage.container.move": N_("Storage container moved"),
    "specimen.place": N_("Specimens placed in storage"),
    "import.participants": N_("Participants imported"),
    "import.specimens": N_("Specimens imported"),
})
register_labels("entity_type", {
    "participant": N_("Participant"), "specimen": N_("Specimen"), "container": N_("Storage container"),
    "container_type": N_("Container type"), "import": N_("Import"), "label_template": N_("Label template"),
})
register_labels("sex", {"F": N_("Female"), "M": N_("Male"), "O": N_("Other"), "U": N_("Unknown")})
register_labels("specimen_type", {
    "BLD": N_("Whole blood"),
    "SER": N_("Serum"),
    "PL1": N_("Plasma, single spun"),
    "PL2": N_("Plasma, double spun"),
    "BUF": N_("Buffy coat, viable"),
    "BFF": N_("Buffy coat, nonviable"),
    "RBC": N_("Red blood cells"),
    "CEL": N_("Mononuclear cells (PBMC), viable"),
    "PEL": N_("Mononuclear cells, nonviable"),
    "CRD": N_("Cord blood"),
    "BMA": N_("Bone marrow aspirate"),
    "CTC": N_("Circulating tumour cells"),
    "CSF": N_("Cerebrospinal fluid"),
    "URN": N_("Urine, random"),
    "URM": N_("Urine, first morning"),
    "U24": N_("Urine, 24 h"),
    "SAL": N_("Saliva"),
    "BUC": N_("Buccal cells"),
    "STL": N_("Stool"),
    "ASC": N_("Ascites fluid"),
    "AMN": N_("Amniotic fluid"),
    "SEM": N_("Semen"),
    "EXO": N_("Exosomes"),
    "TIS": N_("Solid tissue"),
    "TCM": N_("Disrupted tissue, nonviable"),
    "CLN": N_("Cells from nonblood specimen, viable"),
    "CEN": N_("Fresh cells from nonblood specimen"),
    "PEN": N_("Cells from nonblood specimen, nonviable"),
    "FNA": N_("Fine needle aspirate cells"),
    "PLC": N_("Placenta"),
    "DNA": N_("DNA"),
    "RNA": N_("RNA"),
    "ZZZ": N_("Other"),
})
# A new SPREC type added to specimen_types without a label here would show as its bare code.
assert set(SPECIMEN_TYPES) <= set(labels_of("specimen_type"))
