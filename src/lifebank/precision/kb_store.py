"""Where the knowledge-base files are: the vendored release, or a release loaded into the data folder.

A file-backed store, not database tables, on purpose: every source is a versioned release file (MOAlmanac's
JSON, CIViC's nightly TSVs, the hotspot export, an OncoTree release), a report must record exactly which files
it was interpreted with (their SHA-256 go into the report), and re-interpreting the same inputs with the same
files must give the same report. Copying a release into `<data dir>/precision/kb/<source>/` keeps the files
byte-identical (licences stay next to them) and needs no migration per source format; the database holds
only what changes per tumour (reports, sign-offs) and the ledger records every load.

`load_release(folder)` recognises the source from the file names, parses everything first (all or nothing),
and only then copies the files. Without a loaded release a source falls back to the vendored file under
`lifebank/precision/data/`; CIViC has no vendored file (its bulk TSVs are not available offline).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from lifebank.errors import ValidationFailed
from lifebank.precision.civic import civic_tumour_code, parse_civic_evidence
from lifebank.precision.genes import load_genes
from lifebank.precision.hotspots import load_hotspots
from lifebank.precision.kb import KnowledgeBase
from lifebank.precision.knowledge import ParsedSource, file_digest, load_moalmanac
from lifebank.precision.liftover import Lifter
from lifebank.precision.oncotree import OncoTree, load_oncotree

VENDORED = Path(__file__).parent / "data"
SOURCES = ("moalmanac", "civic", "hotspots", "oncotree")
PATTERNS = {
    "moalmanac": ("molecular-oncology-almanac*.json.gz", "molecular-oncology-almanac*.json"),
    "civic": ("*ClinicalEvidenceSummaries.tsv",),
    "hotspots": ("hotspots_v2_and_3d*.txt", "hotspots_v2_and_3d*.tsv.gz", "*hotspots_v2_and_3d*.tsv.gz"),
    "oncotree": ("oncotree_*.json",),
}


@dataclass(frozen=True)
class SourceFile:
    source: str
    path: Path
    origin: str  # "vendored" | "loaded"
    version: str
    sha256: str
    loaded_at: str | None = None
    loaded_by: str | None = None


def _find(folder: Path, source: str) -> Path | None:
    for pattern in PATTERNS[source]:
        found = sorted(folder.glob(pattern))
        if found:
            return found[-1]
    return None


def store_dir(data_dir: Path) -> Path:
    return data_dir / "precision" / "kb"


def current_files(data_dir: Path | None) -> dict[str, SourceFile]:
    """The file in force for each source: a loaded release, else the vendored one (CIViC: only if loaded)."""
    files: dict[str, SourceFile] = {}
    for source in SOURCES:
        loaded = store_dir(data_dir) / source if data_dir else None
        manifest = loaded / "manifest.json" if loaded else None
        if manifest is not None and manifest.is_file():
            info = json.loads(manifest.read_text())
            files[source] = SourceFile(source, loaded / info["file"], "loaded", info["version"], info["sha256"],
                                       info.get("loaded_at"), info.get("loaded_by"))
            continue
        vendored = _find(VENDORED / source, source) if (VENDORED / source).is_dir() else None
        if vendored is not None:
            files[source] = SourceFile(source, vendored, "vendored", "", file_digest(vendored))
    return files


def _oncotree(files: dict[str, SourceFile]) -> OncoTree:
    return load_oncotree(files["oncotree"].path)


def _parse(source: str, path: Path, oncotree: OncoTree) -> ParsedSource | OncoTree | object:
    if source == "moalmanac":
        return load_moalmanac(path)
    if source == "civic":
        version = path.name.split("-ClinicalEvidenceSummaries")[0] or "nightly"
        return parse_civic_evidence(path.read_text(encoding="utf-8"), version, file_digest(path),
                                    civic_tumour_code(oncotree.code_for_name))
    if source == "hotspots":
        return load_hotspots(path)
    return load_oncotree(path)


def _version(source: str, parsed: object) -> str:
    return str(getattr(parsed, "version", "")) or source


def load_release(folder: Path, data_dir: Path, actor: str) -> list[SourceFile]:
    """Validate every recognised file of `folder`, then copy them into the store. Returns what was loaded."""
    if not folder.is_dir():
        raise ValidationFailed("{folder} is not a folder", folder=str(folder))
    found = {source: path for source in SOURCES if (path := _find(folder, source)) is not None}
    if not found:
        raise ValidationFailed("{folder} holds no knowledge-base release file (MOAlmanac JSON, CIViC "
                               "ClinicalEvidenceSummaries TSV, hotspots export or OncoTree JSON)",
                               folder=str(folder))
    oncotree = load_oncotree(found["oncotree"]) if "oncotree" in found else _oncotree(current_files(data_dir))
    parsed = {source: _parse(source, path, oncotree) for source, path in found.items()}  # all or nothing
    loaded = []
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for source, path in found.items():
        target = store_dir(data_dir) / source
        staging = target.with_name(source + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        shutil.copy2(path, staging / path.name)
        for licence in folder.glob("LICENSE*"):
            shutil.copy2(licence, staging / licence.name)
        info = {"file": path.name, "version": _version(source, parsed[source]), "sha256": file_digest(path),
                "loaded_at": now, "loaded_by": actor, "from": str(folder)}
        (staging / "manifest.json").write_text(json.dumps(info, indent=1))
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        loaded.append(SourceFile(source, target / path.name, "loaded", info["version"], info["sha256"], now, actor))
    build_cached.cache_clear()
    return loaded


def build(data_dir: Path | None) -> KnowledgeBase:
    """The knowledge base from the files in force (parsed and indexed; about a second)."""
    files = current_files(data_dir)
    oncotree = _oncotree(files)
    sources = [p for s in ("moalmanac", "civic") if s in files
               for p in [_parse(s, files[s].path, oncotree)] if isinstance(p, ParsedSource)]
    hotspots = load_hotspots(files["hotspots"].path)
    genes = load_genes(VENDORED / "genes" / "genes_grch38_ncbi.tsv.gz")
    lifter = Lifter(VENDORED / "liftover" / "GRCh37ToGRCh38.primary.chain.gz")
    return KnowledgeBase(oncotree=oncotree, hotspots=hotspots, genes=genes, sources=sources, lifter=lifter)


def fingerprint(data_dir: Path | None) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((s, f.sha256) for s, f in current_files(data_dir).items()))


@lru_cache(maxsize=4)
def build_cached(data_dir: Path | None, stamp: tuple[tuple[str, str], ...]) -> KnowledgeBase:
    return build(data_dir)


def knowledge_base(data_dir: Path | None) -> KnowledgeBase:
    """The knowledge base in force, built once per process and per set of files."""
    return build_cached(data_dir, fingerprint(data_dir))
