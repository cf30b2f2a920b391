"""The pure rule modules import neither SQLAlchemy nor FastAPI, so they can be fuzzed and benchmarked alone."""

from __future__ import annotations

import subprocess
import sys

PURE = ["sprec", "barcode", "storage_layout", "placement", "specimen_types", "duo"]


def test_pure_modules_stay_pure():
    code = ("import sys\n" + "".join(f"import lifebank.biobank.{m}\n" for m in PURE)
            + "bad = [m for m in ('sqlalchemy', 'fastapi', 'starlette') if m in sys.modules]\nprint(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
