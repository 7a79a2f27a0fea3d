"""Merging without re-validation gives exactly what aind-data-schema's validated `+` gives."""

from __future__ import annotations

from functools import reduce
from typing import Any

import pytest

from gather_job.findings import Findings
from gather_job.merge import merge_acquisitions, merge_instruments, merge_quality_control
from gather_job.trusted import construct_merges
from tests.fixtures import assets

RESTORED = {"manipulations", "acquisition_start_tz", "instrument_id"}


def parts(variant: str, prefix: str) -> list[tuple[str, Any]]:
    files = assets.asset_files(variant)
    return [(name, model) for name, model in sorted(files.items()) if name.startswith(prefix)]


def library(items: list[tuple[str, Any]]) -> Any:
    return reduce(lambda a, b: a + b, [model for _, model in items])


@pytest.mark.parametrize("variant", ["valid", "three_instruments"])
def test_instruments(variant: str) -> None:
    items = parts(variant, "instrument")
    ours = merge_instruments(items, Findings()).model_dump(mode="json")
    theirs = library(items).model_dump(mode="json")
    theirs["instrument_id"] = ours["instrument_id"]  # the sorted join, on purpose
    assert ours == theirs


@pytest.mark.parametrize("variant", ["valid", "three_instruments"])
def test_acquisitions(variant: str) -> None:
    items = parts(variant, "acquisition")
    ours = merge_acquisitions(items, Findings()).model_dump(mode="json")
    theirs = library(items).model_dump(mode="json")
    for stream in ours["data_streams"]:
        stream["code"] = None  # restored by the job; the library drops it
    assert {k: v for k, v in ours.items() if k not in RESTORED} == {
        k: v for k, v in theirs.items() if k not in RESTORED
    }


def test_quality_control() -> None:
    items = [("qc_a.json", assets.quality_control_a()), ("qc_b.json", assets.quality_control_b())]
    assert merge_quality_control(items, Findings()).model_dump(mode="json") == library(items).model_dump(mode="json")


def test_the_library_is_restored_after_a_merge_even_when_it_fails() -> None:
    from aind_data_schema.core import acquisition, instrument

    before = (instrument.Instrument, acquisition.Acquisition, acquisition.DataStream)
    with pytest.raises(ValueError), construct_merges():
        raise ValueError("boom")
    assert (instrument.Instrument, acquisition.Acquisition, acquisition.DataStream) == before
    assert merge_acquisitions(parts("subject_details_twice", "acquisition"), Findings()) is None
    assert (instrument.Instrument, acquisition.Acquisition, acquisition.DataStream) == before
