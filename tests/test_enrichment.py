"""Enrichment, on by default: weights from Waterlog, ethics_review_id from LabTracks, as the reference.

Through real runs against the fake service's realistic records (tests/fixtures/assets/); the
selection rule is also pinned directly on `enrichment.nearest`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from gather_job.pipeline.enrichment import Weighing, nearest, query_time
from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService, Fault, Route

WEIGHTS = f"/api/v2/dataverse/mouse_weight_records/{assets.SUBJECT_ID}"
LABTRACKS = "/api/v2/labtracks/subject"


def _edit(folder: Path, name: str, change: Any) -> None:
    data = json.loads((folder / name).read_text())
    change(data)
    (folder / name).write_text(json.dumps(data, indent=3))


def _unfilled(folder: Path, *, unit: str | None = None) -> Path:
    """The asset with no weights and no ethics_review_id in its acquisition parts."""

    def clear(data: dict[str, Any]) -> None:
        data["ethics_review_id"] = None
        details = data.get("subject_details")
        if details:
            details["animal_weight_prior"] = details["animal_weight_post"] = None
            if unit:
                details["weight_unit"] = unit

    for name in ("acquisition_a.json", "acquisition_b.json"):
        _edit(folder, name, clear)
    return folder


def _findings(run: Any, prefix: str = "gather.enrichment") -> list[dict[str, Any]]:
    return [f for f in run.report()["findings"] if f["id"].startswith(prefix)]


def test_values_already_there_are_confirmed_quietly(gather, asset, service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url)
    assert run.code == 0, run.err
    assert _findings(run) == []
    weights = [r for r in service.requests if r.path == WEIGHTS]
    assert len(weights) == 1 and weights[0].query == {"acquisition_datetime": "2024-03-05T14:20:00"}
    assert "acquisition_datetime=2024-03-05T14%3A20%3A00" in weights[0].raw_path  # the rig's wall clock
    assert [r.query for r in service.requests if r.path == LABTRACKS] == [{"subject_id": assets.SUBJECT_ID}]


def test_the_weights_are_asked_before_the_files_are_read_and_corrected_if_the_clock_differs(  # type: ignore[no-untyped-def]
    gather, asset, service: FakeMetadataService
) -> None:
    """The settings' start, as its own clock showed it, starts the weights request while the models
    import; in the rig's zone (the pipeline's usual case) that is the request used. Sent in UTC, its
    clock is not the rig's: the acquisition's wall clock asks again, and that answer is the one used."""
    utc = assets.ACQUISITION_START.astimezone(UTC).isoformat()
    run = gather(_unfilled(asset()), service_url=service.url, acquisition_start_time=utc)
    assert run.code == 0, run.err
    asked = [r.query["acquisition_datetime"] for r in service.requests if r.path == WEIGHTS]
    # both asked (in threads: which reaches the server first depends on scheduling under load)
    assert sorted(asked) == sorted([query_time(assets.ACQUISITION_START.astimezone(UTC)), "2024-03-05T14:20:00"])
    details = run.file("acquisition.json")["subject_details"]
    assert details["animal_weight_prior"] == "23.1" and details["animal_weight_post"] == "23.4"
    calls = [c for c in run.report()["service_calls"] if "mouse_weight_records" in c]
    assert len(calls) == 2 and calls[-1].endswith("acquisition_datetime=2024-03-05T14%3A20%3A00")


def test_missing_values_are_filled_and_the_report_says_from_where(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(_unfilled(asset()), service_url=service.url)
    assert run.code == 0, run.err
    acquisition = run.file("acquisition.json")
    details = acquisition["subject_details"]
    assert details["animal_weight_prior"] == "23.1" and details["animal_weight_post"] == "23.4"
    assert details["weight_unit"] == "gram"
    assert acquisition["ethics_review_id"] == [assets.PROTOCOL]
    filled = _findings(run)
    assert [f["id"] for f in filled] == ["gather.enrichment.filled"] and filled[0]["severity"] == "info"
    assert "Waterlog 2024-03-05T20:05:00Z" in filled[0]["message"]
    enriched = run.report()["sources"]["acquisition.json"]["enriched"]
    assert set(enriched) == {"animal_weight_prior", "animal_weight_post", "ethics_review_id"}
    assert enriched["ethics_review_id"].endswith(f"{LABTRACKS}?subject_id={assets.SUBJECT_ID}")


def test_waterlog_grams_are_converted_to_the_acquisitions_unit(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(_unfilled(asset(), unit="kilogram"), service_url=service.url)
    details = run.file("acquisition.json")["subject_details"]
    assert details["animal_weight_prior"] == "0.0231" and details["weight_unit"] == "kilogram"


@pytest.mark.parametrize("replace", [False, True])
def test_existing_values_win_unless_replace_existing(gather, asset, service, replace: bool) -> None:  # type: ignore[no-untyped-def]
    records = assets.weight_records()
    records[0]["weight"] = 24.0
    service.add(WEIGHTS, Route(200, records))
    service.add(LABTRACKS, Route(200, [assets.labtracks_record(protocol="2115")]))
    run = gather(asset(), service_url=service.url, enrichment_settings={"replace_existing": replace})
    assert run.code == 0, run.err
    acquisition = run.file("acquisition.json")
    if replace:
        assert acquisition["subject_details"]["animal_weight_prior"] == "24.0"  # as Waterlog gives it
        assert acquisition["ethics_review_id"] == ["2115"]
        assert "gather.enrichment.disagrees" not in run.ids()
    else:
        assert acquisition["subject_details"]["animal_weight_prior"] == "23.1"
        assert acquisition["ethics_review_id"] == ["2109"]
        disagree = _findings(run, "gather.enrichment.disagrees")
        assert {f["location"] for f in disagree} == {"animal_weight_prior", "ethics_review_id"}
        assert all(f["severity"] == "warning" for f in disagree)


def test_a_failed_lookup_is_a_warning_naming_what_was_not_filled(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    service.inject(WEIGHTS, Fault("status", status=503, times=10))
    service.add(LABTRACKS, Route(406, {"detail": "Subject ID x is not valid."}))
    run = gather(_unfilled(asset()), service_url=service.url)
    assert run.code == 0, run.err  # enrichment never fails the upload
    failed = _findings(run, "gather.enrichment.lookup_failed")
    assert len(failed) == 2 and all(f["severity"] == "warning" for f in failed)
    messages = " ".join(f["message"] for f in failed)
    assert "animal_weight_prior and animal_weight_post was not filled from Waterlog" in messages
    assert "ethics_review_id was not filled from LabTracks" in messages and "HTTP 406" in messages


def test_no_records_is_a_note(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    service.add(WEIGHTS, Route(404, {"detail": "Not found"}))
    service.add(LABTRACKS, Route(200, []))
    run = gather(asset(), service_url=service.url)
    notes = _findings(run, "gather.enrichment.nothing_found")
    assert len(notes) == 2 and all(f["severity"] == "info" for f in notes)


def test_weights_without_subject_details_are_reported(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = _unfilled(asset())
    _edit(folder, "acquisition_a.json", lambda data: data.update(subject_details=None))
    run = gather(folder, service_url=service.url, raise_if_invalid=False)
    not_filled = _findings(run, "gather.enrichment.not_filled")
    assert not_filled and "23.1 g at 2024-03-05T20:05:00Z" in not_filled[0]["message"]


def test_disabled_enrichment_asks_nothing(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(), service_url=service.url, enrichment_settings={"enabled": False})
    assert run.code == 0, run.err
    assert service.count(WEIGHTS) == 0 and service.count(LABTRACKS) == 0


def test_offline_runs_say_they_did_not_enrich(gather, asset) -> None:  # type: ignore[no-untyped-def]
    run = gather(asset(with_subject=True, with_procedures=True))
    assert "gather.enrichment.skipped" in run.ids("info")


# -- the selection rule ------------------------------------------------------------------------------------

RIG = timezone(timedelta(hours=-7))
START = datetime(2024, 3, 5, 14, 20, tzinfo=RIG)


def _at(hour: int, minute: int = 0, grams: str = "23", day: int = 5) -> Weighing:
    when = datetime(2024, 3, day, hour, minute, tzinfo=RIG).astimezone(UTC)
    return Weighing(Decimal(grams), when, when.isoformat())


def test_the_latest_before_and_the_earliest_after_on_the_acquisitions_day() -> None:
    records = [_at(9, grams="1"), _at(13, grams="2"), _at(16, grams="4"), _at(15, grams="3"), _at(23, grams="5")]
    records += [_at(13, 30, grams="9", day=4), _at(14, 30, grams="9", day=6)]  # other days at the rig
    prior, post = nearest(records, START)
    assert prior is not None and post is not None
    assert (prior.grams, post.grams) == (Decimal("2"), Decimal("3"))


def test_at_the_start_is_before_and_the_first_of_equal_times_wins() -> None:
    prior, post = nearest([_at(14, 20, grams="1"), _at(14, 20, grams="2"), _at(15, grams="3")], START)
    assert prior is not None and prior.grams == Decimal("1")
    assert post is not None and post.grams == Decimal("3")


def test_the_query_is_the_rigs_wall_clock_to_the_second() -> None:
    assert query_time(datetime(2024, 3, 5, 14, 20, 7, 123456, tzinfo=RIG)) == "2024-03-05T14:20:07"
