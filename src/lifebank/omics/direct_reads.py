"""`lifebank omics query --region` and `omics af` in a fresh process without the ORM.

Why: a one-shot `omics af` spent ~0.7 s (loaded 2-core machine) importing SQLAlchemy, pydantic-settings and the
omics service before it opened the catalogue (issue 10: one-shot AF within 1.5x of the bcftools pipeline). The
catalogue part of these two reads is a few small SELECTs (which batches of which datasets; are the subset's
samples known; their sample numbers), so they run here as plain SQL over a DB-API connection
(`lifebank.cli.direct`). Allele counts come from the batches' allele-plane files (`planes_read`: NumPy over
`mmap`, neither pyarrow nor DuckDB imported); region sites, and counts of a store written before the planes
existed, go through the same `VariantStore` the service uses (pyarrow and NumPy). Results and error messages
are those of `lifebank.omics.service.variants_in_region` and `allele_counts`: tests/omics/test_direct_reads.py
holds them to it on SQLite and PostgreSQL.

The connection is anything with `rows(sql, params)` and `settings.data_dir` (`DirectConnection`); SQL uses `?`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from lifebank.errors import NotFound, ValidationFailed
from lifebank.messages import Msg
from lifebank.omics.allele_counts import AlleleCounts, merge_batch_counts
from lifebank.omics.planes_read import AllelePlanes, PlaneFileError, plane_counts, planes_path
from lifebank.omics.refs import BatchRef
from lifebank.omics.regions import Region, chrom_aliases, parse_region

if TYPE_CHECKING:
    from lifebank.omics.queries import VariantStore

_IN_CHUNK = 900  # bound parameters per IN list (SQLite's oldest default limit is 999)


class Connection(Protocol):
    settings: Any

    def rows(self, sql: str, params: Any = ()) -> list[tuple[Any, ...]]: ...


def _root(conn: Connection) -> Path:
    return Path(conn.settings.data_dir) / "omics"  # service.store_root


def _store(conn: Connection) -> VariantStore:
    from lifebank.omics.queries import VariantStore  # pyarrow: only the paths that read Parquet pay for it

    return VariantStore(_root(conn))


def batch_refs(conn: Connection, dataset: str | None = None) -> list[BatchRef]:
    """`service.batch_refs`: the committed batches of one dataset (NotFound if it does not exist) or of all."""
    sql = ("SELECT d.name, b.number, b.chroms FROM omics_dataset d JOIN omics_batch b ON b.dataset_id = d.id")
    params: list[Any] = []
    if dataset is not None:
        if not conn.rows("SELECT id FROM omics_dataset WHERE name = ?", [dataset]):
            raise NotFound("no omics dataset {name!r}", name=dataset)
        sql += " WHERE d.name = ?"
        params.append(dataset)
    rows = conn.rows(sql + " ORDER BY d.name, b.number", params)
    return [BatchRef(name, number, tuple(json.loads(chroms))) for name, number, chroms in rows]


def check_known_samples(conn: Connection, samples: Sequence[str], dataset: str | None) -> None:
    """`service.check_known_samples`: every VCF sample ID of the subset is in the dataset (or any dataset)."""
    wanted = sorted(set(samples))
    known: set[str] = set()
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start:start + _IN_CHUNK]
        sql = f"SELECT s.vcf_sample FROM omics_sample s WHERE s.vcf_sample IN ({', '.join('?' * len(chunk))})"
        params: list[Any] = list(chunk)
        if dataset is not None:
            sql += (" AND s.batch_id IN (SELECT b.id FROM omics_batch b JOIN omics_dataset d ON d.id = b.dataset_id"
                    " WHERE d.name = ?)")
            params.append(dataset)
        known.update(row[0] for row in conn.rows(sql, params))
    unknown = sorted(set(samples) - known)
    if unknown:
        more = Msg(" (and {n} more)", n=len(unknown) - 10) if len(unknown) > 10 else ""
        raise ValidationFailed("unknown VCF sample(s): {samples}{more}", samples=", ".join(unknown[:10]), more=more)


def variants_in_region(conn: Connection, region: str, *, dataset: str | None = None) -> list[dict[str, object]]:
    """`service.variants_in_region(...)[1]`: every biallelic site of the region, INFO parsed from JSON."""
    reg = parse_region(region)
    refs = batch_refs(conn, dataset)
    rows = _store(conn).sites_in_region(refs, reg)
    for row in rows:
        info = row.get("info")
        row["info"] = json.loads(info) if isinstance(info, str) else None
    return rows


def allele_counts(conn: Connection, region: str, *, dataset: str | None = None,
                  samples: Sequence[str] | None = None) -> AlleleCounts:
    """`service.allele_counts` without a cohort: AC/AN/AF per site over every sample or the VCF IDs given."""
    reg = parse_region(region)
    refs = batch_refs(conn, dataset)
    if samples is not None:
        check_known_samples(conn, samples, dataset)
    counts = _plane_counts(conn, refs, reg, samples)
    return counts if counts is not None else _store(conn).allele_counts(refs, reg, samples)


def _sample_numbers(conn: Connection, ref: BatchRef) -> dict[str, int]:
    """VCF sample ID -> sample number of one batch, from the catalogue (the numbers of the samples file)."""
    rows = conn.rows("SELECT s.vcf_sample, s.sample_index FROM omics_sample s JOIN omics_batch b ON b.id = s.batch_id"
                     " JOIN omics_dataset d ON d.id = b.dataset_id WHERE d.name = ? AND b.number = ?",
                     [ref.dataset, ref.batch])
    return {vcf_sample: int(index) for vcf_sample, index in rows}


def _plane_counts(conn: Connection, refs: Sequence[BatchRef], region: Region,
                  samples: Sequence[str] | None) -> AlleleCounts | None:
    """`VariantStore.allele_counts` over the allele planes alone; None when a batch contig has none."""
    import numpy as np

    wanted = set(samples) if samples is not None else None
    parts: list[tuple[str, str, dict[str, object]]] = []
    for ref in refs:
        for chrom in ref.chroms:
            if chrom not in chrom_aliases(region.chrom):
                continue
            try:
                planes = AllelePlanes.open(planes_path(_root(conn), ref.dataset, ref.batch, chrom))
            except (FileNotFoundError, PlaneFileError):
                return None
            member = None
            if wanted is not None:
                numbers = _sample_numbers(conn, ref)
                if len(numbers) != planes.n_samples:
                    return None
                member = np.zeros(planes.n_samples, bool)
                member[[i for s, i in numbers.items() if s in wanted]] = True
                if member.all():
                    member = None
            columns = plane_counts(planes, region, member)
            if len(columns["pos"]):  # type: ignore[arg-type]
                parts.append((ref.dataset, chrom, columns))
    return merge_batch_counts(parts)
