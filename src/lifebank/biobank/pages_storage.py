"""Storage pages: storage units and their fill, a unit's occupancy, a box map; storage management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from lifebank.auth.service import Principal
from lifebank.biobank import service
from lifebank.web.deps import DbDep
from lifebank.web.templating import render
from lifebank.web.ui import page_requires

router = APIRouter()


@router.get("/storage", response_class=HTMLResponse)
def storage(request: Request, db: DbDep, _p: Annotated[Principal, Depends(page_requires("storage.read"))],
            path: str = "") -> Response:
    if not path:
        roots = service.list_containers(db)
        tops = []
        for root in roots:
            tops.extend(service.list_containers(db, root["path"]) if root["kind"] == "site" else [root])
        units = [service.occupancy(db, c["path"]) for c in tops]
        return render(request, "biobank/storage.html", units=units)
    if service.container_info(db, path)["kind"] == "box":
        grid = service.box_map(db, path)
        return render(request, "biobank/box_map.html", grid=grid, crumbs=_crumbs(path))
    return render(request, "biobank/occupancy.html", occ=service.occupancy(db, path), crumbs=_crumbs(path))


def _crumbs(path: str) -> list[tuple[str, str]]:
    parts = path.split("/")
    return [(part, "/".join(parts[:i + 1])) for i, part in enumerate(parts)]
