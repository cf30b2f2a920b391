"""The therapy products LifeBank orchestrates and what each requires: temperature ranges, QC specifications,
product-specific fields and the planned vein-to-vein timeline. Pure: no I/O.

The figures are the usual ones of commercial autologous CAR-T and of cord-blood banking (FACT-JACIE,
NetCord-FACT); a centre adjusts them to its own product's specification in this one table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lifebank.errors import ValidationFailed
from lifebank.messages import N_, register_labels


@dataclass(frozen=True, slots=True)
class QcSpec:
    """One release test and its specification: `negative`, or a number within [minimum, maximum]."""

    test: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    negative: bool = False

    def describe(self) -> str:
        if self.negative:
            return "negative"
        if self.minimum is not None and self.maximum is not None:
            return f"{self.minimum:g}-{self.maximum:g} {self.unit}".strip()
        if self.minimum is not None:
            return f">= {self.minimum:g} {self.unit}".strip()
        return f"<= {self.maximum:g} {self.unit}".strip()

    def passes(self, value: str | float) -> bool:
        if self.negative:
            return str(value).strip().lower() == "negative"
        number = float(value)
        return (self.minimum is None or number >= self.minimum) and (self.maximum is None or number <= self.maximum)


@dataclass(frozen=True, slots=True)
class Product:
    """A therapy product: autologous or not, its shipping ranges (°C), QC specification and timeline."""

    code: str
    autologous: bool
    fresh_range: tuple[float, float]  # starting material on its way to manufacturing
    frozen_range: tuple[float, float]  # cryopreserved product on its way to the treatment centre (LN2 vapour)
    qc: tuple[QcSpec, ...]
    collection_fields: tuple[str, ...]
    manufacturing_fields: tuple[str, ...]
    post_thaw_hours: float  # infuse within this long after thawing
    specimen_type: str  # the biobank specimen type a cryopreserved bag is registered as
    bag_quantity: str  # the cryopreservation field that is the specimen's quantity (in that type's unit)
    planned_days: dict[str, int] = field(default_factory=dict)  # step -> days after collection


_COMMON_QC = (
    QcSpec("sterility", negative=True),
    QcSpec("mycoplasma", negative=True),
    QcSpec("endotoxin", "EU/mL", maximum=5.0),
    QcSpec("viability", "%", minimum=70.0, maximum=100.0),
)

PRODUCTS: dict[str, Product] = {p.code: p for p in (
    Product(
        "car-t", True, (2.0, 8.0), (-196.0, -150.0),
        _COMMON_QC + (QcSpec("cd3_percent", "%", minimum=80.0, maximum=100.0),
                      QcSpec("car_percent", "%", minimum=10.0, maximum=100.0),
                      QcSpec("potency", "pg/mL IFN-γ", minimum=100.0)),
        ("volume_ml", "tnc_e9", "cd3_e9"),
        ("batch_record", "activation", "vector_lot", "transduction", "expansion_days"),
        post_thaw_hours=3.0,
        specimen_type="CEL", bag_quantity="cells_e6",  # viable mononuclear cells, counted in 10^6 cells
        planned_days={"collection": 0, "packaging": 0, "shipment-to-manufacturing": 0,
                      "receipt-at-manufacturing": 1, "manufacturing": 2, "qc-release": 14, "cryopreservation": 14,
                      "shipment-to-centre": 17, "receipt-at-centre": 18, "thaw": 21, "bedside-verification": 21,
                      "infusion": 21},
    ),
    Product(
        "hpc-cord", False, (15.0, 25.0), (-196.0, -150.0),
        _COMMON_QC + (QcSpec("cd34_e6", "x10^6", minimum=1.0), QcSpec("potency", "CFU per 10^5", minimum=10.0)),
        ("volume_ml", "tnc_e9"),
        ("batch_record", "processing_method"),
        post_thaw_hours=4.0,
        specimen_type="CRD", bag_quantity="volume_ml",  # cord blood, in mL
        planned_days={"collection": 0, "packaging": 0, "shipment-to-manufacturing": 0,
                      "receipt-at-manufacturing": 1, "manufacturing": 1, "qc-release": 7, "cryopreservation": 7,
                      "shipment-to-centre": 30, "receipt-at-centre": 31, "thaw": 33, "bedside-verification": 33,
                      "infusion": 33},
    ),
)}

register_labels("celltherapy_product", {
    "car-t": N_("Autologous CAR-T cells"),
    "hpc-cord": N_("Allogeneic HPC, cord blood"),
})


def product(code: str) -> Product:
    """The product of a code, or a message naming the products there are."""
    try:
        return PRODUCTS[code.strip().lower()]
    except KeyError:
        raise ValidationFailed("unknown product {product}; products: {allowed}", product=code,
                               allowed=", ".join(PRODUCTS)) from None
