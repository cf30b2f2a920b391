"""Terminal commands of the HLA registry: `lifebank hla grade|search|import|donors|macs|nomenclature|index`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from lifebank.cli.context import cli_actor, database
from lifebank.cli.output import FormatOpt, OutputFormat, emit_rows, print_json, print_rejection, say, text
from lifebank.errors import RowsRejected, ValidationFailed
from lifebank.messages import Msg

RENAMED_SHOWN = 20  # renamed-name notices printed after an import; JSON output has them all

app = typer.Typer(name="hla", help="Stem-cell and cord-blood registry: HLA grading, donors and search.",
                  no_args_is_help=True)
import_app = typer.Typer(help="Import donors (validated in full, written in one transaction).", no_args_is_help=True)
donors_app = typer.Typer(help="Look at, change and remove donors.", no_args_is_help=True)
macs_app = typer.Typer(help="The NMDP multiple-allele-code dictionary.", no_args_is_help=True)
nomenclature_app = typer.Typer(help="The IPD-IMGT/HLA release in use.", no_args_is_help=True)
index_app = typer.Typer(help="The in-memory search index.", no_args_is_help=True)
frequencies_app = typer.Typer(help="Haplotype frequency sets for match prediction.", no_args_is_help=True)
searches_app = typer.Typer(help="Saved patient searches, re-run on demand.", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(donors_app, name="donors")
app.add_typer(macs_app, name="macs")
app.add_typer(nomenclature_app, name="nomenclature")
app.add_typer(index_app, name="index")
app.add_typer(frequencies_app, name="frequencies")
app.add_typer(searches_app, name="searches")



def _locus_rows(loci: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for locus, grade in loci.items():
        rows.append({"locus": locus, "mismatches": grade["mismatch_count"], "untyped": grade["untyped"],
                     "position 1": "{grade} ({confidence})".format(**grade["positions"][0]),
                     "position 2": "{grade} ({confidence})".format(**grade["positions"][1])})
    return rows


@app.command("grade")
def grade(patient: Annotated[str, typer.Argument(help="patient GL string")],
          donor: Annotated[str, typer.Argument(help="donor GL string")],
          fmt: FormatOpt = OutputFormat.table) -> None:
    """Grade one patient-donor pair (WMDA: P-group match, grade, confidence, antigen match, DPB1 TCE)."""
    from lifebank.hla import service

    result = service.grade(database(), patient, donor)
    if fmt is OutputFormat.json:
        print_json(result)
        return
    emit_rows(_locus_rows(result["loci"]), fmt,
              title=text(Msg("{match} ({count} mismatch), DPB1 TCE {tce}", plural="{match} ({count} mismatches), "
                             "DPB1 TCE {tce}", match=result["match"], count=result["mismatch_count"],
                             tce=result["dpb1_tce"])))


@app.command("allele")
def allele(name: Annotated[str, typer.Argument(help="allele name, full or truncated, e.g. A*01:22N")],
           fmt: FormatOpt = OutputFormat.table) -> None:
    """Look up an allele name: G/P group, ARD name (lgx), antigens, DPB1 TCE, or its new name if deleted."""
    from lifebank.hla import service

    info = service.describe_allele(database(), name)
    if fmt is OutputFormat.json:
        print_json(info)
        return
    alleles = info["alleles"]
    rows = [{"field": "status", "value": info["status"]}]
    if info["status"] == "deleted":
        rows.append({"field": "current name", "value": info["current_name"] or "none (deleted without successor)"})
    else:
        shown = ", ".join(alleles[:5]) + (f" … ({len(alleles)} in all)" if len(alleles) > 5 else "")
        rows += [{"field": "alleles", "value": shown},
                 {"field": "null", "value": "yes" if info["null"] else "no"}]
        for key, label in (("g_groups", "G group"), ("p_groups", "P group"), ("lgx", "ARD name (lgx)"),
                           ("expressed_antigens", "expressed antigen"),
                           ("serological_equivalents", "serological equivalents"), ("dpb1_tce", "DPB1 TCE")):
            rows.append({"field": label, "value": ", ".join(info[key]) or "none"})
        rows.append({"field": "full gDNA sequenced", "value": f"{info['full_gdna_known']} of {len(alleles)}"})
    emit_rows(rows, fmt, title=text(Msg("{name} in IPD-IMGT/HLA {release}", name=info["name"],
                                        release=info["release"])))


@app.command("search")
def search(patient: Annotated[str, typer.Argument(help="patient GL string")],
           max_mismatches: Annotated[int, typer.Option("--max-mismatches", min=0, max=4)] = 0,
           loci: Annotated[str | None, typer.Option(help="match loci, default A,B,C,DRB1,DQB1")] = None,
           donor_type: Annotated[str | None, typer.Option("--donor-type", help="adult or cord")] = None,
           limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
           offset: Annotated[int, typer.Option(min=0)] = 0,
           cap: Annotated[list[str] | None, typer.Option("--cap", help="per-locus maximum, e.g. --cap DRB1=0")] = None,
           frequencies: Annotated[str | None, typer.Option(
               "--frequencies", help="frequency set imputing patient and donors (default: chosen per person)")] = None,
           min_probability: Annotated[float | None, typer.Option(
               "--min-probability", min=0.0, max=1.0, help="keep donors with P(10/10) (8/8: P(8/8)) at least this")
           ] = None,
           population: Annotated[str | None, typer.Option(
               "--population", help="the patient's population, to choose the patient's frequency set")] = None,
           fmt: FormatOpt = OutputFormat.table) -> None:
    """Ranked donors within the allowed mismatches, by P(10/10) then P(9/10) then grade; every result explains
    each locus and says which loci were compared."""
    from lifebank.hla import service

    caps: dict[str, int] = {}
    for item in cap or []:
        locus, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise ValidationFailed("--cap {value!r} is not LOCUS=N", value=item)
        caps[locus.strip().upper()] = int(value)
    result = service.search(database(), patient, max_mismatches=max_mismatches, loci=loci, donor_type=donor_type,
                            limit=limit, offset=offset, locus_caps=caps, frequencies=frequencies,
                            min_probability=min_probability, patient_population=population)
    if fmt is OutputFormat.json:
        keys = ("donor_id", "donor_type", "mismatch_count", "match", "match_label", "compared", "untyped",
                "incompletely_typed", "p10of10", "p9of10", "p8of8", "p7of8", "frequencies", "cell_dose", "loci",
                "dpb1_tce")
        print_json({"total": result["total"], "items": [{k: i.get(k) for k in keys} for i in result["items"]]})
        return
    rows = []
    for item in result["items"]:
        row: dict[str, Any] = {"donor": item["donor_id"], "type": item["donor_type"],
                               "match": text(service.match_label(item, result["loci"]))}
        for locus in [locus for locus in service.FORM_ORDER if locus in result["loci"]]:
            grade = item["loci"][locus]
            row[locus] = "untyped" if grade["untyped"] else "/".join(p["grade"] for p in grade["positions"])
        row["DPB1 TCE"] = item["dpb1_tce"]
        row["cell dose"] = item["cell_dose"]
        rows.append(row)
    emit_rows(rows, fmt, title=text(Msg("{count} donor within {max} mismatches",
                                        plural="{count} donors within {max} mismatches", count=result["total"],
                                        max=max_mismatches)))


@import_app.command("donors")
def import_donors(file: Path,
                  donor_type: Annotated[str, typer.Option("--donor-type", help="for ID%GLSTRING files")] = "adult",
                  fmt: FormatOpt = OutputFormat.table) -> None:
    """Import a 14-column HLA CSV/TSV (DonorId,DonorType,A_1,...,DRB1_2; optional Sex, ABO, CMV...) or ID%GLSTRING.

    All rows or none: every bad row is listed with its line, column and reason. Names IMGT has renamed since
    the donor was typed are kept as sent, matched under their current names, and listed.
    """
    from lifebank.hla import service

    if not file.is_file():
        raise ValidationFailed("{path} is not a file", path=str(file))
    try:
        result = service.import_donors(database(), file.read_text(encoding="utf-8-sig"), actor=cli_actor(),
                                       donor_type=donor_type)
    except RowsRejected as exc:
        print_rejection(exc, fmt)
        raise typer.Exit(1) from None
    if fmt is OutputFormat.json:
        print_json(result.as_dict())
    else:
        say(Msg("imported {count} donor: {added} added, {updated} updated (sha256 {sha}…)",
                plural="imported {count} donors: {added} added, {updated} updated (sha256 {sha}…)",
                count=result.rows, added=result.added, updated=result.updated, sha=result.sha256[:16]))
        if result.renamed:
            say(Msg("{count} typing uses a name IMGT has since renamed; it is matched under the current name:",
                    plural="{count} typings use names IMGT has since renamed; they are matched under the current "
                    "names:", count=len(result.renamed)))
            for note in result.renamed[:RENAMED_SHOWN]:
                say(Msg("  line {line} {column}: {typed} is now {current}", line=note["line"],
                        column=note["column"], typed=note["typed"], current=note["current"]))
            if len(result.renamed) > RENAMED_SHOWN:
                say(Msg("  … and {n} more (--format json lists them all)", n=len(result.renamed) - RENAMED_SHOWN))


@donors_app.command("list")
def donors_list(donor_type: Annotated[str | None, typer.Option("--donor-type")] = None,
                limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
                offset: Annotated[int, typer.Option(min=0)] = 0, fmt: FormatOpt = OutputFormat.table) -> None:
    """List donors in registration order."""
    from lifebank.hla import service

    total, items = service.list_donors(database(), limit=limit, offset=offset, donor_type=donor_type)
    if fmt is OutputFormat.json:
        print_json({"total": total, "items": items})
        return
    emit_rows([{"donor": d["donor_id"], "type": d["donor_type"], "registry": d["registry"],
                "A": "+".join(filter(None, (d["hla"]["A_1"], d["hla"]["A_2"]))),
                "B": "+".join(filter(None, (d["hla"]["B_1"], d["hla"]["B_2"]))),
                "DRB1": "+".join(filter(None, (d["hla"]["DRB1_1"], d["hla"]["DRB1_2"])))} for d in items],
              fmt, title=text(Msg("{count} donor", plural="{count} donors", count=total)))


@donors_app.command("show")
def donors_show(donor_id: str, fmt: FormatOpt = OutputFormat.table) -> None:
    """One donor: attributes and HLA typing."""
    from lifebank.hla import service

    donor = service.get_donor(database(), donor_id)
    if fmt is OutputFormat.json:
        print_json(donor)
        return
    rows = [{"field": k, "value": v} for k, v in donor.items() if k != "hla"]
    rows += [{"field": k, "value": v} for k, v in donor["hla"].items()]
    emit_rows(rows, fmt, columns=["field", "value"])


@donors_app.command("update")
def donors_update(donor_id: str,
                  changes: Annotated[list[str], typer.Argument(help="FIELD=VALUE, e.g. A_2=*02:01 CellDose=3.2")],
                  fmt: FormatOpt = OutputFormat.table) -> None:
    """Change typing columns or attributes; the search index follows without a rebuild."""
    from lifebank.hla import service

    parsed: dict[str, str | None] = {}
    for change in changes:
        key, sep, value = change.partition("=")
        if not sep:
            raise ValidationFailed("{value!r} is not FIELD=VALUE", value=change)
        parsed[key.strip()] = value.strip() or None
    try:
        donor = service.update_donor(database(), donor_id, parsed, actor=cli_actor())
    except RowsRejected as exc:
        print_rejection(exc, fmt)
        raise typer.Exit(1) from None
    if fmt is OutputFormat.json:
        print_json(donor)
    else:
        say(Msg("updated {donor} (revision {revision})", donor=donor_id, revision=donor["revision"]))


@donors_app.command("delete")
def donors_delete(donor_id: str) -> None:
    """Remove a donor from the registry; the search index follows without a rebuild."""
    from lifebank.hla import service

    service.delete_donor(database(), donor_id, actor=cli_actor())
    say(Msg("deleted {donor}", donor=donor_id))


@macs_app.command("load")
def macs_load(file: Path, fmt: FormatOpt = OutputFormat.table) -> None:
    """Replace the MAC dictionary from NMDP's numer.v3.txt (or an Atlas CSV export)."""
    from lifebank.hla import service

    result = service.load_macs(database(), file, actor=cli_actor())
    if fmt is OutputFormat.json:
        print_json(result)
    else:
        say(Msg("loaded {count} multiple-allele code", plural="loaded {count} multiple-allele codes",
                count=result["codes"]))


@nomenclature_app.command("load")
def nomenclature_load(folder: Path, fmt: FormatOpt = OutputFormat.table) -> None:
    """Use an IPD-IMGT/HLA release folder (Allelelist.txt, wmda/, tce/) instead of the vendored 3.58.0."""
    from lifebank.hla import service

    result = service.load_nomenclature(database(), folder, actor=cli_actor())
    if fmt is OutputFormat.json:
        print_json(result)
    else:
        say(Msg("using IPD-IMGT/HLA {version} ({alleles} alleles) from {folder}", version=result["version"],
                alleles=result["alleles"], folder=result["folder"]))


@index_app.command("status")
def index_status(fmt: FormatOpt = OutputFormat.table) -> None:
    """Build the index in this process and report its size."""
    from lifebank.hla import service

    status = service.index_status(database())
    if fmt is OutputFormat.json:
        print_json(status)
    else:
        emit_rows([{"setting": k, "value": v} for k, v in status.items()], fmt, columns=["setting", "value"])


@frequencies_app.command("load")
def frequencies_load(file: Path,
                     name: Annotated[str, typer.Option("--name", help="the set's name, e.g. CMDP-2024-CHI")],
                     population: Annotated[str | None, typer.Option(
                         "--population", help="population/ethnicity; picks one of an NMDP 2007 file's (EUR, AFA, "
                         "API, HIS)")] = None,
                     registry: Annotated[list[str] | None, typer.Option(
                         "--registry", help="registry code whose donors this set imputes (repeatable)")] = None,
                     fmt: FormatOpt = OutputFormat.table) -> None:
    """Load a haplotype frequency file (MVT-3 freqs.txt / NMDP haplotype;frequency, NMDP 2007 five-locus CSV,
    or haplotype,count,frequency). All lines or none: every bad line is listed."""
    from lifebank.hla import prediction

    try:
        result = prediction.load_set(database(), file, name=name, population=population, registries=registry or (),
                                     actor=cli_actor())
    except RowsRejected as exc:
        print_rejection(exc, fmt)
        raise typer.Exit(1) from None
    if fmt is OutputFormat.json:
        print_json(result)
    else:
        say(Msg("loaded frequency set {name}: {count} haplotypes, {resolution} resolution", name=result["name"],
                count=result["haplotypes"], resolution=result["resolution"]))


@frequencies_app.command("list")
def frequencies_list(fmt: FormatOpt = OutputFormat.table) -> None:
    """Built-in and loaded frequency sets, with population, resolution and the registries each imputes."""
    from lifebank.hla import prediction

    sets = prediction.list_sets(database())
    if fmt is OutputFormat.json:
        print_json(sets)
        return
    emit_rows([{"name": s["name"], "population": s["population"], "resolution": s["resolution"],
                "loci": "~".join(s["loci"]), "haplotypes": s["haplotypes"],
                "registries": ",".join(s["registries"]), "built in": s["builtin"], "default": s["default"]}
               for s in sets], fmt)


@app.command("predict")
def predict(patient: Annotated[str | None, typer.Argument(help="patient GL string")] = None,
            donor: Annotated[str | None, typer.Argument(help="donor GL string")] = None,
            pairs: Annotated[Path | None, typer.Option("--pairs", help="file of PATIENT_GL<TAB>DONOR_GL lines")] = None,
            frequencies: Annotated[str | None, typer.Option(
                "--frequencies", help="frequency set imputing both sides (default: chosen per side)")] = None,
            fmt: FormatOpt = OutputFormat.table) -> None:
    """Match probabilities of a pair: P(10/10), P(9/10) (exactly one mismatch), P(8/8), P(7/8), and per locus
    P(0, 1, 2 mismatches), from haplotype frequencies. With --pairs, one JSON object per line, in order."""
    from lifebank.hla import prediction

    db = database()
    if pairs is not None:
        if patient or donor:
            raise ValidationFailed("give either PATIENT_GL DONOR_GL or --pairs FILE, not both")
        if not pairs.is_file():
            raise ValidationFailed("{path} is not a file", path=str(pairs))
        try:
            results = prediction.predict_pairs(db, pairs.read_text(encoding="utf-8-sig"), frequencies=frequencies)
        except RowsRejected as exc:
            print_rejection(exc, fmt)
            raise typer.Exit(1) from None
        import json

        for result in results:
            typer.echo(json.dumps(result, separators=(",", ":")))
        return
    if not patient or not donor:
        raise ValidationFailed("give PATIENT_GL and DONOR_GL (or --pairs FILE)")
    result = prediction.predict(db, patient, donor, frequencies=frequencies)
    if fmt is OutputFormat.json:
        print_json(result)
        return
    rows = [{"locus": locus, "P(0 mismatches)": v["p0"], "P(1)": v["p1"], "P(2)": v["p2"]}
            for locus, v in result["loci"].items()]
    emit_rows(rows, fmt, title=text(Msg("P(10/10) = {p10}, P(9/10) = {p9}, P(8/8) = {p8}, P(7/8) = {p7}",
                                        p10=_p(result["p10of10"]), p9=_p(result["p9of10"]),
                                        p8=_p(result["p8of8"]), p7=_p(result["p7of8"]))))
    for side in result.get("unrepresented", []):
        say(Msg("{side}: no genotype of set {set} explains the typing ({typings})", side=side["side"],
                set=side["set"], typings=", ".join(p["typing"] for p in side["positions"]) or "-"))


@app.command("impute")
def impute(typing: Annotated[str, typer.Argument(help="GL string")],
           frequencies: Annotated[str | None, typer.Option("--frequencies", help="frequency set")] = None,
           limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
           fmt: FormatOpt = OutputFormat.table) -> None:
    """The genotypes (haplotype pairs) a typing is consistent with, and their probabilities."""
    from lifebank.hla import prediction

    result = prediction.imputed_genotypes(database(), typing, frequencies=frequencies, limit=limit)
    if fmt is OutputFormat.json:
        print_json(result)
        return
    emit_rows([{"haplotype 1": g["haplotypes"][0], "haplotype 2": g["haplotypes"][1],
                "probability": round(g["probability"], 6)} for g in result["genotypes"]], fmt,
              title=text(Msg("{count} genotype(s) under {set}", count=result["count"], set=result["set"])))


def _p(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.4f}"


@searches_app.command("save")
def searches_save(name: str, patient: Annotated[str, typer.Argument(help="patient GL string")],
                  max_mismatches: Annotated[int, typer.Option("--max-mismatches", min=0, max=4)] = 0,
                  loci: Annotated[str | None, typer.Option(help="match loci, default A,B,C,DRB1,DQB1")] = None,
                  donor_type: Annotated[str | None, typer.Option("--donor-type", help="adult or cord")] = None,
                  min_probability: Annotated[float | None, typer.Option("--min-probability", min=0.0, max=1.0)
                                             ] = None,
                  frequencies: Annotated[str | None, typer.Option("--frequencies")] = None,
                  fmt: FormatOpt = OutputFormat.table) -> None:
    """Keep a patient search (run once now, so a bad typing is refused) to re-run later."""
    from lifebank.hla import saved_searches

    saved = saved_searches.save(database(), name, patient, {
        "max_mismatches": max_mismatches, "loci": loci, "donor_type": donor_type,
        "min_probability": min_probability, "frequencies": frequencies}, actor=cli_actor())
    if fmt is OutputFormat.json:
        print_json(saved)
    else:
        say(Msg("saved search {id} ({name}): {count} donors now", id=saved["id"], name=saved["name"],
                count=saved["last_total"]))


@searches_app.command("list")
def searches_list(fmt: FormatOpt = OutputFormat.table) -> None:
    """Saved searches, newest first, with when each last ran and how many donors it found."""
    from lifebank.hla import saved_searches

    found = saved_searches.list_saved(database())
    if fmt is OutputFormat.json:
        print_json(found)
        return
    emit_rows([{"id": s["id"], "name": s["name"], "patient": s["patient"], "saved by": s["created_by"],
                "last run": s["last_run_at"], "donors": s["last_total"]} for s in found], fmt)


@searches_app.command("run")
def searches_run(search_id: int, limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
                 fmt: FormatOpt = OutputFormat.table) -> None:
    """Run a saved search against today's registry."""
    from lifebank.hla import saved_searches

    ran = saved_searches.run(database(), search_id, actor=cli_actor(), limit=limit)
    if fmt is OutputFormat.json:
        print_json(ran)
        return
    emit_rows([{"donor": i["donor_id"], "match": i["match_label"], "P(10/10)": _p(i.get("p10of10")),
                "P(9/10)": _p(i.get("p9of10"))} for i in ran["result"]["items"]], fmt,
              title=text(Msg("{name}: {count} donors (before: {before})", name=ran["search"]["name"],
                             count=ran["result"]["total"], before=ran["previous_total"])))
