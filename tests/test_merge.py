"""The owned fold gives what aind-data-schema's validated `+` gives, except `fold.DIFFERENCES`.

Pinned on the fixture variants, on the benchmark's two-rig asset, and on generated parts
(hypothesis): copies of valid parts shifted in time (so their streams fuse, or do not, or cannot),
with other ids, notes, experimenters, ethics ids and subject details. Where the library's `+`
raises, the fold raises the same error.
"""

from __future__ import annotations

import operator
from datetime import timedelta
from functools import reduce
from typing import Any

import pytest
from bench import scenarios
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gather_job.findings import Findings
from gather_job.pipeline import fold
from gather_job.pipeline.merge import merge_acquisitions, merge_instruments, merge_quality_control
from tests.fixtures import assets

STREAM_CODE = "data_streams[].code"
assert set(fold.DIFFERENCES) == {"instrument_id", "acquisition_start_tz", "manipulations", STREAM_CODE}


def parts(variant: str, prefix: str) -> list[tuple[str, Any]]:
    files = assets.asset_files(variant)
    return [(name, model) for name, model in sorted(files.items()) if name.startswith(prefix)]


def library(models: list[Any]) -> Any:
    return reduce(operator.add, models)


def without_differences(ours: Any, theirs: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both dumps with the deliberate differences taken out, and nothing else."""
    mine, other = ours.model_dump(mode="json"), theirs.model_dump(mode="json")
    for name in fold.DIFFERENCES:
        if name != STREAM_CODE:
            mine.pop(name, None)
            other.pop(name, None)
    for stream, their_stream in zip(mine.get("data_streams", []), other.get("data_streams", []), strict=False):
        if their_stream.get("code") is None:  # dropped by the library where streams fused
            stream["code"] = None
    return mine, other


def assert_same(models: list[Any], ours: Any) -> None:
    mine, theirs = without_differences(ours, library(models))
    assert mine == theirs
    assert ours.instrument_id == fold.sorted_id([m.instrument_id for m in models])


@pytest.mark.parametrize("variant", ["valid", "three_instruments"])
def test_instruments(variant: str) -> None:
    items = parts(variant, "instrument")
    assert_same([m for _, m in items], merge_instruments(items, Findings()))


@pytest.mark.parametrize("variant", ["valid", "three_instruments"])
def test_acquisitions(variant: str) -> None:
    items = parts(variant, "acquisition")
    merged = merge_acquisitions(items, Findings())
    assert_same([m for _, m in items], merged)
    assert merged.manipulations == [m for _, part in items for m in part.manipulations]
    earliest = min((m for _, m in items), key=lambda m: m.acquisition_start_time)
    assert merged.acquisition_start_tz == earliest.acquisition_start_tz


@pytest.mark.slow
def test_the_benchmark_asset_merges_the_same() -> None:
    asset = scenarios.build(2)
    instruments = [scenarios.ephys_instrument(2), scenarios.slap2_instrument(2)]
    acquisitions = [scenarios.ephys_acquisition(2), scenarios.slap2_acquisition(2)]
    assert asset is not None
    assert_same(instruments, fold.fold_instruments(instruments))
    assert_same(acquisitions, fold.fold_acquisitions(acquisitions, warn=lambda message: None))


def test_quality_control() -> None:
    items = [("qc_a.json", assets.quality_control_a()), ("qc_b.json", assets.quality_control_b())]
    assert merge_quality_control(items, Findings()).model_dump(mode="json") == library(
        [m for _, m in items]
    ).model_dump(mode="json")


def test_the_library_is_never_patched() -> None:
    from aind_data_schema.core import acquisition, instrument

    before = (instrument.Instrument, acquisition.Acquisition, acquisition.DataStream)
    merge_acquisitions(parts("valid", "acquisition"), Findings())
    assert merge_acquisitions(parts("subject_details_twice", "acquisition"), Findings()) is None
    assert (instrument.Instrument, acquisition.Acquisition, acquisition.DataStream) == before


# -- generated parts ---------------------------------------------------------------------------------

ACQUISITIONS = [assets.acquisition_a(), assets.acquisition_b(), assets.acquisition_c()]
INSTRUMENTS = [assets.instrument_a(), assets.instrument_b(), assets.instrument_c()]
IDS = st.sampled_from([assets.INSTRUMENT_A_ID, assets.INSTRUMENT_B_ID, assets.INSTRUMENT_C_ID, "A", "B_C"])
NOTES = st.one_of(st.none(), st.sampled_from(["", "left", "right\nline"]))
PEOPLE = st.lists(st.sampled_from(["Jane Doe", "John Roe", "Ann Poe"]), max_size=3)
ETHICS = st.one_of(st.none(), st.lists(st.sampled_from(["2109", "2115", "1"]), max_size=3))


def _moved(item: Any, delta: timedelta, start: str, end: str) -> Any:
    return item.model_copy(update={start: getattr(item, start) + delta, end: getattr(item, end) + delta})


def _shifted(part: Any, minutes: int) -> Any:
    """The part moved in time as a whole (it stays valid): its streams and epochs move with it."""
    delta = timedelta(minutes=minutes)
    streams = [_moved(s, delta, "stream_start_time", "stream_end_time") for s in part.data_streams]
    epochs = [_moved(e, delta, "stimulus_start_time", "stimulus_end_time") for e in part.stimulus_epochs]
    return part.model_copy(
        update={
            "acquisition_start_time": part.acquisition_start_time + delta,
            "acquisition_end_time": part.acquisition_end_time + delta,
            "data_streams": streams,
            "stimulus_epochs": epochs,
        }
    )


@st.composite
def acquisition_parts(draw: st.DrawFn) -> list[Any]:
    count = draw(st.integers(min_value=2, max_value=4))
    made = []
    for _ in range(count):
        base = draw(st.sampled_from(ACQUISITIONS))
        part = _shifted(base, draw(st.sampled_from([0, 0, 1, -1, 2, -2, 3, 5, -4, 90])))
        update: dict[str, Any] = {
            "instrument_id": draw(IDS),
            "notes": draw(NOTES),
            "experimenters": draw(PEOPLE),
            "ethics_review_id": draw(ETHICS),
            "protocol_id": draw(st.lists(st.sampled_from(["p1", "p2"]), max_size=2)),
        }
        if not draw(st.booleans()):
            update["subject_details"] = None
        made.append(part.model_copy(update=update))
    return made


@st.composite
def instrument_parts(draw: st.DrawFn) -> list[Any]:
    count = draw(st.integers(min_value=2, max_value=4))
    made = []
    for _ in range(count):
        base = draw(st.sampled_from(INSTRUMENTS))
        update: dict[str, Any] = {
            "instrument_id": draw(IDS),
            "notes": draw(NOTES),
            "modification_date": base.modification_date + timedelta(days=draw(st.integers(-3, 3))),
        }
        if draw(st.booleans()):
            update["calibrations"] = None
        made.append(base.model_copy(update=update))
    return made


def _outcomes(ours: Any, models: list[Any]) -> None:
    try:
        theirs = library(models)
    except ValueError as exc:
        with pytest.raises(ValueError, match=None) as caught:
            ours()
        assert str(caught.value).splitlines()[0] == str(exc).splitlines()[0]
        return
    mine, other = without_differences(ours(), theirs)
    assert mine == other


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(acquisition_parts())
def test_generated_acquisitions_fold_as_the_library_adds(models: list[Any]) -> None:
    _outcomes(lambda: fold.fold_acquisitions(models, warn=lambda message: None), models)


@pytest.mark.slow
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instrument_parts())
def test_generated_instruments_fold_as_the_library_adds(models: list[Any]) -> None:
    _outcomes(lambda: fold.fold_instruments(models), models)


def test_a_fused_stream_that_outgrows_its_group_raises_as_the_library_does() -> None:
    """Streams S (0), T (-2 min) and U (+2 min): T and U each overlap S, but S+T no longer overlaps U."""
    base = assets.acquisition_a().model_copy(update={"subject_details": None, "manipulations": []})
    first = _shifted(base, 0)
    second = _shifted(base, -2)
    extra = _shifted(base, 2).data_streams[0]
    second = second.model_copy(update={"data_streams": [*second.data_streams, extra]})
    with pytest.raises(ValueError, match="non-overlapping") as theirs:
        library([first, second])
    with pytest.raises(ValueError, match="non-overlapping") as ours:
        fold.fold_acquisitions([first, second], warn=lambda message: None)
    assert str(ours.value) == str(theirs.value)


def test_a_shared_device_is_an_error_but_the_merge_is_the_librarys() -> None:
    """The library's `+` merges instruments that share a device name (it keeps the first copy and logs a
    warning); the reference wrote that instrument.json. The error stays, so raise_if_invalid refuses the
    upload; with raise_if_invalid false the file is what the reference wrote, not missing."""
    from tests.fixtures.assets import variants

    files = variants.asset_files("shared_device")
    parts = [(name, files[name]) for name in ("instrument_a.json", "instrument_b.json")]
    findings = Findings()
    merged = merge_instruments(parts, findings)
    assert "gather.merge.shared_device" in {f.id for f in findings if f.severity.value == "error"}
    assert merged is not None
    assert merged.model_dump(mode="json") == (parts[0][1] + parts[1][1]).model_dump(mode="json")
