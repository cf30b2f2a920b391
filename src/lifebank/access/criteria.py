"""The material criteria a requester types (the form and the CLI): the start of a SPREC code and the most
freeze-thaw cycles allowed, checked and normalised before a draft is built. Pure (no database)."""

from __future__ import annotations

from lifebank.errors import ValidationFailed


def sprec_prefix(text: str) -> str | None:
    """The start of a SPREC code the tubes must carry (`ser-sst-a` -> `SER-SST-A`): fields of letters and
    digits joined by hyphens, up to 40 characters; blank means no SPREC criterion."""
    prefix = text.strip().upper()
    if not prefix:
        return None
    if len(prefix) > 40 or not all(part.isalnum() for part in prefix.split("-")):
        raise ValidationFailed("SPREC prefix {value!r}: write the first fields of a SPREC code, such as SER-SST-A",
                               value=text)
    return prefix


def max_freeze_thaw(text: str) -> int | None:
    """The most freeze-thaw cycles a tube may have had: a whole number, 0 or more; blank means no limit."""
    text = text.strip()
    if not text:
        return None
    if not text.isdigit():
        raise ValidationFailed("the most freeze-thaw cycles allowed is a whole number of 0 or more, not {value}",
                               value=text)
    return int(text)
