"""Where the shared reference data live for tests and benchmarks: `../shared/data` beside the repository.

A developer's or CI's checkout has `shared/` next to it; a user's clone does not, and the tests that need it
skip there. `LIFEBANK_SHARED_DATA` overrides the location.
"""

from __future__ import annotations

import os
from pathlib import Path


def _locate() -> Path:
    if configured := os.environ.get("LIFEBANK_SHARED_DATA"):
        return Path(configured)
    beside_repo = Path(__file__).resolve().parents[2] / "shared" / "data"
    return beside_repo if beside_repo.is_dir() else Path("/work/shared/data")


SHARED_DATA = _locate()
