"""`BatchRef`: one committed batch as the catalogue lists it (a module of its own so that one-shot reads, which
import neither pyarrow nor DuckDB, can name it; `lifebank.omics.queries` re-exports it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BatchRef:
    """One committed batch as the catalogue knows it."""

    dataset: str
    batch: int
    chroms: tuple[str, ...]
