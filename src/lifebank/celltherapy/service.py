"""The cell-therapy use cases, one module per thing a user does; this module only gathers them.

- `orders` - `create_order`, `get_order`, `list_orders`, consent checks;
- `signatures` - `sign`: re-authentication for an electronic signature;
- `steps` - `record_step`: the chain of custody;
- `shipments` - `import_trace`: logger traces and excursions;
- `scheduling` - `define_slot`, `list_slots`, `book_apheresis`, the vein-to-vein timeline;
- `catalogue` - the customer's ISBT 128 product-code table;
- `views` - `chain_view` (the whole chain), `fhir_product` (FHIR BiologicallyDerivedProduct);
- `labelling` - `bag_labels`: ISBT 128 bag labels as PDF or ZPL.
"""

from __future__ import annotations

from lifebank.celltherapy.catalogue import list_product_codes, load_product_codes
from lifebank.celltherapy.orders import create_order, get_order, list_orders
from lifebank.celltherapy.scheduling import book_apheresis, define_slot, list_slots
from lifebank.celltherapy.shipments import import_trace
from lifebank.celltherapy.signatures import SignedBy, sign
from lifebank.celltherapy.steps import record_step
from lifebank.celltherapy.views import chain_view, fhir_product

__all__ = ["SignedBy", "book_apheresis", "chain_view", "create_order", "define_slot", "fhir_product", "get_order",
           "import_trace", "list_orders", "list_product_codes", "list_slots", "load_product_codes", "record_step",
           "sign"]
