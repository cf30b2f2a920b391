"""Use cases of ledger anchoring: write a signed anchor of the head, check a folder of anchors.

Anchoring reads the ledger and writes a file; it appends no ledger event (an event would move the head it
has just signed). Anchor files are created exclusively and never rewritten, so a folder of them only grows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from lifebank.audit.anchors import (
    Anchor,
    AnchorError,
    anchor_mismatch,
    load_private_key,
    load_public_key,
    read_anchor,
    sign_anchor,
)
from lifebank.audit.chain import GENESIS_HASH
from lifebank.audit.models import LedgerEvent, LedgerHead
from lifebank.db.engine import Database
from lifebank.errors import ConfigError, ValidationFailed
from lifebank.messages import Msg

ANCHOR_SUFFIX = ".anchor.json"


def _read_key_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError("cannot read key file {path} ({reason})", path=str(path), reason=exc.strerror) from None


def anchor_head(db: Database, key_file: Path, out_dir: Path) -> tuple[Anchor, Path]:
    """Sign the current head with the private key in `key_file` and write it as a new file in `out_dir`."""
    try:
        key = load_private_key(_read_key_file(key_file))
    except AnchorError as exc:
        raise ConfigError("key file {path}: {reason}", path=str(key_file), reason=exc.message) from None
    with db.session() as session:
        head = session.get(LedgerHead, 1)
        seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    anchored_at = datetime.now(UTC).isoformat(timespec="seconds")
    document = sign_anchor(key, seq, head_hash, anchored_at)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        stamp = anchored_at.replace(":", "").replace("-", "").replace("+0000", "Z")
        path = out_dir / f"ledger-{seq:012d}-{stamp}{ANCHOR_SUFFIX}"
        # "x": never replace an anchor, even one written in the same second by another process.
        with path.open("xb") as handle:
            handle.write(document)
            handle.flush()
            os.fsync(handle.fileno())
    except FileExistsError:
        raise ValidationFailed("an anchor of event #{seq} written at {time} already exists in {folder}",
                               seq=seq, time=anchored_at, folder=str(out_dir)) from None
    except OSError as exc:
        raise ConfigError("cannot write to {folder} ({reason})", folder=str(out_dir), reason=exc.strerror) from None
    return Anchor(seq=seq, hash=head_hash, anchored_at=anchored_at), path


@dataclass(frozen=True, slots=True)
class AnchorProblem:
    """One anchor file that is unusable or that the stored chain contradicts."""

    file: str
    message: Msg


@dataclass(slots=True)
class AnchorReport:
    checked: int = 0
    newest_seq: int | None = None
    problems: list[AnchorProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_anchors(db: Database, anchors_dir: Path, public_key_file: Path) -> AnchorReport:
    """Check every anchor file in `anchors_dir` against the stored chain.

    A folder with no anchor at all is a problem too: `verify --anchors` must never pass vacuously because the
    anchors were not where the operator thought.
    """
    try:
        public_key = load_public_key(_read_key_file(public_key_file))
    except AnchorError as exc:
        raise ConfigError("key file {path}: {reason}", path=str(public_key_file), reason=exc.message) from None
    if not anchors_dir.is_dir():
        raise ConfigError("anchor folder {folder} does not exist", folder=str(anchors_dir))
    report = AnchorReport()
    files = sorted(p for p in anchors_dir.iterdir() if p.name.endswith(ANCHOR_SUFFIX))
    if not files:
        report.problems.append(AnchorProblem(str(anchors_dir), Msg("no anchor file ({suffix}) in this folder",
                                                                   suffix=ANCHOR_SUFFIX)))
        return report
    anchors: list[tuple[Path, Anchor]] = []
    for path in files:
        try:
            anchors.append((path, read_anchor(path.read_bytes(), public_key)))
        except AnchorError as exc:
            report.problems.append(AnchorProblem(path.name, exc.message))
        except OSError as exc:
            report.problems.append(AnchorProblem(path.name, Msg("unreadable ({reason})", reason=exc.strerror)))
    wanted = {a.seq for _, a in anchors if a.seq > 0}
    stored: dict[int, str] = {}
    with db.session() as session:
        ordered = sorted(wanted)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start:start + 500]
            stored.update((seq, digest) for seq, digest in session.execute(
                select(LedgerEvent.seq, LedgerEvent.hash).where(LedgerEvent.seq.in_(chunk))).all())
    for path, anchor in anchors:
        stored_hash = GENESIS_HASH if anchor.seq == 0 else stored.get(anchor.seq)
        problem = anchor_mismatch(anchor, stored_hash)
        if problem is not None:
            report.problems.append(AnchorProblem(path.name, problem))
        report.checked += 1
        report.newest_seq = max(report.newest_seq or 0, anchor.seq)
    return report
