"""Find anything: the header's one search box (typed, pasted or scanned) jumps straight to the object.

A technician scans a tube with a USB barcode scanner (keystrokes + Enter, i.e. a form submit) or types a
participant code, an HLA donor id or a storage path such as `ZJ/FRZ-01/R01/BOX-1`; one match redirects to
that object's page, several give a short list, none says so on the page. Each domain contributes a
`<domain>/find.py` with `find(db, text, principal) -> list[Hit]`, returning only what that principal may open
(the platform never guesses another domain's permissions); this module collects them through
`lifebank.domains.domain_modules("find")`, so a new domain plugs in without editing shared code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from lifebank.domains import domain_modules
from lifebank.messages import N_, register_labels
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import PagePrincipal

if TYPE_CHECKING:
    from lifebank.auth.service import Principal
    from lifebank.db.engine import Database

router = APIRouter(include_in_schema=False)

# A scanner or a paste never carries more; longer input is not an identifier, so it is not looked up at all.
MAX_QUERY = 200

register_labels("find_kind", {
    "specimen": N_("Specimen"),
    "participant": N_("Participant"),
    "container": N_("Storage"),
    "position": N_("Storage position"),
    "donor": N_("HLA donor"),
})


@dataclass(frozen=True, slots=True)
class Hit:
    """One object the search text names: what to show, where its page is, and what kind of thing it is."""

    label: str  # the identifier as stored (a barcode, a code, a path); data, not a sentence
    url: str
    kind: str  # a `find_kind` code: specimen, participant, container, position, donor


class Finder(Protocol):
    def __call__(self, db: Database, text: str, principal: Principal) -> list[Hit]: ...


def clean_query(raw: str) -> str:
    """What a scanner or a paste sends, as an identifier: surrounding blanks and control characters gone
    (scanners may add a tab or a carriage return), inner spaces kept (storage names contain them)."""
    text = "".join(ch for ch in raw if ch.isprintable())
    return text.strip()


def find_everywhere(db: Database, text: str, principal: Principal,
                    finders: Iterable[Finder] | None = None) -> list[Hit]:
    """Every domain's hits for `text`, in domain order, without duplicates."""
    text = clean_query(text)
    if not text or len(text) > MAX_QUERY:
        return []
    if finders is None:
        finders = [module.find for module in domain_modules("find") if hasattr(module, "find")]
    hits: list[Hit] = []
    for finder in finders:
        for hit in finder(db, text, principal):
            if hit not in hits:
                hits.append(hit)
    return hits


@router.get("/find", response_class=HTMLResponse)
def find_page(request: Request, db: DbDep, principal: PagePrincipal, q: str = "") -> Response:
    """One hit: 303 to its page. Several: the list. None (or an empty box): said on the page, status 200."""
    text = clean_query(q)
    hits = find_everywhere(db, text, principal)
    if len(hits) == 1:
        return RedirectResponse(hits[0].url, status_code=303)
    return render(request, "find.html", find_query=text, hits=hits)


__all__ = ["MAX_QUERY", "Hit", "clean_query", "find_everywhere", "router"]
