"""The access domain's use cases, one module per thing a user does; this module only re-exports them.

- `requests` - create, read, list, documents, withdraw, resubmit;
- `consent_check` - consent matching of every candidate, feasibility counts;
- `review` - the access committee, votes and comments, the signed agreement, closing;
- `fulfilment` - allocation and reservation, the pick list and job file, scan to confirm;
- `shipment` - HGR approval, dispatch, receipt, returns and destruction;
- `hgr` - the annual HGR report.

Every state change runs in one `db.transaction()` with its ledger event (`_common.move`).
"""

from __future__ import annotations

from lifebank.access.consent_check import CheckResult, check_request, feasibility
from lifebank.access.fulfilment import allocate, pick_list, progress, scan
from lifebank.access.hgr import render_report
from lifebank.access.requests import (
    Item,
    RequestDraft,
    add_document,
    count_open,
    create_request,
    document_content,
    list_requests,
    request_view,
    resubmit_request,
    withdraw_request,
)
from lifebank.access.review import add_comment, appoint_committee, cast_vote, close_request, sign_agreement
from lifebank.access.shipment import manifest_rows, receive, record_hgr_approval, record_return, ship, shipments

__all__ = ["CheckResult", "Item", "RequestDraft", "add_comment", "add_document", "allocate", "appoint_committee",
           "cast_vote", "check_request", "close_request", "count_open", "create_request", "document_content",
           "feasibility", "list_requests", "manifest_rows", "pick_list", "progress", "receive",
           "record_hgr_approval", "record_return", "render_report", "request_view", "resubmit_request", "scan",
           "ship", "shipments", "sign_agreement", "withdraw_request"]
