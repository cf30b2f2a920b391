"""ISBT 128 identifiers: the Donation Identification Number (DIN), product codes, divisions and expiry.

Pure: no database, no web framework. The rules follow ICCBBA's ISBT 128 Standard Technical Specification
(ST-001) as far as they are public:

- A DIN is 13 characters: the Facility Identification Number (FIN, 5 characters: A-N, P-Z or 1-9, then
  four digits), the year (2 digits) and a sequence number (6 digits). `O` is never a first character (it
  reads as zero).
- Its check character is ISO/IEC 7064 MOD 37-2 over those 13 characters (values 0-9, A-Z = 10-35, `*` = 36).
  Printed beside the eye-readable DIN in a box; never encoded in the barcode, which carries two *flag*
  characters instead: the checksum + 60 ("77" for the JPAC Red Book example G123 498 654 321 -> 17 -> H).
- Data structures are keyed by data identifiers: `=` + the DIN's first character (Data Structure 001, DIN),
  `=<` (003, product code), `=>` (005, expiration date and time, `cyyjjjhhmm`).
- A product code is the product description code (a letter and four digits; cellular-therapy codes start
  with S), a type-of-donation character and two division characters (`00` for an undivided product; a split
  bag is A0, B0, ... and a further split Aa, Ab ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from lifebank.errors import ValidationFailed

MOD37_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
_VALUE = {c: i for i, c in enumerate(MOD37_ALPHABET)}
FIN_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"  # no O, no 0
_FIN = re.compile(r"^[A-NP-Z1-9][0-9]{4}$")
_DIN13 = re.compile(r"^[A-NP-Z1-9][0-9]{12}$")
_PRODUCT_DESCRIPTION = re.compile(r"^[A-Z][0-9]{4}$")
_DIVISION = re.compile(r"^(00|[A-Z]0|[A-Z][a-z])$")

DI_DIN = "="
DI_PRODUCT = "=<"
DI_EXPIRY = "=>"


def mod37_2(data: str) -> int:
    """ISO/IEC 7064 MOD 37-2 check value (0-36) of `data` (0-9, A-Z; case-insensitive).

    The pure system with radix 2: iterate p = (p + v) * 2 mod 37, the check value makes the weighted sum 1.
    It detects every single substitution and every adjacent transposition, the two keying errors at a desk.
    """
    total = 0
    for char in data.upper():
        value = _VALUE.get(char)
        if value is None or value == 36:
            raise ValueError(f"{char!r} cannot be part of a DIN (only 0-9 and A-Z)")
        total = ((total + value) * 2) % 37
    return (38 - total) % 37


def check_character(din13: str) -> str:
    """The eye-readable check character printed in a box after the DIN."""
    return MOD37_ALPHABET[mod37_2(din13)]


def flag_characters(din13: str) -> str:
    """The two flag characters a barcode carries for the check: the check value + 60 ("77" for 17)."""
    return f"{mod37_2(din13) + 60:02d}"


@dataclass(frozen=True, slots=True)
class Din:
    """A parsed DIN: its facility, year and sequence; `check` is the boxed character, `flags` the barcode's."""

    fin: str
    year: str
    sequence: str

    @property
    def text(self) -> str:
        return f"{self.fin}{self.year}{self.sequence}"

    @property
    def check(self) -> str:
        return check_character(self.text)

    @property
    def flags(self) -> str:
        return flag_characters(self.text)

    @property
    def eye_readable(self) -> str:
        """'G1234 98 654321' - the groups as printed (the check character is drawn in its own box)."""
        return f"{self.fin} {self.year} {self.sequence}"

    @property
    def barcode_data(self) -> str:
        """Data Structure 001 as encoded in the symbol: '=' + DIN + flags."""
        return f"{DI_DIN}{self.text}{self.flags}"


def parse_din(value: str) -> Din:
    """A DIN from its 13 characters, optionally followed by its check character (14) or flags (15).

    A '=' data identifier and spaces are tolerated (a scanner's output, an eye-readable copy). A wrong check
    character or wrong flags is refused: that is a mistyped or misread DIN.
    """
    text = value.strip().replace(" ", "").upper()
    if text.startswith(DI_DIN):
        text = text[1:]
    if len(text) < 13 or len(text) > 15:
        raise ValidationFailed("DIN {din} must have 13 characters (14 with its check character, 15 with "
                               "flags); it has {n}", din=value, n=len(text))
    core, extra = text[:13], text[13:]
    if not _DIN13.match(core):
        raise ValidationFailed("DIN {din} is not a facility code (A-N, P-Z or 1-9 and four digits), a year "
                               "and a six-digit sequence", din=value)
    din = Din(core[:5], core[5:7], core[7:])
    if len(extra) == 1 and extra != din.check:
        raise ValidationFailed("DIN {din}: check character {given} is wrong (expected {expected})", din=value,
                               given=extra, expected=din.check)
    if len(extra) == 2 and extra != din.flags:
        raise ValidationFailed("DIN {din}: flag characters {given} are wrong (expected {expected})", din=value,
                               given=extra, expected=din.flags)
    return din


def check_din(value: str) -> dict[str, object]:
    """What `lifebank celltherapy din check` answers: the DIN, valid or not, its check character and flags."""
    text = value.strip().replace(" ", "").upper().removeprefix(DI_DIN)
    try:
        din = parse_din(value)
    except ValidationFailed as exc:
        core = text[:13]
        computable = bool(_DIN13.match(core))
        return {"din": core or text, "valid": False, "check_character": check_character(core) if computable
                else None, "flags": flag_characters(core) if computable else None, "reason": exc.message}
    return {"din": din.text, "valid": True, "check_character": din.check, "flags": din.flags,
            "eye_readable": din.eye_readable}


def make_din(fin: str, year: int, sequence: int) -> Din:
    """The DIN a facility assigns: its FIN, the two-digit year, a six-digit sequence."""
    fin = fin.strip().upper()
    if not _FIN.match(fin):
        raise ValidationFailed("facility identification number {fin} must be a letter A-N, P-Z or a digit "
                               "1-9 followed by four digits", fin=fin)
    if not 0 <= sequence <= 999_999:
        raise ValidationFailed("DIN sequence {sequence} does not fit in six digits", sequence=sequence)
    return Din(fin, f"{year % 100:02d}", f"{sequence:06d}")


@dataclass(frozen=True, slots=True)
class ProductCode:
    """Data Structure 003: product description code, type of donation, division."""

    description_code: str
    donation_type: str = "0"
    division: str = "00"

    def __post_init__(self) -> None:
        if not _PRODUCT_DESCRIPTION.match(self.description_code):
            raise ValidationFailed("product description code {code} must be a letter and four digits",
                                   code=self.description_code)
        if len(self.donation_type) != 1 or not self.donation_type.isalnum():
            raise ValidationFailed("type of donation {value} must be one letter or digit", value=self.donation_type)
        if not _DIVISION.match(self.division):
            raise ValidationFailed("division {division} must be 00, A0-Z0 or a lower-case subdivision such as "
                                   "Aa", division=self.division)

    @property
    def text(self) -> str:
        return f"{self.description_code}{self.donation_type}{self.division}"

    @property
    def barcode_data(self) -> str:
        return f"{DI_PRODUCT}{self.text}"


def parse_product_code(value: str) -> ProductCode:
    """'S1234000' or '=<S1234000' -> its parts."""
    text = value.strip().removeprefix(DI_PRODUCT)
    if len(text) != 8:
        raise ValidationFailed("product code {code} must have 8 characters (description code, type of "
                               "donation, division)", code=value)
    return ProductCode(text[:5], text[5], text[6:])


def divisions(count: int, parent: str = "00") -> list[str]:
    """Division codes for splitting one product into `count` bags: A0, B0, ... (or Aa, Ab, ... of A0)."""
    if not 1 <= count <= 26:
        raise ValidationFailed("a product can be divided into 1 to 26 bags, not {count}", count=count)
    if parent == "00":
        return [f"{chr(65 + i)}0" for i in range(count)]
    if not re.match(r"^[A-Z]0$", parent):
        raise ValidationFailed("division {division} cannot be divided further", division=parent)
    return [f"{parent[0]}{chr(97 + i)}" for i in range(count)]


def expiry_data(when: datetime) -> str:
    """Data Structure 005: '=>' + c yy jjj hh mm (century digit, 0 for 2000-2099; year, day of year, UTC hour
    and minute)."""
    moment = when.astimezone(UTC)
    century = str(moment.year // 100 - 20)
    return f"{DI_EXPIRY}{century}{moment.year % 100:02d}{moment.timetuple().tm_yday:03d}{moment:%H%M}"


def parse_expiry(value: str) -> datetime:
    text = value.strip().removeprefix(DI_EXPIRY)
    if not re.match(r"^[0-9]{10}$", text):
        raise ValidationFailed("expiry {value} must be cyyjjjhhmm", value=value)
    year = 2000 + 100 * int(text[0]) + int(text[1:3])  # c = 0 for 2000-2099, as expiry_data writes it
    start = datetime(year, 1, 1, int(text[6:8]), int(text[8:10]), tzinfo=UTC)
    return start + timedelta(days=int(text[3:6]) - 1)


def expiry_of(start: datetime, shelf_life_hours: float) -> datetime:
    """When a product expires: its processing (or thaw) time plus the shelf life its product code allows."""
    return start + timedelta(hours=shelf_life_hours)


def parse_bag(value: str) -> tuple[Din, ProductCode]:
    """A scanned or typed bag identity: its DIN and its product code (with the division).

    Accepts what a scanner sends for the two Code 128 symbols read in one pass ('=A99992500000185=<X00020A0'),
    the eye-readable text ('A9999 25 000001 P X00020A0') and 'DIN-PRODUCTCODE'. A DIN whose check character or
    flags are wrong is refused: it was misread.
    """
    text = value.strip().replace(" ", "").replace("-", "")
    if DI_PRODUCT in text:
        din_part, _, product_part = text.partition(DI_PRODUCT)
    else:
        din_part, product_part = text[:-8], text[-8:]
    if not din_part or len(product_part) != 8:
        raise ValidationFailed("{value} is not a bag identity (DIN followed by its product code)", value=value)
    return parse_din(din_part), parse_product_code(product_part)


def bag_text(din: str, product_code: str) -> str:
    """The bag identity as typed and shown: DIN, check character, product code ('A999925000001P X00020A0')."""
    return f"{din}{check_character(din)} {product_code}"
