"""Labels of what happens to a specimen, as people read them: its own events (`checked_out`, `label_printed`)
and the ledger actions of specimens and label templates (`specimen.checked_out`, `label.template.save`).

Codes stay codes in the database, the ledger and the API; pages show these labels in the reader's language
(`{{ e.kind|label("specimen_event") }}`, `{{ e.action|label("ledger_action") }}`). Importing this module
registers them (`_common` does).
"""

from __future__ import annotations

from lifebank.messages import N_, register_labels

_EVENTS = {
    "registered": N_("Registered"),
    "moved": N_("Moved"),
    "checked_out": N_("Checked out"),
    "checked_in": N_("Checked in"),
    "reserved": N_("Reserved"),
    "released": N_("Reservation released"),
    "available": N_("Made available"),
    "distributed": N_("Distributed"),
    "consumed": N_("Consumed"),
    "destroyed": N_("Destroyed"),
    "qc": N_("QC recorded"),
    "edited": N_("Edited"),
    "label_printed": N_("Label printed"),
    "label_reprinted": N_("Label reprinted"),
}
register_labels("specimen_event", _EVENTS)
register_labels("ledger_action", {
    "specimen.register": N_("Specimen registered"),
    "specimen.aliquot": N_("Aliquots made"),
    "specimen.derivative": N_("Derivatives made"),
    "specimen.pool": N_("Pool made"),
    "specimen.move": N_("Specimen moved"),
    "specimen.reserve": N_("Specimen reserved"),
    "specimen.release": N_("Reservation released"),
    "specimen.checked_out": N_("Specimen checked out"),
    "specimen.checked_in": N_("Specimen checked in"),
    "specimen.reserved": N_("Specimen reserved"),
    "specimen.available": N_("Specimen made available"),
    "specimen.distributed": N_("Specimen distributed"),
    "specimen.consumed": N_("Specimen consumed"),
    "specimen.destroyed": N_("Specimen destroyed"),
    "specimen.qc": N_("QC recorded"),
    "specimen.edit": N_("Specimen edited"),
    "specimen.label_printed": N_("Label printed"),
    "specimen.label_reprinted": N_("Label reprinted"),
    "label.template.save": N_("Label template saved"),
})
