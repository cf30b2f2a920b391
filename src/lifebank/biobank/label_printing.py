"""Printing labels: the manager's label templates (stock, symbology, fields) and the print itself.

A print gathers each tube's label data (participant, type, collection date, SPREC), renders PDF or ZPL with the
chosen template, and ledgers one event per tube (`specimens.record_label_print`). Every unknown barcode of a
request is named at once. Showing a label's picture on screen is not a print and is not ledgered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from lifebank.audit import service as ledger
from lifebank.biobank._common import _chunks, missing_specimens
from lifebank.biobank.labels import FIELDS, STOCKS, SYMBOLOGIES, LabelData, render_pdf, render_zpl
from lifebank.biobank.models import LabelTemplate, Participant, Specimen
from lifebank.biobank.specimens import record_label_print
from lifebank.db.base import utcnow
from lifebank.db.engine import Database
from lifebank.errors import NotFound, ValidationFailed

FORMATS = ("pdf", "zpl")
# Who may change the bank's label templates: label.design (managers and admins; technicians print with the
# templates but do not change them).
TEMPLATE_PERMISSION = "label.design"
# The template used until a manager saves one: the 33 x 13 mm cryo label with a DataMatrix and every field.
BUILT_IN = {"name": "standard", "stock": "cryo-33x13", "symbology": "datamatrix", "fields": list(FIELDS),
            "is_default": True}


@dataclass(frozen=True, slots=True)
class PrintJob:
    """A rendered print: the file's bytes, its media type and file name, and whether any label was a reprint."""

    content: bytes
    media_type: str
    filename: str
    reprint: bool


def _check_stock_and_symbology(stock: str, symbology: str) -> None:
    """A label stock and a symbology LifeBank can print, or a message naming the allowed ones."""
    if stock not in STOCKS:
        raise ValidationFailed("unknown label stock {stock}; allowed: {allowed}", stock=stock,
                               allowed=", ".join(STOCKS))
    if symbology not in SYMBOLOGIES:
        raise ValidationFailed("unknown symbology {symbology}; allowed: {allowed}", symbology=symbology,
                               allowed=", ".join(SYMBOLOGIES))

def _view(row: LabelTemplate) -> dict[str, Any]:
    return {"name": row.name, "stock": row.stock, "symbology": row.symbology,
            "fields": [f for f in row.fields.split(",") if f], "is_default": row.is_default}


def list_templates(db: Database) -> list[dict[str, Any]]:
    """The saved templates, the default first; the built-in one when none is saved."""
    with db.session() as session:
        rows = list(session.scalars(select(LabelTemplate).order_by(LabelTemplate.is_default.desc(),
                                                                   LabelTemplate.name)))
        return [_view(r) for r in rows] or [dict(BUILT_IN)]


def get_template(db: Database, name: str | None) -> dict[str, Any]:
    templates = list_templates(db)
    if not name:
        return templates[0]
    for template in templates:
        if template["name"] == name:
            return template
    raise NotFound("label template {name} does not exist", name=name)


def save_template(db: Database, name: str, *, stock: str, symbology: str, fields: Sequence[str],
                  is_default: bool = False, actor: str) -> dict[str, Any]:
    """Create or change a template (a manager's choice); making it the default unsets the previous one."""
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationFailed("a label template needs a name of 1 to 64 characters")
    _check_stock_and_symbology(stock, symbology)
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise ValidationFailed("unknown label field {field}; allowed: {allowed}", field=", ".join(unknown),
                               allowed=", ".join(FIELDS))
    chosen = ",".join(f for f in FIELDS if f in fields)
    with db.transaction() as session:
        row = session.scalar(select(LabelTemplate).where(LabelTemplate.name == name))
        first = session.scalar(select(LabelTemplate.id).limit(1)) is None
        if row is None:
            row = LabelTemplate(name=name, stock=stock, symbology=symbology, fields=chosen, is_default=False,
                                updated_by=actor)
            session.add(row)
        before = _view(row) if row.id else None
        if is_default or first:
            session.execute(update(LabelTemplate).values(is_default=False))
        row.stock, row.symbology, row.fields, row.updated_by, row.updated_at = stock, symbology, chosen, actor, \
            utcnow()
        row.is_default = bool(is_default or first or (before or {}).get("is_default"))
        session.flush()
        after = _view(row)
        ledger.record(session, actor=actor, action="label.template.save", entity_type="label_template",
                      entity_id=name, change={"from": before, "to": after})
    return after


def label_data(db: Database, barcodes: Sequence[str]) -> list[LabelData]:
    """Each tube's label data, in the order asked; every unknown barcode is named in one error."""
    wanted = list(dict.fromkeys(b.strip() for b in barcodes if b.strip()))
    if not wanted:
        raise ValidationFailed("enter at least one barcode")
    found: dict[str, LabelData] = {}
    with db.session() as session:
        for chunk in _chunks(wanted):
            for specimen, code in session.execute(
                    select(Specimen, Participant.code).outerjoin(Participant, Participant.id == Specimen.participant_id)
                    .where(Specimen.barcode.in_(chunk))):
                found[specimen.barcode] = LabelData(
                    specimen.barcode, participant=code, type=specimen.type,
                    collected=specimen.collected_at.date().isoformat() if specimen.collected_at else None,
                    sprec=specimen.sprec)
    missing_specimens(wanted, found)
    return [found[b] for b in wanted]


def print_labels(db: Database, barcodes: Sequence[str], *, fmt: str, actor: str, template: str | None = None,
                 stock: str | None = None, symbology: str | None = None) -> PrintJob:
    """Render the labels of `barcodes` with a template (its stock and symbology may be overridden for this
    print) and ledger the print, one event per tube."""
    if fmt not in FORMATS:
        raise ValidationFailed("unknown label format {format}; allowed: {allowed}", format=fmt,
                               allowed=", ".join(FORMATS))
    chosen = get_template(db, template)
    stock = stock or chosen["stock"]
    symbology = symbology or chosen["symbology"]
    _check_stock_and_symbology(stock, symbology)
    labels = label_data(db, barcodes)
    if fmt == "pdf":
        content = render_pdf(labels, symbology, stock=stock, fields=chosen["fields"])
        media_type = "application/pdf"
    else:
        content = render_zpl(labels, symbology, stock=stock, fields=chosen["fields"]).encode("utf-8")
        media_type = "application/zpl"
    reprint = record_label_print(db, [label.barcode for label in labels], actor=actor, fmt=f"{symbology}/{fmt}")
    return PrintJob(content, media_type, f"labels.{fmt}", reprint)
