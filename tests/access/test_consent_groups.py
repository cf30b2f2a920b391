"""Consent matching, feasibility and allocation at scale read the bank grouped by consent in force
(`biobank.consent_groups`) or in pages (`biobank.consents_in_force_after`). These tests hold the grouped paths to
the per-participant reading they replace (`biobank.consents_in_force`, `allocatable_counts`,
`allocatable_specimens` and the rule table per participant), on SQLite and PostgreSQL, over a bank with the
awkward cases: a newer consent superseding an older one, time-limited consents of different dates, a withdrawn
donor whose tubes are still on the shelf, a donor who withdrew and consented again, and tubes failing the
volume, freeze-thaw and SPREC criteria."""

from __future__ import annotations

from datetime import date

import pytest

import lifebank.biobank as biobank
from lifebank.access import consent_rules, fulfilment, service
from lifebank.access.consent_check import _counts, _load, evaluate_request
from lifebank.access.consent_details import consent_of
from lifebank.access.requests import requested_use
from lifebank.biobank import imports
from lifebank.biobank import service as bb

from .access_fixtures import ACTOR, Bank

MORE_PEOPLE = [  # code, DUO codes, consent date, scope
    ("P000007", "DUO:0000042", "2023-01-05", ""),                       # GRU, superseded below by HMB + NCU
    ("P000008", "DUO:0000042;DUO:0000025", "2020-01-01", "months=12"),  # GRU, time limit long past
    ("P000009", "DUO:0000042;DUO:0000025", "2024-01-01", "months=1200"),  # GRU, time limit far ahead
    ("P000010", "DUO:0000006", "2024-01-02", ""),                       # HMB, withdrawn below
    ("P000011", "DUO:0000006", "2024-01-02", ""),                       # withdraws, then consents again
    ("P000012", "DUO:0000006;DUO:0000046", "2024-01-02", ""),           # HMB + NCU from the start
]


def _more(bank: Bank) -> None:
    people = ["participant,sex,birth_year,site,consent_codes,consent_date,consent_scope\n"]
    people += [f"{code},M,1980,SH,{codes},{day},{scope}\n" for code, codes, day, scope in MORE_PEOPLE]
    imports.import_participants(bank.db, "".join(people).encode(), actor=ACTOR)
    tubes = ["barcode,participant,type,quantity,unit,collected_at,parent_barcode,sprec,location\n"]
    for n, (code, *_rest) in enumerate(MORE_PEOPLE):
        for tube, volume in enumerate(("1.0", "1.0", "0.2")):  # the third is too small for a 0.5 mL minimum
            tubes.append(f"S{code[1:]}-{tube},{code},SER,{volume},mL,2024-03-01T08:00:00Z,,SER-SST-A-D-N-B-A,"
                         f"FRZ-02/R01/BOX-10/{'ABCDEFGHI'[3 + n]}{tube + 1}\n")
        tubes.append(f"L{code[1:]},{code},PL1,0.5,mL,2024-03-01T08:00:00Z,,PL1-PED-A-D-N-B-A,"
                     f"FRZ-02/R01/BOX-2/{'ABCDEFGHI'[3 + n]}1\n")
    imports.import_specimens(bank.db, "".join(tubes).encode(), actor=ACTOR)
    bb.record_consent(bank.db, "P000007", duo_codes="DUO:0000006;DUO:0000046", consent_date=date(2024, 6, 1),
                      actor=ACTOR)
    bb.withdraw_consent(bank.db, "P000010", reason="asked", actor=ACTOR)
    bb.withdraw_consent(bank.db, "P000011", reason="asked", actor=ACTOR)
    bb.record_consent(bank.db, "P000011", duo_codes="DUO:0000042", consent_date=date(2025, 2, 1), actor=ACTOR)


@pytest.fixture
def big(bank: Bank) -> Bank:
    _more(bank)
    return bank


def _key(consent: biobank.ConsentInForce | None) -> object:
    """A stored consent as the rules read it: the date matters only to a time limit (TS)."""
    if consent is None:
        return None
    return (consent.codes, consent.consent_date if consent_rules.TS in consent.codes else None, consent.scope)


@pytest.mark.parametrize("types,volume", [(["SER"], None), (["SER"], 0.5), (["PL1"], None), (["SER", "PL1"], None)])
def test_groups_hold_each_candidate_under_its_consent_in_force(big: Bank, types: list[str], volume: float | None):
    one_by_one = biobank.consents_in_force(big.db, specimen_types=types, min_quantity=volume)
    expected: dict[object, list[str]] = {}
    for code, consent in one_by_one.items():
        expected.setdefault(_key(consent), []).append(code)
    groups = biobank.consent_groups(big.db, specimen_types=types, min_quantity=volume)
    assert {_key(g.consent): g.participants for g in groups} == expected
    assert all(g.count == len(g.participants) for g in groups)
    # the newest consent is the one in force; a withdrawn donor has none; time limits keep their dates apart
    in_force = {code: _key(g.consent) for g in groups for code in g.participants}
    assert in_force["P000007"] == (("DUO:0000006", "DUO:0000046"), None, "")
    assert in_force["P000010"] is None and in_force["P000011"] == (("DUO:0000042",), None, "")
    if "SER" in types:
        assert in_force["P000008"] != in_force["P000009"]


@pytest.mark.parametrize("most", [1, 10_000])
def test_groups_of_a_list_of_participants_skip_unknown_codes(big: Bank, monkeypatch: pytest.MonkeyPatch, most: int):
    # SQLite reads a few candidates by key, a good part of the bank through the signature index: both alike
    monkeypatch.setattr("lifebank.biobank.grouped_consents.MOST_OF_THE_BANK", most)
    codes = ["P000012", "P000010", "NOBODY", "P000001", "P000001"]
    groups = biobank.consent_groups(big.db, participant_codes=codes)
    expected: dict[object, list[str]] = {}
    for code, consent in biobank.consents_in_force(big.db, participant_codes=codes).items():
        expected.setdefault(_key(consent), []).append(code)
    assert {_key(g.consent): g.participants for g in groups} == expected
    assert sorted(c for g in groups for c in g.participants) == ["P000001", "P000010", "P000012"]
    assert biobank.consent_groups(big.db, participant_codes=[]) == []


@pytest.mark.parametrize("criteria", [biobank.TubeCriteria("SER"), biobank.TubeCriteria("SER", 0.5),
                                      biobank.TubeCriteria("SER", None, 0, "SER-SST"),
                                      biobank.TubeCriteria("SER", None, None, "PL1")])
def test_tube_counts_per_group_are_the_allocatable_tubes_of_its_members(big: Bank, criteria: biobank.TubeCriteria):
    held = biobank.allocatable_counts(big.db, specimen_type=criteria.specimen_type,
                                      min_quantity=criteria.min_quantity, max_freeze_thaw=criteria.max_freeze_thaw,
                                      sprec_prefix=criteria.sprec_prefix)
    groups = biobank.consent_groups(big.db, specimen_types=["SER"], count_tubes=[criteria])
    assert {_key(g.consent): g.specimens for g in groups} == \
        {_key(g.consent): sum(held.get(c, 0) for c in g.participants) for g in groups}
    # withdrawal made the donor's tubes undistributable: counted nowhere, though still on the shelf
    assert next(g for g in groups if g.consent is None).specimens == 0
    counts_only = biobank.consent_groups(big.db, specimen_types=["SER"], with_participants=False,
                                         count_tubes=[criteria])
    assert sorted((g.count, g.specimens) for g in counts_only) == sorted((g.count, g.specimens) for g in groups)
    assert all(g.participants == [] for g in counts_only)


def _reference(bank: Bank, request_id: int) -> dict[str, object]:
    """The consent check as one rule-table decision per participant, from the per-participant reading."""
    request, items = _load(bank.db, request_id, None)
    use = requested_use(request)
    eligible, excluded = [], []
    for code, stored in biobank.consents_in_force(bank.db, specimen_types=[i.specimen_type for i in items]).items():
        decision = consent_rules.evaluate(None if stored is None else consent_of(stored.codes, stored.consent_date,
                                                                                 stored.scope), use)
        if decision.permitted:
            eligible.append(code)
        else:
            excluded.append({"participant": code, "reason": "; ".join(m.render(None) for m in decision.reasons)})
    return {"eligible": eligible, "excluded": excluded}


@pytest.mark.parametrize("purposes,commercial,ethics", [(["GRU"], False, None), (["HMB"], True, "EC-1"),
                                                        (["HMB"], False, None), (["NRES"], False, None)])
def test_the_grouped_check_decides_every_candidate_as_one_by_one(big: Bank, purposes: list[str], commercial: bool,
                                                                 ethics: str | None):
    manager = big.principal("manager")
    draft = big.draft(purposes=purposes, commercial=commercial, ethics_approval=ethics,
                      items=[service.Item("SER", 1), service.Item("PL1", 1)])
    request_id = service.create_request(big.db, draft, principal=manager)
    result = service.check_request(big.db, request_id, manager)
    as_dict = result.as_dict()
    reference = _reference(big, request_id)
    assert as_dict["eligible"] == reference["eligible"]
    assert as_dict["excluded"] == reference["excluded"]
    assert result.excluded_count == len(result.excluded) == len(reference["excluded"])  # type: ignore[arg-type]
    assert [code for code, _reasons in result.excluded] == [e["participant"] for e in as_dict["excluded"]]
    if purposes == ["GRU"]:  # the time limit that ran out refuses, the one ahead does not
        assert "P000009" in as_dict["eligible"] and "P000008" not in as_dict["eligible"]


def test_feasibility_counts_are_the_check_and_the_allocatable_tubes(big: Bank):
    manager = big.principal("manager")
    draft = big.draft(purposes=["HMB"], items=[service.Item("SER", 1, None, 0.5), service.Item("PL1", 1)])
    request_id = service.create_request(big.db, draft, principal=manager)
    request, items = _load(big.db, request_id, None)
    eligible, excluded, tubes = _reference_counts(big, request_id)
    assert _counts(big.db, request, items) == (eligible, excluded, tubes)
    assert tubes > 0 and excluded > 0


def _reference_counts(bank: Bank, request_id: int) -> tuple[int, int, int]:
    """(eligible, excluded, tubes) the long way: the check of every candidate, then each eligible
    participant's allocatable tubes per item."""
    request, items = _load(bank.db, request_id, None)
    result = evaluate_request(bank.db, request, items)
    tubes = 0
    for item in items:
        held = biobank.allocatable_counts(bank.db, specimen_type=item.specimen_type, min_quantity=item.min_volume)
        tubes += sum(held.get(code, 0) for code in result.eligible)
    return len(result.eligible), result.excluded_count, tubes


@pytest.mark.parametrize("purposes", [["HMB"], ["GRU"]])
def test_feasibility_by_type_alone_comes_from_the_holdings_and_is_current(big: Bank, purposes: list[str]):
    """A request by specimen type alone is counted from the biobank's consent holdings: the same counts as
    the check and the allocatable tubes, and a tube reserved a moment ago is out of them at once."""
    from lifebank.access import consent_check

    manager = big.principal("manager")
    draft = big.draft(purposes=purposes, items=[service.Item("SER", 1), service.Item("PL1", 1)])
    request_id = service.create_request(big.db, draft, principal=manager)
    request, items = _load(big.db, request_id, None)
    assert consent_check._held(request, items)
    before = _reference_counts(big, request_id)
    assert service.feasibility(big.db, request_id, manager)["participants"] == before[0]
    assert _counts(big.db, request, items) == before and before[2] > 0
    service.allocate(big.db, _signed(big, purposes=purposes, items=[service.Item("SER", 1, 2)]),
                     principal=manager)
    after = _reference_counts(big, request_id)
    assert after[2] == before[2] - 2
    assert _counts(big.db, request, items) == after  # no minute's cache on this path


def _signed(bank: Bank, **changes: object) -> int:
    manager = bank.principal("manager")
    request_id = service.create_request(bank.db, bank.draft(**changes), principal=manager)
    service.appoint_committee(bank.db, request_id, ["rev2"], principal=manager)
    service.cast_vote(bank.db, request_id, "approve", principal=bank.principal("rev2"))
    service.add_document(bank.db, request_id, kind="agreement", filename="mta.pdf", content=b"%PDF",
                         content_type="application/pdf", principal=manager)
    service.sign_agreement(bank.db, request_id, principal=manager)
    return request_id


@pytest.mark.parametrize("total,per_participant,allow_last", [(None, 1, False), (3, 1, False), (4, 2, True),
                                                              (1, 1, False)])
def test_allocation_in_pages_takes_the_tubes_of_a_whole_reading(big: Bank, monkeypatch: pytest.MonkeyPatch,
                                                                total: int | None, per_participant: int,
                                                                allow_last: bool):
    manager = big.principal("manager")
    request_id = _signed(big, purposes=["GRU"], items=[service.Item("SER", per_participant, total)])
    request, items = _load(big.db, request_id, None)
    eligible = evaluate_request(big.db, request, items).eligible
    offers, held = biobank.allocatable_specimens(big.db, eligible, specimen_type="SER")
    expected = fulfilment.choose([fulfilment.Offer(o.barcode, o.participant) for o in offers], held,
                                 per_participant=per_participant, total=total, allow_last=allow_last)
    # pages of two or three participants: the reading crosses many pages and stops part-way
    monkeypatch.setattr(fulfilment, "FIRST_PAGE", 2)
    monkeypatch.setattr(fulfilment, "MIN_PAGE", 2)
    monkeypatch.setattr(fulfilment, "MAX_PAGE", 3)
    monkeypatch.setattr(fulfilment, "PAGE_WITHOUT_TOTAL", 3)
    service.allocate(big.db, request_id, principal=manager, allow_last_aliquot=allow_last)
    picked = sorted(p["barcode"] for p in service.pick_list(big.db, request_id, manager))
    assert picked == sorted(expected) and picked
    assert total is None or len(picked) == total
