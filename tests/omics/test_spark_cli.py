"""`omics af --engine spark` refuses unknown sample IDs before starting Spark, as the embedded engine does."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("backend", ["sqlite"])
def test_spark_engine_refuses_unknown_samples_like_the_embedded_one(db_url: str, tmp_path: Path) -> None:
    subset = tmp_path / "subset.txt"
    subset.write_text("NA99999\n")
    env = {**os.environ, "LIFEBANK_DATABASE_URL": db_url, "LIFEBANK_DATA_DIR": str(tmp_path / "data")}
    answers = [subprocess.run([sys.executable, "-m", "lifebank", "omics", "af", "--region", "22:1-1000", "--samples",
                               str(subset), "--engine", engine], env=env, capture_output=True, text=True, timeout=120)
               for engine in ("embedded", "spark")]
    for answer in answers:
        assert answer.returncode == 1 and "unknown VCF sample(s): NA99999" in answer.stderr, answer.stderr
