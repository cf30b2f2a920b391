"""What changed between two versions of a report (a re-run with a newer knowledge base, or new inputs).

Pure. Biomarkers are keyed by what they are (a variant by its GRCh38 allele, a copy-number call by gene and
call, a fusion by its genes); for each one present in both, a changed tier and the therapies that appeared
or disappeared are listed; biomarkers present in only one version are listed as added or removed, and so
are knowledge-base files whose version or checksum changed.
"""

from __future__ import annotations

from typing import Any


def _keyed(content: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for v in content.get("variants", []):
        name = f"{v['gene'] or ''} {v['protein_change'] or ''}".strip()
        found[f"{v['chrom']}:{v['pos']} {v['ref']}>{v['alt']}"] = dict(v, name=name or v["chrom"])
    for c in content.get("cna", []):
        found[f"{c['gene']} {c['call']}"] = dict(c, name=f"{c['gene']} {c['call']}")
    for f in content.get("fusions", []):
        found[f["fusion"]] = dict(f, name=f["fusion"])
    tmb = content.get("tmb")
    if tmb and tmb.get("tier"):
        found["TMB"] = dict(tmb, name="TMB-high")
    return found


def _therapies(item: dict[str, Any]) -> set[str]:
    return {f"{t['therapy']} ({t['direction']}, {t['level']}, {t['source']})" for t in item.get("therapies", [])}


def report_changes(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    old, new = _keyed(before), _keyed(after)
    changes: list[dict[str, Any]] = []
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            changes.append({"biomarker": old[key]["name"], "key": key, "change": "removed",
                            "tier_before": old[key].get("tier")})
            continue
        if key not in old:
            if new[key].get("tier") in ("I", "II"):
                changes.append({"biomarker": new[key]["name"], "key": key, "change": "added",
                                "tier_after": new[key].get("tier")})
            continue
        added = sorted(_therapies(new[key]) - _therapies(old[key]))
        removed = sorted(_therapies(old[key]) - _therapies(new[key]))
        if old[key].get("tier") != new[key].get("tier") or added or removed:
            changes.append({"biomarker": new[key]["name"], "key": key, "change": "changed",
                            "tier_before": old[key].get("tier"), "tier_after": new[key].get("tier"),
                            "therapies_added": added, "therapies_removed": removed})
    kb_old, kb_new = before.get("knowledge_base", {}), after.get("knowledge_base", {})
    for source in sorted(kb_old.keys() | kb_new.keys()):
        if kb_old.get(source) != kb_new.get(source):
            changes.append({"biomarker": source, "key": "knowledge_base", "change": "knowledge base",
                            "before": kb_old.get(source), "after": kb_new.get(source)})
    return changes
