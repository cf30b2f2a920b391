"""Specimen barcodes: a configurable prefix, a zero-padded sequence number and one check character.

The check character is ISO/IEC 7064 MOD 37,36 (the hybrid system over 0-9A-Z): it catches every
single-character substitution and all but about 0.2 % of transpositions of two adjacent characters,
the two errors people make when typing a barcode a scanner could not read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_VALUE = {c: i for i, c in enumerate(ALPHABET)}
_MODULUS = 36

# What any barcode (ours or an external one being imported) may contain: safe in URLs, CSV and Code128.
BARCODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def check_character(payload: str) -> str:
    """ISO 7064 MOD 37,36 check character of `payload` (letters are case-insensitive)."""
    product = _MODULUS
    for char in payload.upper():
        try:
            value = _VALUE[char]
        except KeyError:
            raise ValueError(f"{char!r} cannot be part of a checked barcode (only 0-9 and A-Z)") from None
        total = (product + value) % _MODULUS or _MODULUS
        product = (total * 2) % (_MODULUS + 1)
    return ALPHABET[(_MODULUS + 1 - product) % _MODULUS]


def has_valid_check(barcode: str) -> bool:
    if len(barcode) < 2 or any(c not in _VALUE for c in barcode.upper()):
        return False
    return check_character(barcode[:-1]) == barcode[-1].upper()


def is_acceptable_barcode(barcode: str) -> bool:
    """True for any barcode LifeBank can store and print (external barcodes need no check character)."""
    return bool(BARCODE_PATTERN.match(barcode))


@dataclass(frozen=True, slots=True)
class BarcodeScheme:
    """`prefix` + `width`-digit sequence + check character, e.g. LB0000123 + 'K'."""

    prefix: str = "LB"
    width: int = 9

    def __post_init__(self) -> None:
        if not self.prefix.isalnum() or not self.prefix.isascii():
            raise ValueError(f"barcode prefix {self.prefix!r} must be ASCII letters/digits")
        if not 1 <= self.width <= 18:
            raise ValueError("barcode sequence width must be 1..18 digits")

    def barcode(self, sequence: int) -> str:
        if sequence < 0 or sequence >= 10**self.width:
            raise ValueError(f"sequence {sequence} does not fit in {self.width} digits")
        payload = f"{self.prefix.upper()}{sequence:0{self.width}d}"
        return payload + check_character(payload)

    def sequence_of(self, barcode: str) -> int | None:
        """The sequence number of one of this scheme's barcodes, or None if it is not one (or its check fails)."""
        prefix = self.prefix.upper()
        text = barcode.upper()
        if len(text) != len(prefix) + self.width + 1 or not text.startswith(prefix) or not has_valid_check(text):
            return None
        digits = text[len(prefix):-1]
        return int(digits) if digits.isdigit() else None
