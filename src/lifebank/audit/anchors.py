"""Signed anchors of the ledger head (pure: bytes in, bytes out, no files, no database).

The hash chain (`chain.py`) catches an edit made by someone who cannot recompute hashes. Whoever can write
the database can: rewrite an event, recompute every later hash and the head, and `audit verify` passes.
An anchor closes that gap. It is the head (`seq`, `hash`) at one moment, signed with an Ed25519 key that is
kept outside the database, and shipped by the operator somewhere the database's writers cannot reach
(another host, WORM storage, a printed page). Later, each anchor is checked against the stored chain:

- a signature that does not verify means the anchor file itself was forged or edited;
- an anchored `seq` beyond the last stored event means events were cut off the end;
- a stored event at `seq` whose hash differs from the anchored one means the chain was rewritten from that
  point or earlier, however consistently the rewriter recomputed the later hashes.

What an anchor cannot see: a rewrite of events appended after the newest anchor. Anchor often.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lifebank.audit.chain import canonical_json
from lifebank.messages import Msg

ANCHOR_FORMAT = "lifebank-ledger-anchor/1"


class AnchorError(Exception):
    """A key or an anchor file that cannot be used; carries a catalogue message."""

    def __init__(self, message: Msg) -> None:
        self.message = message
        super().__init__(str(message))


@dataclass(frozen=True, slots=True)
class Anchor:
    """A verified anchor: the chain head it vouches for."""

    seq: int
    hash: str
    anchored_at: str


def new_private_key_pem() -> bytes:
    """A fresh Ed25519 key as unencrypted PKCS#8 PEM (the operator protects the file, mode 0600)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_key_pem(private_pem: bytes) -> bytes:
    """The SubjectPublicKeyInfo PEM of a private key: what `audit verify` needs, safe to hand out."""
    return load_private_key(private_pem).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise AnchorError(Msg("not an unencrypted PKCS#8 PEM private key")) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorError(Msg("the private key is not an Ed25519 key"))
    return key


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise AnchorError(Msg("not a SubjectPublicKeyInfo PEM public key")) from None
    if not isinstance(key, Ed25519PublicKey):
        raise AnchorError(Msg("the public key is not an Ed25519 key"))
    return key


def _signed_part(seq: int, head_hash: str, anchored_at: str) -> bytes:
    return canonical_json({"format": ANCHOR_FORMAT, "seq": seq, "hash": head_hash, "anchored_at": anchored_at})


def sign_anchor(private_key: Ed25519PrivateKey, seq: int, head_hash: str, anchored_at: str) -> bytes:
    """The anchor document (JSON, one object): the signed fields and the base64 signature over their
    canonical encoding, so any JSON reformatting of the file in transit does not invalidate it."""
    signature = private_key.sign(_signed_part(seq, head_hash, anchored_at))
    document = {"format": ANCHOR_FORMAT, "seq": seq, "hash": head_hash, "anchored_at": anchored_at,
                "signature": base64.b64encode(signature).decode("ascii")}
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()


def read_anchor(document: bytes, public_key: Ed25519PublicKey) -> Anchor:
    """Parse an anchor document and verify its signature; `AnchorError` says what is wrong with it."""
    try:
        data = json.loads(document)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise AnchorError(Msg("not a JSON document")) from None
    if not isinstance(data, dict) or data.get("format") != ANCHOR_FORMAT:
        raise AnchorError(Msg("not a LifeBank ledger anchor ({format} expected)", format=ANCHOR_FORMAT))
    seq, head_hash, anchored_at, signature = (data.get(k) for k in ("seq", "hash", "anchored_at", "signature"))
    if (not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(head_hash, str)
            or not isinstance(anchored_at, str) or not isinstance(signature, str)):
        raise AnchorError(Msg("a field is missing or has the wrong type (seq, hash, anchored_at, signature)"))
    try:
        raw_signature = base64.b64decode(signature, validate=True)
        public_key.verify(raw_signature, _signed_part(seq, head_hash, anchored_at))
    except (ValueError, InvalidSignature):
        raise AnchorError(Msg("the signature does not verify with this public key: forged or edited anchor")) from None
    return Anchor(seq=seq, hash=head_hash, anchored_at=anchored_at)


def anchor_mismatch(anchor: Anchor, stored_hash: str | None) -> Msg | None:
    """Why the stored chain contradicts a verified anchor, or None when it agrees."""
    if stored_hash is None:
        return Msg("the anchored event #{seq} is no longer in the ledger: events were removed", seq=anchor.seq)
    if stored_hash != anchor.hash:
        return Msg("event #{seq} differs from its anchor of {anchored_at}: the ledger was rewritten",
                   seq=anchor.seq, anchored_at=anchor.anchored_at)
    return None
