"""Enrichment checks the service's answers before filling the acquisition from them.

Waterlog and LabTracks records are filled into acquisition.json, which is uploaded: a record of another
subject, a weight that is no finite positive number, a time that cannot be read, a protocol number
that is not a plain string or integer, or records that contradict each other are each a warning
naming the URL, and nothing is filled from them. Through real runs against the fake service.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from aind_data_schema.core.acquisition import Acquisition, AcquisitionSubjectDetails
from pydantic import ValidationError

from gather_job.pipeline import enrichment
from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService, Route
from tests.test_enrichment import LABTRACKS, WEIGHTS, _findings, _unfilled

UNUSABLE, OTHER, CONTRADICTORY = (
    "gather.enrichment.unusable",
    "gather.enrichment.other_subject",
    "gather.enrichment.contradictory",
)


def _weights(service: FakeMetadataService, change: Any) -> None:
    records = assets.weight_records()
    for record in records:
        change(record)
    service.add(WEIGHTS, Route(200, records))


def _labtracks(service: FakeMetadataService, *records: dict[str, Any]) -> None:
    service.add(LABTRACKS, Route(200, list(records)))


def _run(gather, asset, service) -> Any:  # type: ignore[no-untyped-def]
    run = gather(_unfilled(asset()), service_url=service.url)
    assert run.code == 0, run.err  # enrichment never fails the upload
    return run


def _one(run: Any, finding_id: str, path: str) -> dict[str, Any]:
    """The single warning `finding_id`, which names the URL asked."""
    found = _findings(run, finding_id)
    assert len(found) == 1, _findings(run)
    assert found[0]["severity"] == "warning" and path in found[0]["message"], found[0]
    return found[0]


def _weights_filled(run: Any) -> tuple[Any, Any]:
    details = run.file("acquisition.json")["subject_details"]
    return details["animal_weight_prior"], details["animal_weight_post"]


# -- Waterlog ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("weight", [-5, 0, "23.1g", "1E+400", "NaN", True, {"g": 23.1}, "1E-400"])
def test_a_weight_that_is_no_finite_positive_number_is_not_filled(gather, asset, service, weight: Any) -> None:  # type: ignore[no-untyped-def]
    _weights(service, lambda record: record.update(weight=weight))
    run = _run(gather, asset, service)
    assert _weights_filled(run) == (None, None)
    found = _one(run, UNUSABLE, WEIGHTS)
    assert "cannot be read" in found["message"] and found["location"] == "animal_weight_prior"
    assert "gather.enrichment.nothing_found" not in run.ids()  # the records were there, unreadable
    assert run.file("acquisition.json")["ethics_review_id"] == [assets.PROTOCOL]  # LabTracks is still used


def test_a_weight_past_a_doubles_range_in_the_json_itself_is_not_filled(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    raw = json.dumps(assets.weight_records()).replace("23.1", "1E+400").encode()
    service.add(WEIGHTS, Route(200, raw=raw))
    run = _run(gather, asset, service)
    assert _weights_filled(run) == (None, None)
    _one(run, UNUSABLE, WEIGHTS)


def test_a_weight_sent_as_a_decimal_string_is_read(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    _weights(service, lambda record: record.update(weight=str(record["weight"])))
    run = _run(gather, asset, service)
    assert _weights_filled(run) == ("23.1", "23.4")
    assert _findings(run, "gather.enrichment.unusable") == []


def test_a_weighing_without_a_utc_offset_on_the_day_is_not_used(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    _weights(service, lambda record: record.update(weight_datetime=record["weight_datetime"].rstrip("Z")))
    run = _run(gather, asset, service)
    assert _weights_filled(run) == (None, None)
    assert "weight_datetime" in _one(run, UNUSABLE, WEIGHTS)["message"]


def test_an_unreadable_weighing_of_another_day_does_not_stop_the_days_own(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    records = assets.weight_records()
    records.append(assets.weight_record(assets.SUBJECT_ID, -1.0, assets.WEIGHED_BEFORE.replace(day=1), "old"))
    service.add(WEIGHTS, Route(200, records))
    run = _run(gather, asset, service)
    assert _weights_filled(run) == ("23.1", "23.4")
    assert _findings(run, UNUSABLE) == []


def test_weighings_of_another_mouse_are_not_used(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    _weights(service, lambda record: record.update(mouse_id="999999"))
    run = _run(gather, asset, service)
    assert _weights_filled(run) == (None, None)
    found = _one(run, OTHER, WEIGHTS)
    assert "999999" in found["message"] and found["value"] == ["999999"]


def test_one_weighing_of_another_mouse_makes_the_whole_answer_untrusted(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    records = assets.weight_records()
    records[1]["mouse_id"] = "999999"
    service.add(WEIGHTS, Route(200, records))
    run = _run(gather, asset, service)
    assert _weights_filled(run) == (None, None)
    _one(run, OTHER, WEIGHTS)


def test_two_weights_at_the_same_time_are_contradictory_and_neither_is_filled(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    records = assets.weight_records()
    records.insert(1, {**records[0], "record_id": "twin", "weight": 25.0})
    service.add(WEIGHTS, Route(200, records))
    run = _run(gather, asset, service)
    assert _weights_filled(run) == (None, "23.4")  # the other weighing is fine
    found = _one(run, CONTRADICTORY, WEIGHTS)
    assert found["location"] == "animal_weight_prior" and found["value"] == ["23.1", "25.0"]


def test_a_waterlog_answer_that_is_not_a_list_is_a_warning(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    service.add(WEIGHTS, Route(200, {"weight": 23.1}))
    run = _run(gather, asset, service)
    assert _weights_filled(run) == (None, None)
    _one(run, UNUSABLE, WEIGHTS)


# -- LabTracks ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [{"nested": [1, 2]}, [2109], 2109.0, True])
def test_a_protocol_number_that_is_no_string_or_integer_is_not_filled(gather, asset, service, protocol: Any) -> None:  # type: ignore[no-untyped-def]
    _labtracks(service, {**assets.labtracks_record(), "protocol_number": protocol})
    run = _run(gather, asset, service)
    assert run.file("acquisition.json")["ethics_review_id"] is None
    assert "protocol_number" in _one(run, UNUSABLE, LABTRACKS)["message"]
    assert _weights_filled(run) == ("23.1", "23.4")  # Waterlog is still used


def test_an_integer_protocol_number_is_filled_as_a_string(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    _labtracks(service, {**assets.labtracks_record(), "protocol_number": 2109})
    run = _run(gather, asset, service)
    assert run.file("acquisition.json")["ethics_review_id"] == ["2109"]
    assert _findings(run, UNUSABLE) == []


def test_a_labtracks_record_of_another_subject_is_not_used(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    _labtracks(service, assets.labtracks_record(subject_id="999999", protocol="9999"))
    run = _run(gather, asset, service)
    assert run.file("acquisition.json")["ethics_review_id"] is None
    assert "999999" in _one(run, OTHER, LABTRACKS)["message"]


@pytest.mark.parametrize("order", [1, -1])
def test_labtracks_records_naming_different_protocols_fill_nothing(gather, asset, service, order: int) -> None:  # type: ignore[no-untyped-def]
    _labtracks(service, *[assets.labtracks_record(), assets.labtracks_record(protocol="9999")][::order])
    run = _run(gather, asset, service)
    assert run.file("acquisition.json")["ethics_review_id"] is None
    found = _one(run, CONTRADICTORY, LABTRACKS)
    assert sorted(found["value"]) == sorted([assets.PROTOCOL, "9999"])


def test_labtracks_records_agreeing_on_the_protocol_fill_it(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    _labtracks(service, assets.labtracks_record(), assets.labtracks_record())
    run = _run(gather, asset, service)
    assert run.file("acquisition.json")["ethics_review_id"] == [assets.PROTOCOL]
    assert _findings(run, CONTRADICTORY) == []


# -- what is filled is valid for its field -----------------------------------------------------------------


def test_filled_values_are_what_the_library_validates_for_the_field(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    run = _run(gather, asset, service)
    acquisition = Acquisition.model_validate_json((run.output / "acquisition.json").read_text())
    assert acquisition.subject_details is not None
    assert acquisition.subject_details.animal_weight_prior == Decimal("23.1")
    assert acquisition.ethics_review_id == [assets.PROTOCOL]
    weight = enrichment._adapter(AcquisitionSubjectDetails, "animal_weight_prior")
    assert weight.validate_python(Decimal("23.1")) == Decimal("23.1")
    with pytest.raises(ValidationError):
        weight.validate_python("23.1g")
    with pytest.raises(ValidationError):
        enrichment._adapter(Acquisition, "ethics_review_id").validate_python([{"nested": [1, 2]}])


@pytest.mark.parametrize(
    ("value", "grams"),
    [(23.1, Decimal("23.1")), ("24.0", Decimal("24.0")), (7, Decimal(7)), (-5, None), ("1E+400", None), (None, None)],
)
def test_grams_of(value: Any, grams: Decimal | None) -> None:
    assert enrichment.grams_of(value) == grams
