"""Read models: an order's whole chain (steps, signers, times, values, bags, traces, timeline) as one document,
and the FHIR R4B `BiologicallyDerivedProduct` of a released product."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from lifebank.celltherapy import isbt128
from lifebank.celltherapy._common import order_row
from lifebank.celltherapy.chain import STEPS
from lifebank.celltherapy.models import Container, ProductCodeEntry, Signature, Step, Trace
from lifebank.celltherapy.orders import summary
from lifebank.celltherapy.scheduling import timeline
from lifebank.db.engine import Database
from lifebank.errors import Conflict

ISBT128_SYSTEM = "urn:oid:2.16.840.1.113883.6.18"  # ISBT 128 (ICCBBA), the identifier and code system


def chain_view(db: Database, ref: str | int) -> dict[str, Any]:
    """Everything the order page and `lifebank celltherapy chain` show, read in one session."""
    with db.session() as session:
        order = order_row(session, ref)
        steps = list(session.scalars(select(Step).where(Step.order_id == order.id).order_by(Step.seq)))
        signatures: dict[int, list[dict[str, Any]]] = {}
        if steps:
            for sig in session.scalars(select(Signature).where(Signature.step_id.in_([s.id for s in steps]))
                                       .order_by(Signature.id)):
                signatures.setdefault(sig.step_id, []).append(
                    {"signer": sig.signer, "meaning": sig.meaning, "signed_at": sig.signed_at.isoformat()})
        banked = _banked_bags(steps)
        bags = [{"bag": isbt128.bag_text(c.din, c.product_code), "din": c.din, "product_code": c.product_code,
                 "kind": c.kind, "status": c.status, "location": c.location,
                 "specimen": banked.get(isbt128.bag_text(c.din, c.product_code)),
                 "expires_at": c.expires_at.isoformat() if c.expires_at else None,
                 "thawed_at": c.thawed_at.isoformat() if c.thawed_at else None,
                 "infused_at": c.infused_at.isoformat() if c.infused_at else None}
                for c in session.scalars(select(Container).where(Container.order_id == order.id)
                                         .order_by(Container.id))]
        traces = [{"leg": t.leg, "readings": t.readings, "range_c": [t.low_c, t.high_c], "min_c": t.min_c,
                   "max_c": t.max_c, "first_at": t.first_at.isoformat(), "last_at": t.last_at.isoformat(),
                   "excursions": json.loads(t.excursions_json), "series": json.loads(t.series_json),
                   "imported_by": t.imported_by}
                  for t in session.scalars(select(Trace).where(Trace.order_id == order.id).order_by(Trace.id))]
        return {
            "order": summary(order),
            "steps": [{"seq": s.seq, "step": s.step, "values": json.loads(s.values_json),
                       "recorded_by": s.recorded_by, "recorded_at": s.recorded_at.isoformat(),
                       "signatures": signatures.get(s.id, [])} for s in steps],
            "bags": bags,
            "traces": traces,
            "timeline": timeline(order, steps),
            "closed": order.steps_done == len(STEPS),
        }


def _banked_bags(steps: list[Step]) -> dict[str, str]:
    """Each product bag's biobank specimen barcode, as the cryopreservation step registered it."""
    for step in steps:
        if step.step == "cryopreservation":
            values = json.loads(step.values_json)
            return dict(zip(values.get("bags_made", []), values.get("specimens", []), strict=False))
    return {}


def fhir_product(db: Database, ref: str | int) -> dict[str, Any]:
    """The released product as a FHIR R4B BiologicallyDerivedProduct, validated by `fhir.resources`."""
    from fhir.resources.R4B.biologicallyderivedproduct import BiologicallyDerivedProduct

    view = chain_view(db, ref)
    done = {s["step"]: s for s in view["steps"]}
    if "qc-release" not in done:
        raise Conflict("order {coi} is not released yet: no product to export", coi=view["order"]["coi"])
    order = view["order"]
    products = [b for b in view["bags"] if b["kind"] == "product"]
    code = products[0]["product_code"][:5] if products else None
    with db.session() as session:
        entry = session.get(ProductCodeEntry, code) if code else None
    collection = done.get("collection")
    processing = [{"description": s["step"], "timeDateTime": s["recorded_at"]}
                  for s in view["steps"] if s["step"] in ("manufacturing", "qc-release", "cryopreservation")]
    resource: dict[str, Any] = {
        "resourceType": "BiologicallyDerivedProduct",
        "id": f"ct-{order['id']}",
        "identifier": [{"system": ISBT128_SYSTEM, "value": order["coi"]}]
        + [{"system": f"{ISBT128_SYSTEM}.bag", "value": b["bag"].replace(" ", "")} for b in products],
        "productCategory": "cells",
        "productCode": {"text": entry.description if entry else order["product"],
                        **({"coding": [{"system": ISBT128_SYSTEM, "code": code}]} if code else {})},
        "status": "available" if any(b["status"] == "stored" for b in products) else "unavailable",
        "quantity": len(products) or None,
        "processing": processing,
    }
    if collection:
        resource["collection"] = {"collectedDateTime": collection["recorded_at"]}
    if "cryopreservation" in done:
        resource["storage"] = [{"description": products[0]["location"] if products else None, "temperature": -150,
                                "scale": "celsius"}]
    resource = {k: v for k, v in resource.items() if v not in (None, [], {})}
    return json.loads(BiologicallyDerivedProduct.model_validate(resource).model_dump_json(exclude_none=True))
