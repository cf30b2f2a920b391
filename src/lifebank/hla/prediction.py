"""Use cases of match prediction: load and list haplotype frequency sets, impute typings, predict a pair.

Sets: the vendored NMDP 2007 API and EUR sets are built in (read from `data/`, never stored); others are loaded
with `lifebank hla frequencies load` into `hla_frequency_set`/`hla_haplotype` (one transaction, one ledger
event). Which set imputes a person (`set_for`): the set loaded for the donor's registry, else the set of the
person's population, else the default (`NMDP-2007-API`: a Shanghai bank's donors are East Asian). When the
chosen set explains no genotype of a typing (an allele it never saw), the other sets are tried in order (the
default first); if none explains it the typing is *unrepresented* and its probabilities are unknown (None), which
every answer says rather than guessing. `--frequencies NAME` (predict) uses exactly that set, with no fallback.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select

from lifebank.audit import service as ledger
from lifebank.db.engine import Database
from lifebank.errors import Conflict, NotFound, RowError, RowsRejected, ValidationFailed
from lifebank.hla import service
from lifebank.hla.frequencies import (
    DEFAULT_SET,
    VENDORED_SETS,
    FrequencyFileError,
    FrequencySet,
    choose_set,
    parse_frequencies,
    vendored_set,
)
from lifebank.hla.imputation import CLASSES, Imputation, Imputer
from lifebank.hla.index import SearchIndex
from lifebank.hla.match_probability import PREDICTED_LOCI, TEN_LOCI, as_dict, batch_probabilities
from lifebank.hla.models import HLA_COLUMNS, Donor, FrequencySetRow, HaplotypeRow
from lifebank.hla.registry_imputation import ImputedRegistry
from lifebank.hla.typing import LocusTyping
from lifebank.messages import Msg

CHUNK = 5000
_lock = threading.Lock()
_imputers: dict[tuple[str, int, int], Imputer] = {}  # (set name, nomenclature, configuration change) -> imputer
_sets: dict[str, FrequencySet] = {}


def _set_row(row: FrequencySetRow) -> dict[str, Any]:
    return {"name": row.name, "population": row.population, "resolution": row.resolution,
            "loci": row.loci.split("~"), "haplotypes": row.haplotype_count, "total": row.total,
            "registries": [r for r in row.registries.split(",") if r], "source": row.source, "builtin": False,
            "default": row.name == DEFAULT_SET}


def _builtin(name: str) -> dict[str, Any]:
    fset = vendored_set(name)
    return {"name": name, "population": fset.population, "resolution": fset.resolution, "loci": list(fset.loci),
            "haplotypes": len(fset), "total": round(fset.total, 6), "registries": list(fset.registries),
            "source": fset.source, "builtin": True, "default": name == DEFAULT_SET}


def list_sets(db: Database) -> list[dict[str, Any]]:
    """Built-in sets first, then loaded sets in load order."""
    with db.session() as session:
        rows = session.execute(select(FrequencySetRow).order_by(FrequencySetRow.id)).scalars().all()
        loaded = [_set_row(r) for r in rows]
    return [_builtin(name) for name in VENDORED_SETS] + loaded


def load_set(db: Database, path: Path, *, name: str, population: str | None = None,
             registries: Sequence[str] = (), actor: str) -> dict[str, Any]:
    """Validate a whole frequency file (every bad line listed), check its names against the release in use, and
    store it in one transaction with one ledger event."""
    name = name.strip()
    if not name or len(name) > 64:
        raise ValidationFailed("--name: give a set name of 1 to 64 characters")
    if name in VENDORED_SETS:
        raise Conflict("frequency set {name} is built in; choose another name", name=name)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ValidationFailed("cannot read {path}: {reason}", path=str(path),
                               reason=exc.strerror or str(exc)) from None
    import gzip

    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed("{path} is not a UTF-8 text file", path=str(path)) from None
    try:
        fset = parse_frequencies(text, name=name, population=population, registries=registries,
                                 source=Path(path).name)
    except FrequencyFileError as exc:
        if exc.errors:
            raise RowsRejected(Msg("frequency file"), [RowError(e.line, "haplotype", e.reason) for e in exc.errors],
                               title="Validation failed") from None
        raise ValidationFailed(exc.message) from None
    ctx = service.fresh_context(db)
    imputer = Imputer(fset, ctx.nom)
    if imputer.uncovered:
        raise ValidationFailed("{count} allele name(s) of the set are not in IPD-IMGT/HLA {release}: {names}",
                               count=len(imputer.uncovered), release=ctx.nom.version,
                               names=", ".join(imputer.uncovered[:10]))
    digest = hashlib.sha256(raw).hexdigest()
    with db.transaction() as session:
        if session.execute(select(FrequencySetRow.id).where(FrequencySetRow.name == name)).first():
            raise Conflict("frequency set {name} is already loaded", name=name)
        row = FrequencySetRow(name=name, population=fset.population, resolution=fset.resolution,
                              loci="~".join(fset.loci), registries=",".join(fset.registries), source=fset.source,
                              sha256=digest, haplotype_count=len(fset), total=fset.total)
        session.add(row)
        session.flush()
        values = [{"set_id": row.id, "haplotype": h, "frequency": f}
                  for h, f in zip(fset.haplotype_texts(), fset.frequencies, strict=True)]
        for start in range(0, len(values), CHUNK):
            session.execute(insert(HaplotypeRow), values[start: start + CHUNK])
        ledger.record(session, actor=actor, action="hla.frequencies.load", entity_type="hla_frequency_set",
                      entity_id=name, change={"haplotypes": len(fset), "population": fset.population,
                                              "resolution": fset.resolution, "sha256": digest})
        answer = _set_row(row)
    return answer


def sets_version(db: Database) -> tuple[int, int]:
    """Changes when a set is loaded (cached search rankings depend on which sets exist)."""
    with db.session() as session:
        found = session.execute(select(func.count(), func.max(FrequencySetRow.id))
                                .select_from(FrequencySetRow)).one()
    return int(found[0]), int(found[1] or 0)


def get_set(db: Database, name: str) -> FrequencySet:
    """A set by name (sets never change once loaded, so the process keeps them)."""
    with _lock:
        found = _sets.get(name)
    if found is not None:
        return found
    if name in VENDORED_SETS:
        found = vendored_set(name)
    else:
        with db.session() as session:
            row = session.execute(select(FrequencySetRow).where(FrequencySetRow.name == name)).scalar_one_or_none()
            if row is None:
                known = ", ".join(s["name"] for s in list_sets(db))
                raise NotFound("frequency set {name} is not loaded (known: {known})", name=name, known=known)
            haps = session.execute(select(HaplotypeRow.haplotype, HaplotypeRow.frequency)
                                   .where(HaplotypeRow.set_id == row.id).order_by(HaplotypeRow.id)).all()
            found = FrequencySet(name=row.name, population=row.population, resolution=row.resolution,
                                 loci=tuple(row.loci.split("~")),
                                 haplotypes=tuple(tuple(h.split("~")) for h, _ in haps),
                                 frequencies=tuple(f for _, f in haps),
                                 registries=tuple(r for r in row.registries.split(",") if r), source=row.source,
                                 total=row.total)
    with _lock:
        _sets[name] = found
    return found


def imputer(db: Database, name: str) -> Imputer:
    """The process's imputer for a set; a new one after a MAC dictionary or release is loaded (its caches are
    keyed by typing text, whose meaning those change)."""
    ctx = service.fresh_context(db)
    nom = ctx.nom
    key = (name, id(nom), ctx.config_seq)
    with _lock:
        found = _imputers.get(key)
    if found is None:
        found = Imputer(get_set(db, name), nom)
        with _lock:
            _imputers[key] = found
    return found


def all_sets(db: Database) -> list[FrequencySet]:
    return [get_set(db, s["name"]) for s in list_sets(db)]


def set_for(db: Database, *, registry: str | None = None, population: str | None = None) -> str:
    """The set that imputes one person (see the module docstring)."""
    return choose_set(all_sets(db), registry=registry, population=population).name


def impute(db: Database, typing: Mapping[str, LocusTyping | None], first: str, *,
           fallback: bool = True) -> tuple[Imputer, Imputation]:
    """Impute with `first`; when it explains no genotype, the other sets in order (default first)."""
    chosen = imputer(db, first)
    result = chosen.impute(typing)
    if result.represented or not fallback:
        return chosen, result
    names = [s["name"] for s in list_sets(db)]
    for name in sorted(names, key=lambda n: n != DEFAULT_SET):
        if name == first:
            continue
        other = imputer(db, name)
        if set(TEN_LOCI) - set(other.loci) and not set(TEN_LOCI) - set(chosen.loci):
            continue  # never fall back to a set that covers fewer loci
        again = other.impute(typing)
        if again.represented:
            return other, again
    return chosen, result


def _unrepresented(side: str, imp: Imputation) -> dict[str, Any]:
    return {"side": side, "set": imp.set_name,
            "positions": [{"locus": locus, "typing": text} for locus, text in imp.unexplained]}


def predict(db: Database, patient_gl: str, donor_gl: str, *, frequencies: str | None = None,
            donor_registry: str | None = None, patient_population: str | None = None) -> dict[str, Any]:
    """P(10/10), P(9/10), P(8/8), P(7/8) and per-locus P(0, 1, 2 mismatches) for one pair.

    With `frequencies` both sides are imputed with that set and nothing else; otherwise each side's set is chosen
    as `set_for` says, with the documented fallback.
    """
    patient = service.parse(db, patient_gl, "patient")
    donor = service.parse(db, donor_gl, "donor")
    return predict_parsed(db, dict(patient.loci), dict(donor.loci), frequencies=frequencies,
                          donor_registry=donor_registry, patient_population=patient_population)


def predict_parsed(db: Database, patient: Mapping[str, LocusTyping | None], donor: Mapping[str, LocusTyping | None],
                   *, frequencies: str | None = None, donor_registry: str | None = None,
                   patient_population: str | None = None) -> dict[str, Any]:
    if frequencies is not None:
        get_set(db, frequencies)  # NotFound names the known sets
        p_imp, p_res = impute(db, patient, frequencies, fallback=False)
        d_imp, d_res = impute(db, donor, frequencies, fallback=False)
    else:
        p_imp, p_res = impute(db, patient, set_for(db, population=patient_population))
        d_imp, d_res = impute(db, donor, set_for(db, registry=donor_registry))
    loci = tuple(locus for locus in PREDICTED_LOCI if locus in p_imp.loci and locus in d_imp.loci)
    if not p_res.represented or not d_res.represented:
        answer: dict[str, Any] = {"p10of10": None, "p9of10": None, "p8of8": None, "p7of8": None,
                                  "loci": {locus: {"p0": None, "p1": None, "p2": None} for locus in loci}}
        answer["unrepresented"] = [_unrepresented(side, r) for side, r in (("patient", p_res), ("donor", d_res))
                                   if not r.represented]
        return answer
    result = as_dict(batch_probabilities(CLASSES, p_imp.match_genotypes(p_res, loci),
                                         [d_imp.match_genotypes(d_res, loci)]), 0)
    return result


def predict_pairs(db: Database, text: str, *, frequencies: str | None = None) -> list[dict[str, Any]]:
    """Each line `PATIENT_GL<TAB>DONOR_GL`; one answer per line, in order. Every bad line is listed first."""
    errors: list[RowError] = []
    parsed = []
    ctx = service.fresh_context(db)
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.rstrip("\n").split("\t")
        if len(parts) != 2:
            errors.append(RowError(number, "line", Msg("expected PATIENT_GL<TAB>DONOR_GL, found {count} field(s)",
                                                       count=len(parts))))
            continue
        sides = []
        for column, gl in zip(("patient", "donor"), parts, strict=True):
            try:
                sides.append(dict(ctx.parser.genotype(gl).loci))
            except Exception as exc:  # TypingError: the message names the token
                errors.append(RowError(number, column, getattr(exc, "message", Msg("{reason}", reason=str(exc)))))
        if len(sides) == 2:
            parsed.append(sides)
    if errors:
        raise RowsRejected(Msg("pairs file"), errors, title="Validation failed")
    if not parsed:
        raise ValidationFailed("the pairs file lists no pair")
    return [predict_parsed(db, p, d, frequencies=frequencies) for p, d in parsed]


def imputed_genotypes(db: Database, gl_or_typing: str | Mapping[str, LocusTyping | None], *,
                      registry: str | None = None, population: str | None = None,
                      frequencies: str | None = None, limit: int = 20) -> dict[str, Any]:
    """The genotypes a typing is consistent with, most likely first (donor detail, `lifebank hla impute`)."""
    typing = dict(service.parse(db, gl_or_typing, "typing").loci) if isinstance(gl_or_typing, str) else gl_or_typing
    first = frequencies or set_for(db, registry=registry, population=population)
    imp, result = impute(db, typing, first, fallback=frequencies is None)
    return {"set": imp.set.name, "represented": result.represented, "count": len(result.pairs),
            "genotypes": imp.genotype_texts(result, limit),
            "unexplained": [{"locus": locus, "typing": text} for locus, text in result.unexplained]}


# -- search --------------------------------------------------------------------------------------------------------
_registries: dict[tuple[int, str, int, int], ImputedRegistry] = {}  # (index, set, release, config) -> imputations


def registry_imputation(db: Database, index: SearchIndex, name: str) -> ImputedRegistry:
    """The registry's imputed genotypes under set `name` (built on first use, kept beside the index)."""
    chosen = imputer(db, name)
    # a MAC dictionary or release loaded since re-resolves the index's typings in place: impute them again
    key = (id(index), name, id(chosen.nom), service.context(db).config_seq)
    with _lock:
        found = _registries.get(key)
        if found is None or found.index is not index:
            for old in [k for k, v in _registries.items() if v.index is not index and k[0] != id(index)]:
                _registries.pop(old, None)  # an index rebuilt since: its imputations go with it
            found = _registries[key] = ImputedRegistry(index, chosen)
    return found


def precompute(db: Database) -> int:
    """Impute every donor typing with the default set now, so searches read probabilities (server start)."""
    ctx = service.fresh_context(db)
    index = service._index(db, ctx)
    reg = registry_imputation(db, index, DEFAULT_SET)
    for start in range(0, index.size, 20_000):  # the lock is released between chunks: searches go on meanwhile
        with ctx.lock:
            if ctx.index is not index:
                break  # rebuilt meanwhile: the new index imputes on demand
            reg.key_ids(np.arange(start, min(start + 20_000, index.size)))
    return len(reg.lists)


def _donor_sets(db: Database, keys: np.ndarray) -> np.ndarray:
    """Per donor key, the name of the set that imputes it: only sets loaded for registries need a look-up."""
    sets = all_sets(db)
    default = set_for(db)
    if not any(s.registries for s in sets if s.name not in VENDORED_SETS):
        return np.full(len(keys), default, dtype=object)
    registry: dict[int, str | None] = {}
    key_list = keys.tolist()
    with db.session() as session:
        for start in range(0, len(key_list), 900):
            registry.update(session.execute(select(Donor.id, Donor.registry_code)
                                            .where(Donor.id.in_(key_list[start: start + 900]))).all())
    choice = {r: set_for(db, registry=r) for r in set(registry.values())}
    return np.asarray([choice.get(registry.get(k), default) for k in key_list], dtype=object)


def search_probabilities(db: Database, index: SearchIndex, patient: Mapping[str, LocusTyping | None],
                         rows: np.ndarray, *, frequencies: str | None = None,
                         patient_population: str | None = None) -> dict[str, Any]:
    """Match probabilities of the patient against index `rows` (call under the context lock).

    Each donor is imputed with its registry's set (or `frequencies` for everyone); a donor its set does not
    explain is tried with the other sets, default first, as `impute` does; what no set explains stays NaN.
    """
    n = len(rows)
    out: dict[str, Any] = {key: np.full(n, np.nan) for key in ("p10of10", "p9of10", "p8of8", "p7of8")}
    out["loci"] = {locus: tuple(np.full(n, np.nan) for _ in range(3)) for locus in TEN_LOCI}
    out["set"] = np.full(n, None, dtype=object)
    first = frequencies or set_for(db, population=patient_population)
    p_imp, p_res = impute(db, patient, first, fallback=frequencies is None)
    out["patient_set"] = p_imp.set.name
    out["patient_unexplained"] = list(p_res.unexplained)
    if not p_res.represented or n == 0:
        return out
    chosen = np.full(n, frequencies, dtype=object) if frequencies else _donor_sets(db, index.keys[rows])
    todo = np.ones(n, dtype=bool)
    # First each donor with its own set; then (without --frequencies) what is left with every other set in turn.
    passes = [(name, chosen == name) for name in sorted({str(c) for c in chosen})]
    if not frequencies:
        passes += [(s["name"], None) for s in sorted(list_sets(db), key=lambda s: s["name"] != DEFAULT_SET)]
    for name, mask in passes:
        sub = todo & (mask if mask is not None else (chosen != name))
        if not sub.any():
            continue
        reg = registry_imputation(db, index, name)
        if not set(reg.loci) <= set(p_imp.loci) or (mask is None and len(reg.loci) < len(TEN_LOCI)):
            continue  # the patient's set must cover the loci; a fallback set must cover all five
        got = reg.probabilities(p_imp.match_genotypes(p_res, reg.loci), rows[sub])
        where = np.flatnonzero(sub)
        known = ~np.isnan(got["loci"][reg.loci[0]][0])
        for key in ("p10of10", "p9of10", "p8of8", "p7of8"):
            out[key][where[known]] = got[key][known]
        for locus, values in got["loci"].items():
            for i in range(3):
                out["loci"][locus][i][where[known]] = values[i][known]
        out["set"][where[known]] = name
        todo[where[known]] = False
    return out


def donor_genotypes(db: Database, donor_id: str, limit: int = 20) -> dict[str, Any]:
    """A donor's imputed genotypes under its registry's set (with the documented fallback)."""
    donor = service.get_donor(db, donor_id)
    ctx = service.fresh_context(db)
    values = [donor["hla"][c] for c in HLA_COLUMNS]
    typing = service._loci_of(ctx.registry, values)
    return imputed_genotypes(db, typing, registry=donor["registry"], limit=limit)
