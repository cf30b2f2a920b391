"""Validate one FHIR resource with `fhir.resources` R4B, reusing the validation of repeated elements.

Pure. Validation is most of an import's work: `fhir.resources` builds a pydantic model for every element of a
resource, and its element checks (`fhir_core`'s null-element, required-primitive and choice-type validators) run
in Python, about 100-200 µs a resource. Clinical exports repeat most of their elements verbatim — the same
`code`, `category`, `class`, `clinicalStatus`, unit, the same patient's `subject` in every resource — so the
element validator (`fhir_core.types.FhirBase.fhir_model_validator`, which turns one element's dict into its
model) is wrapped with a bounded memo: an element dict with the same `repr` as one that already validated into
the same model class gets that model back. `validate` takes JSON data (what `json.loads` gives: dicts, lists,
str, int, float, bool, None), whose `repr` is exact — `1`, `1.0`, `True` and `'1'` stay apart, strings are
quoted and escaped, floats round-trip — so equal keys are equal elements (keys in another order merely miss).

The answer is the library's own: the element validator is a function of (model class, element) only (no
validation context reaches it), only *successful* validations are remembered, and every resource still goes
through its model's full validation, so anything `fhir.resources` rejects is rejected with its own error
(`tests/clinical/test_pure_rules.py` checks mutated resources give the same errors with and without the memo).
The memo serves this module's `validate` only (other domains' calls to the library pass straight through). If a
`fhir_core` release moves that validator, the wrapper is not installed and validation simply runs
unmemoised (`MEMO_INSTALLED` says which; a test asserts it).
"""

from __future__ import annotations

import threading
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

MEMO_ENTRIES = 50_000  # per process; an element's key and model are a few KB at most
_memo: dict[tuple[Any, Any, str], Any] = {}
_lock = threading.Lock()
_inside = threading.local()  # the memo serves `validate` only: other domains' fhir.resources calls pass through
MEMO_INSTALLED = False
_memo_enabled = True


def _install() -> bool:
    try:
        from fhir_core import types as fhir_types
    except ImportError:
        return False
    base = getattr(fhir_types, "FhirBase", None)
    method = base.__dict__.get("fhir_model_validator") if base is not None else None
    if not isinstance(method, classmethod):
        return False
    plain = method.__func__

    def memoised(cls: Any, value: Any, model_klass: Any) -> Any:
        if type(value) is not dict or not _memo_enabled or not getattr(_inside, "active", False):
            return plain(cls, value, model_klass)
        key = (cls, model_klass, repr(value))
        model = _memo.get(key)
        if model is None:
            model = plain(cls, value, model_klass)  # raises on a bad element: nothing remembered
            with _lock:
                if len(_memo) >= MEMO_ENTRIES:
                    _memo.clear()
                _memo[key] = model
        return model

    base.fhir_model_validator = classmethod(memoised)
    return True


MEMO_INSTALLED = _install()


def validate(rtype: str, resource: dict[str, Any]) -> None:
    """Validate `resource` with its R4B model; raises pydantic's ValidationError as the library does."""
    _inside.active = True
    try:
        get_fhir_model_class(rtype).model_validate(resource)
    finally:
        _inside.active = False


def set_memo(enabled: bool) -> None:
    """Turn the element memo on or off (tests compare both); off also forgets what it remembered."""
    global _memo_enabled
    _memo_enabled = enabled
    with _lock:
        _memo.clear()
