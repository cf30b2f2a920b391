"""The patient's second identifier (date of birth or hospital MRN), encrypted at rest.

The pseudonymous participant code is the biobank's and travels on labels; the second identifier exists only
in this domain, only to be compared at the bedside, so it is stored as AES-256-GCM ciphertext. The key is
derived (HKDF-SHA256) from the platform's one secret, `LIFEBANK_SECRET_KEY` (`Settings.effective_secret_key`,
generated into the data folder when unset): no second secret to manage, and a database copied without the key
holds no readable identifier. The order's COI is the associated data, so a ciphertext copied onto another
order no longer decrypts - a swap is detected, not silently believed. Changing the secret key makes stored
identifiers unreadable: docs/celltherapy.md says so. The standard library has no authenticated cipher; the
`cryptography` package (PyCA, audited, wheels for every platform) provides AES-GCM and HKDF.
"""

from __future__ import annotations

import base64
import os
import re
from datetime import date

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from lifebank.errors import ConfigError, ValidationFailed

KINDS = ("dob", "mrn")
_MRN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
_VERSION = "v1"


def identity_key(secret: str) -> bytes:
    """The 256-bit identity key derived from the platform secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"lifebank-celltherapy",
                info=b"patient second identifier v1").derive(secret.encode())


def normalise(kind: str, value: str) -> str:
    """A DOB as YYYY-MM-DD, an MRN trimmed and upper-cased: what is stored and what a scan is compared with."""
    text = value.strip()
    if kind == "dob":
        try:
            born = date.fromisoformat(text)
        except ValueError:
            raise ValidationFailed("date of birth {value!r} is not a date (YYYY-MM-DD)", value=value) from None
        if born > date.today() or born.year < 1900:
            raise ValidationFailed("date of birth {value} is not plausible", value=text)
        return born.isoformat()
    if kind == "mrn":
        if not _MRN.match(text):
            raise ValidationFailed("MRN {value!r} must be 1-40 letters, digits or . _ / -", value=value)
        return text.upper()
    raise ValidationFailed("identifier kind {kind} is not one of {allowed}", kind=kind, allowed=", ".join(KINDS))


def seal(key: bytes, coi: str, kind: str, value: str) -> str:
    """'v1:' + base64(nonce + ciphertext) of the normalised value, bound to the COI."""
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, normalise(kind, value).encode(), f"{coi}|{kind}".encode())
    return f"{_VERSION}:" + base64.b64encode(nonce + sealed).decode()


def unseal(key: bytes, coi: str, kind: str, token: str) -> str:
    """The stored identifier; a wrong key or a ciphertext moved from another order is a configuration error."""
    version, _, payload = token.partition(":")
    raw = base64.b64decode(payload) if version == _VERSION else b""
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], f"{coi}|{kind}".encode()).decode()
    except (InvalidTag, ValueError):
        raise ConfigError("the patient identifier of order {coi} cannot be decrypted (was LIFEBANK_SECRET_KEY "
                          "changed, or the record altered?)", coi=coi) from None
