"""Where the knowledge-base files are: the vendored release, or a release loaded into the data folder.

A file-backed store, not database tables, on purpose: every source is a versioned release file (MOAlmanac's
JSON, CIViC's nightly TSVs, the hotspot export, an OncoTree release), a report must record exactly which files
it was interpreted with (their SHA-256 go into the report), and re-interpreting the same inputs with the same
files must give the same report. The files stay byte-identical (licences next to them) and need no migration
per source format.

Crash consistency. A loaded release is a folder `<data dir>/precision/kb/releases/<source>-<digest>/`, named
by the SHA-256 of its files and never modified once written: it is written under `.staging/`, every file and
the folder fsynced, then renamed into place in one step. Which release is in force is not decided here but by
a database row per source (the pointer, `kb_releases.py`), switched in the same transaction that appends the
ledger event; readers resolve through it. A crash therefore leaves the old pointer (the new folder is an
orphan no reader opens) or the new one, never a mix; orphans are swept by the next load, which never removes
a folder a committed release row names (a superseded release stays, so a reader that resolved it a moment
before the switch still finds its files). Without a loaded release a source falls back to the vendored file
under `lifebank/precision/data/`; CIViC has no vendored file (its bulk TSVs are not available offline).

No SQLAlchemy here (a pure module by the import contract): the pointer rows come in as `Loaded` values.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lifebank.errors import ConfigError, ValidationFailed
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
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SourceFile:
    source: str
    path: Path
    origin: str  # "vendored" | "loaded"
    version: str
    sha256: str
    loaded_at: str | None = None
    loaded_by: str | None = None


@dataclass(frozen=True)
class Loaded:
    """A committed pointer: the release folder in force for a source (a database row, read by kb_releases)."""

    source: str
    folder: str
    file: str
    version: str
    sha256: str
    loaded_at: str | None = None
    loaded_by: str | None = None


@dataclass(frozen=True)
class Release:
    """A validated release of one source, ready to be installed: its files and the folder name they get."""

    source: str
    file: Path
    licences: tuple[Path, ...]
    version: str
    sha256: str
    folder: str

    def manifest(self) -> bytes:
        """Deterministic (no load time, no origin path): the same release always makes the same folder."""
        files = {p.name: file_digest(p) for p in (self.file, *self.licences)}
        return json.dumps({"source": self.source, "file": self.file.name, "version": self.version,
                           "sha256": self.sha256, "files": files}, indent=1, sort_keys=True).encode()


def _find(folder: Path, source: str) -> Path | None:
    for pattern in PATTERNS[source]:
        found = sorted(folder.glob(pattern))
        if found:
            return found[-1]
    return None


def store_dir(data_dir: Path) -> Path:
    return data_dir / "precision" / "kb"


def releases_dir(data_dir: Path) -> Path:
    return store_dir(data_dir) / "releases"


def staging_dir(data_dir: Path) -> Path:
    return store_dir(data_dir) / ".staging"


@lru_cache(maxsize=16)
def _vendored_digest(path: Path) -> str:
    return file_digest(path)  # the package's own files do not change while it runs


def vendored_files() -> dict[str, SourceFile]:
    files: dict[str, SourceFile] = {}
    for source in SOURCES:
        vendored = _find(VENDORED / source, source) if (VENDORED / source).is_dir() else None
        if vendored is not None:
            files[source] = SourceFile(source, vendored, "vendored", "", _vendored_digest(vendored))
    return files


def current_files(data_dir: Path | None, loaded: Mapping[str, Loaded] | None = None) -> dict[str, SourceFile]:
    """The file in force for each source: the release its pointer names, else the vendored one (CIViC: only if
    loaded). A pointer whose folder is gone (a data folder restored without it) is refused, never skipped."""
    files = vendored_files()
    if data_dir is None:
        return files
    for source, row in (loaded or {}).items():
        path = releases_dir(data_dir) / row.folder / row.file
        if not path.is_file():
            raise ConfigError("the knowledge-base release {release} in force is missing from {folder}; restore "
                              "the data folder from a backup or load the release again", release=row.folder,
                              folder=str(releases_dir(data_dir)))
        files[source] = SourceFile(source, path, "loaded", row.version, row.sha256, row.loaded_at, row.loaded_by)
    return files


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


def prepare_release(folder: Path, current: Mapping[str, SourceFile]) -> list[Release]:
    """Recognise and validate every release file of `folder` (all or nothing); nothing is written."""
    if not folder.is_dir():
        raise ValidationFailed("{folder} is not a folder", folder=str(folder))
    found = {source: path for source in SOURCES if (path := _find(folder, source)) is not None}
    if not found:
        raise ValidationFailed("{folder} holds no knowledge-base release file (MOAlmanac JSON, CIViC "
                               "ClinicalEvidenceSummaries TSV, hotspots export or OncoTree JSON)",
                               folder=str(folder))
    oncotree = load_oncotree(found.get("oncotree") or current["oncotree"].path)
    parsed = {source: _parse(source, path, oncotree) for source, path in found.items()}
    licences = tuple(sorted(folder.glob("LICENSE*")))
    releases = []
    for source, path in found.items():
        digests = "".join(f"{p.name}\0{file_digest(p)}\n" for p in sorted((path, *licences)))
        name = f"{source}-{hashlib.sha256(digests.encode()).hexdigest()[:20]}"
        releases.append(Release(source, path, licences, _version(source, parsed[source]), file_digest(path), name))
    return releases


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def install(release: Release, data_dir: Path) -> bool:
    """Write the release folder: under `.staging/`, fsynced, then renamed into place (a folder appears whole
    or not at all). A folder of that name already there is the same release (the name is its digest): kept
    as it is. True if this call wrote it."""
    target = releases_dir(data_dir) / release.folder
    if target.is_dir():
        return False
    work = staging_dir(data_dir) / f"{release.folder}.{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    for path in (release.file, *release.licences):
        shutil.copyfile(path, work / path.name)
        _fsync(work / path.name)
    if file_digest(work / release.file.name) != release.sha256:  # the file validated is the file installed
        shutil.rmtree(work)
        raise ValidationFailed("{file} changed while it was being loaded; load the release again",
                               file=str(release.file))
    (work / MANIFEST).write_bytes(release.manifest())
    _fsync(work / MANIFEST)
    _fsync(work)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.rename(work, target)
    _fsync(target.parent)
    return True


def remove(data_dir: Path, folder: str) -> None:
    """Take back a folder this load installed but did not commit."""
    shutil.rmtree(releases_dir(data_dir) / folder, ignore_errors=True)


def sweep(data_dir: Path, committed: set[str]) -> list[str]:
    """Remove what an interrupted load left: its staging work and every release folder no committed row names.
    Run by a load while it holds the writers' turn, so no other load is between its write and its commit."""
    shutil.rmtree(staging_dir(data_dir), ignore_errors=True)
    gone = []
    if releases_dir(data_dir).is_dir():
        for folder in sorted(releases_dir(data_dir).iterdir()):
            if folder.name not in committed:
                if folder.is_dir():
                    shutil.rmtree(folder)
                else:
                    folder.unlink()
                gone.append(folder.name)
    return gone


def build(files: Mapping[str, SourceFile] | None = None) -> KnowledgeBase:
    """The knowledge base from the files given (default: the vendored release; parsed and indexed, ~1 s)."""
    files = vendored_files() if files is None else files
    oncotree = load_oncotree(files["oncotree"].path)
    sources = [p for s in ("moalmanac", "civic") if s in files
               for p in [_parse(s, files[s].path, oncotree)] if isinstance(p, ParsedSource)]
    hotspots = load_hotspots(files["hotspots"].path)
    genes = load_genes(VENDORED / "genes" / "genes_grch38_ncbi.tsv.gz")
    lifter = Lifter(VENDORED / "liftover" / "GRCh37ToGRCh38.primary.chain.gz")
    return KnowledgeBase(oncotree=oncotree, hotspots=hotspots, genes=genes, sources=sources, lifter=lifter)


@lru_cache(maxsize=4)
def _build_cached(key: tuple[tuple[str, Path, str], ...]) -> KnowledgeBase:
    return build({source: SourceFile(source, path, "", "", sha256) for source, path, sha256 in key})


def knowledge_base(files: Mapping[str, SourceFile] | None = None) -> KnowledgeBase:
    """The knowledge base of these files (default: vendored), built once per process and per set of files
    (a loaded release's folder is immutable, so its path and SHA-256 name its content)."""
    files = vendored_files() if files is None else files
    return _build_cached(tuple((s, files[s].path, files[s].sha256) for s in SOURCES if s in files))
