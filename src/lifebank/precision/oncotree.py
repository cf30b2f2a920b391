"""OncoTree: the tumour-type hierarchy that decides whether evidence is "in this tumour type" (AMP Tier I).

Pure. The release file is cBioPortal's nested JSON (`{"TISSUE": {code, name, mainType, tissue, children}}`).
Evidence recorded for a tumour type applies to every descendant of it: an assertion for `NSCLC` holds for a
`LUAD` tumour, one for `COADREAD` for a `COAD` tumour. Two pseudo-types come from the knowledge bases rather
than from OncoTree: "Any solid tumor" (tumour-agnostic approvals, such as dabrafenib + trametinib for BRAF V600E
since 2022, or pembrolizumab for TMB-high) and "any cancer"; `SOLID_TISSUE_EXCLUDED` names the OncoTree tissues
that are not solid tumours (the haematological ones).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lifebank.errors import ValidationFailed

# OncoTree tissues of haematological (not solid) cancers.
SOLID_TISSUE_EXCLUDED = frozenset({"Myeloid", "Lymphoid"})
ANY_SOLID = "ANY_SOLID"  # pseudo-code for MOAlmanac's "Any solid tumor" (its oncotree_code is empty)
ANY_CANCER = "ANY"


@dataclass(frozen=True, slots=True)
class TumourType:
    code: str
    name: str
    main_type: str | None
    tissue: str | None
    parent: str | None
    level: int
    nci: tuple[str, ...] = ()
    umls: tuple[str, ...] = ()


class OncoTree:
    """The tree of one OncoTree release, indexed by code."""

    def __init__(self, nodes: dict[str, TumourType], version: str,
                 successors: dict[str, str] | None = None) -> None:
        self.nodes = nodes
        self.version = version
        self.successors = successors or {}  # an older release's code -> its code in this release
        self._by_name = {node.name.casefold(): code for code, node in nodes.items()}
        self._by_reference = {(system, ref): code for code, node in nodes.items()
                              for system, refs in (("NCI", node.nci), ("UMLS", node.umls)) for ref in refs}

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and code.upper() in self.nodes

    def get(self, code: str) -> TumourType:
        """The tumour type of `code`, or ValidationFailed naming the code (never a silent fallback)."""
        wanted = code.strip().upper()
        node = self.nodes.get(wanted) or self.nodes.get(self.successors.get(wanted, ""))
        if node is None:
            raise ValidationFailed("unknown OncoTree code {code!r} (OncoTree {version})", code=code,
                                   version=self.version)
        return node

    def ancestors(self, code: str) -> list[str]:
        """`code` and every ancestor up to (not including) the root TISSUE, nearest first."""
        chain: list[str] = []
        node: TumourType | None = self.get(code)
        while node is not None and node.code != "TISSUE":
            chain.append(node.code)
            node = self.nodes.get(node.parent) if node.parent else None
        return chain

    def is_solid(self, code: str) -> bool:
        """A solid tumour: any tissue but the myeloid and lymphoid ones."""
        return self.get(code).tissue not in SOLID_TISSUE_EXCLUDED

    def applies(self, evidence_code: str, tumour_code: str) -> bool:
        """Whether evidence recorded for `evidence_code` applies to a tumour of `tumour_code` (same or ancestor,
        or a tumour-agnostic pseudo-type that covers it)."""
        if evidence_code == ANY_CANCER:
            return True
        if evidence_code == ANY_SOLID:
            return self.is_solid(tumour_code)
        current = evidence_code if evidence_code in self.nodes else self.successors.get(evidence_code, evidence_code)
        return current in self.ancestors(tumour_code)

    def code_for_name(self, name: str) -> str | None:
        """The code whose OncoTree name is `name` (case-insensitive), for knowledge bases that give only names."""
        return self._by_name.get(name.strip().casefold())

    def code_for_reference(self, system: str, code: str) -> str | None:
        """The OncoTree code carrying this NCI Thesaurus (`C3224`) or UMLS (`C0025202`) concept, if any."""
        return self._by_reference.get((system, code.strip().upper()))

    def code_for_diagnosis(self, system: str | None, code: str | None, display: str | None) -> str | None:
        """An OncoTree code for a recorded diagnosis: an OncoTree code itself, an NCI Thesaurus or UMLS concept
        that OncoTree cross-references, or a display text equal to an OncoTree name. None otherwise (ICD-10 and
        SNOMED CT codes have no mapping here)."""
        system_text = (system or "").lower()
        value = (code or "").strip()
        if "oncotree" in system_text and value.upper() in self.nodes:
            return value.upper()
        if ("ncit" in system_text or "nci" in system_text) and (found := self.code_for_reference("NCI", value)):
            return found
        if "umls" in system_text and (found := self.code_for_reference("UMLS", value)):
            return found
        return self.code_for_name(display) if display else None

    def __iter__(self) -> Iterator[TumourType]:
        return iter(self.nodes.values())


def parse_oncotree_json(data: dict[str, Any], version: str) -> OncoTree:
    """Walk cBioPortal's nested tree into a flat index; `parent` is taken from the nesting. Codes of older
    releases (a node's `history`, `revocations` and `precursors`) map to the node that replaced them, so
    evidence recorded under an older code (MOAlmanac's `TALL`, `LEUK`) still finds its place in the tree."""
    nodes: dict[str, TumourType] = {}
    successors: dict[str, str] = {}
    stack: list[tuple[dict[str, Any], str | None, int]] = [(node, None, 0) for node in data.values()]
    while stack:
        node, parent, level = stack.pop()
        code = str(node["code"]).upper()
        refs = node.get("externalReferences") or {}
        nodes[code] = TumourType(code=code, name=str(node.get("name") or code), main_type=node.get("mainType"),
                                 tissue=node.get("tissue"), parent=parent, level=level,
                                 nci=tuple(refs.get("NCI") or ()), umls=tuple(refs.get("UMLS") or ()))
        for old in [*(node.get("history") or ()), *(node.get("revocations") or ()), *(node.get("precursors") or ())]:
            successors.setdefault(str(old).upper(), code)
        for child in (node.get("children") or {}).values():
            stack.append((child, code, level + 1))
    return OncoTree(nodes, version, {old: new for old, new in successors.items() if old not in nodes})


def load_oncotree(path: Path) -> OncoTree:
    """Read a release file `oncotree_YYYY_MM_DD.json`; its version is the date in the name."""
    version = path.stem.removeprefix("oncotree_")
    return parse_oncotree_json(json.loads(path.read_text(encoding="utf-8")), version)
