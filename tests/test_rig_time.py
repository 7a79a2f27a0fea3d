"""Naive times are read as the rig's wall-clock time, so the validating machine's zone never shows.

The property that matters is at the bottom: the same naive acquisition validates to the same bytes
under TZ=UTC, America/Los_Angeles and Asia/Kolkata once `attach` has run, and to different bytes
without it (aind-data-schema's AwareDatetimeWithDefault calls `.astimezone()`).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import pytest
from aind_data_schema.base import AwareDatetimeWithDefault
from aind_data_schema.core.acquisition import Acquisition
from aind_data_schema.core.data_description import DataDescription
from aind_data_schema.core.instrument import Instrument
from aind_data_schema.core.model import Model
from aind_data_schema.core.procedures import Procedures
from aind_data_schema.core.processing import Processing
from aind_data_schema.core.quality_control import QualityControl
from aind_data_schema.core.subject import Subject
from pydantic import AwareDatetime, BaseModel, Field, NaiveDatetime, TypeAdapter

from gather_job.pipeline.datetime_keys import datetime_keys
from gather_job.pipeline.rig_time import Zone, attach, naive_paths, rig_zone
from tests.fixtures import assets

LA = ZoneInfo("America/Los_Angeles")
ACQ_KEYS = datetime_keys(Acquisition)
_OFFSET = re.compile(r"(Z|[+-]\d{2}:\d{2})$")


def _strip_offsets(data: Any, keys: frozenset[str]) -> Any:
    """The same document with the UTC offsets cut off its datetime strings: what a rig writes."""
    if isinstance(data, dict):
        return {
            k: _OFFSET.sub("", v) if k in keys and isinstance(v, str) else _strip_offsets(v, keys)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_strip_offsets(v, keys) for v in data]
    return data


def naive_acquisition(**update: Any) -> dict[str, Any]:
    data = _strip_offsets(assets.acquisition_a().model_dump(mode="json"), ACQ_KEYS)
    return {**data, **update}


# --- datetime_keys ---------------------------------------------------------------------------


class _Leaf(BaseModel):
    leaf_time: NaiveDatetime | None = None
    leaf_date: date | None = None
    back: _Node | None = None  # a cycle: the visited set must stop it


class _KindA(BaseModel):
    kind: Literal["a"] = "a"
    a_time: Annotated[AwareDatetime, Field(title="A")]


class _KindB(BaseModel):
    kind: Literal["b"] = "b"
    b_day: date


class _Node(BaseModel):
    plain: datetime
    library: AwareDatetimeWithDefault
    aliased: datetime | None = Field(default=None, alias="aliasedTime")
    only_date: date
    only_time: time
    nested: list[dict[str, _Leaf | None]] = []
    tagged: list[Annotated[_KindA | _KindB, Field(discriminator="kind")]] = []


_Leaf.model_rebuild()


def test_datetime_keys_walks_unions_lists_annotated_and_nested_models() -> None:
    keys = datetime_keys(_Node)
    assert keys == {"plain", "library", "aliased", "aliasedTime", "leaf_time", "a_time"}
    assert datetime_keys(_Node) is keys  # cached per class


def test_datetime_keys_of_the_core_models() -> None:
    assert {
        "acquisition_start_time",
        "acquisition_end_time",
        "stream_start_time",
        "stream_end_time",
        "stimulus_start_time",
        "stimulus_end_time",
    } <= ACQ_KEYS
    assert "acquisition_start_tz" not in ACQ_KEYS
    # Instrument's calibrations are timed (AwareDatetimeWithDefault); its modification_date is a date
    assert "calibration_date" in datetime_keys(Instrument)
    assert "modification_date" not in datetime_keys(Instrument)
    assert datetime_keys(DataDescription) == {"creation_time"}
    assert {"start_date_time", "end_date_time"} <= datetime_keys(Processing)
    assert {"start_date_time", "end_date_time"} <= datetime_keys(Model)
    assert "timestamp" in datetime_keys(QualityControl)
    assert "start_date" not in datetime_keys(Procedures)
    assert {"start_time", "end_time"} <= datetime_keys(Procedures)
    # Subject holds only dates (date_of_birth) and times of day (lights_on_time)
    assert not {"date_of_birth", "lights_on_time", "lights_off_time"} & datetime_keys(Subject)


# --- rig_zone --------------------------------------------------------------------------------


def _offset(zone: Zone | None) -> timedelta | None:
    assert zone is not None
    return zone.tz.utcoffset(None)


def test_an_iana_name_wins_over_the_written_offset_and_the_settings() -> None:
    part = {"acquisition_start_tz": "America/Los_Angeles", "acquisition_start_time": "2024-03-05T14:20:00+02:00"}
    zone = rig_zone([part], datetime(2024, 3, 5, tzinfo=UTC))
    assert zone is not None
    assert zone.tz == LA
    assert "acquisition_start_tz 'America/Los_Angeles'" in zone.source
    assert "disagree" not in zone.source


@pytest.mark.parametrize(
    ("value", "offset"),
    [(-7, timedelta(hours=-7)), (0, timedelta(0)), ("-07:00", timedelta(hours=-7)), ("+05:30", timedelta(minutes=330))],
)
def test_fixed_offsets_in_acquisition_start_tz(value: Any, offset: timedelta) -> None:
    zone = rig_zone([{"acquisition_start_tz": value}], None)
    assert _offset(zone) == offset
    assert repr(value) in zone.source  # type: ignore[union-attr]


def test_disagreeing_parts_use_the_earliest_start_and_say_so() -> None:
    # New York's part starts at 16:00-05:00 = 21:00Z, before the other's 14:20-07:00 = 21:20Z,
    # although its wall-clock time is later; it is also listed second.
    late = {"acquisition_start_tz": -7, "acquisition_start_time": "2024-03-05T14:20:00"}
    early = {"acquisition_start_tz": "America/New_York", "acquisition_start_time": "2024-03-05T16:00:00"}
    zone = rig_zone([late, early], None)
    assert zone is not None
    assert zone.tz == ZoneInfo("America/New_York")
    assert "part 2" in zone.source
    assert "disagree" in zone.source
    assert "America/New_York" in zone.source
    assert "UTC-07:00" in zone.source


@pytest.mark.parametrize("bad", ["Mars/Olympus_Mons", "../../etc/passwd", "", "America/", 99, True, 1.5, None, [1]])
def test_an_invalid_zone_is_skipped(bad: Any) -> None:
    part = {"acquisition_start_tz": bad, "acquisition_start_time": "2024-03-05T14:20:00-07:00"}
    zone = rig_zone([part], None)
    assert _offset(zone) == timedelta(hours=-7)
    assert "acquisition_start_time" in zone.source  # type: ignore[union-attr]


def test_the_offset_written_in_a_start_time_comes_next() -> None:
    parts = [
        {"acquisition_start_time": "2024-03-05T14:20:00+05:30"},
        {"acquisition_start_time": "2024-03-05T08:00:00Z"},  # 08:00Z is before 08:50Z
    ]
    zone = rig_zone(parts, datetime(2024, 3, 5, tzinfo=timezone(timedelta(hours=3))))
    assert zone is not None
    assert zone.tz == UTC
    assert "acquisition_start_time" in zone.source
    assert "disagree" in zone.source
    assert _offset(rig_zone(parts[:1], None)) == timedelta(minutes=330)


def test_the_settings_start_comes_last_as_a_fixed_offset() -> None:
    naive = [{"acquisition_start_time": "2024-07-05T14:20:00"}]
    zone = rig_zone(naive, datetime(2024, 7, 5, 14, 20, tzinfo=LA))
    assert zone is not None
    assert zone.tz == timezone(timedelta(hours=-7))  # the offset, not the named zone
    assert "settings" in zone.source


def test_no_zone_when_nothing_says() -> None:
    assert rig_zone([{"acquisition_start_time": "2024-03-05T14:20:00"}], datetime(2024, 3, 5, 14, 20)) is None
    assert rig_zone([], None) is None
    assert rig_zone([{"acquisition_start_tz": "Nowhere/Special"}], None) is None


# --- attach and naive_paths ------------------------------------------------------------------


def test_a_named_zone_follows_dst_value_by_value() -> None:
    data: dict[str, Any] = {
        "data_streams": [{"stream_start_time": "2024-01-15T10:00:00"}, {"stream_start_time": "2024-07-15T10:00:00"}]
    }
    out, paths = attach(data, LA, ACQ_KEYS)
    assert [s["stream_start_time"] for s in out["data_streams"]] == [
        "2024-01-15T10:00:00-08:00",
        "2024-07-15T10:00:00-07:00",
    ]
    assert paths == ["data_streams[0].stream_start_time", "data_streams[1].stream_start_time"]


def test_gaps_and_repeats_take_the_offset_before_the_change() -> None:
    data = {"start_time": "2024-03-10T02:30:00", "end_time": "2024-11-03T01:30:00"}
    out, _ = attach(data, LA, ACQ_KEYS)
    assert out == {"start_time": "2024-03-10T02:30:00-08:00", "end_time": "2024-11-03T01:30:00-07:00"}


@pytest.mark.parametrize(
    ("tz", "expected"),
    [
        (timezone(timedelta(hours=5, minutes=30)), "2024-03-05T14:20:00+05:30"),
        (UTC, "2024-03-05T14:20:00+00:00"),
        (timezone(timedelta(hours=-7)), "2024-03-05T14:20:00-07:00"),
    ],
)
def test_fixed_offsets(tz: Any, expected: str) -> None:
    assert attach({"acquisition_start_time": "2024-03-05T14:20:00"}, tz, ACQ_KEYS)[0] == {
        "acquisition_start_time": expected
    }


@pytest.mark.parametrize(
    ("naive", "aware"),
    [
        ("2024-03-05T14:20", "2024-03-05T14:20-08:00"),
        ("2024-03-05 14:20:00", "2024-03-05T14:20:00-08:00"),
        ("2024-03-05T14:20:00.5", "2024-03-05T14:20:00.500-08:00"),
        ("2024-03-05T14:20:00.000", "2024-03-05T14:20:00.000-08:00"),
        ("2024-03-05T14:20:00,25", "2024-03-05T14:20:00.250-08:00"),
        ("2024-03-05T14:20:00.123456", "2024-03-05T14:20:00.123456-08:00"),
        ("2024-03-05T14:20:00.1234", "2024-03-05T14:20:00.123400-08:00"),
    ],
)
def test_precision_is_kept_and_the_result_means_the_same_wall_clock(naive: str, aware: str) -> None:
    out, _ = attach({"acquisition_start_time": naive}, LA, ACQ_KEYS)
    assert out["acquisition_start_time"] == aware
    wall = TypeAdapter(NaiveDatetime).validate_python(naive)
    assert TypeAdapter(AwareDatetime).validate_python(aware) == wall.replace(tzinfo=LA)


def test_everything_else_is_left_alone_and_the_input_is_not_mutated() -> None:
    data: dict[str, Any] = {
        "acquisition_start_time": "2024-03-05T14:20:00Z",
        "acquisition_end_time": "2024-03-05T15:20:00-0700",
        "stream_start_time": "2024-03-05",  # date only: midnight at the rig
        "stream_end_time": 1709676000,
        "stimulus_start_time": None,
        "stimulus_end_time": "2024-13-05T10:00:00",  # invalid: left for the schema to report
        "start_time": " 2024-03-05T14:20:00",
        "notes": "2024-03-05T14:20:00",  # not a datetime field
        "data_streams": [{"stream_start_time": "2024-03-05T14:21:30", "notes": ["2024-03-05T14:20:00"]}],
    }
    before = copy.deepcopy(data)
    out, paths = attach(data, LA, ACQ_KEYS)
    assert data == before
    assert paths == ["stream_start_time", "data_streams[0].stream_start_time"]
    expected = copy.deepcopy(before)
    expected["stream_start_time"] = "2024-03-05T00:00:00-08:00"
    expected["data_streams"][0]["stream_start_time"] = "2024-03-05T14:21:30-08:00"
    assert out == expected
    assert out["data_streams"] is not data["data_streams"]
    assert out["data_streams"][0]["notes"] is not data["data_streams"][0]["notes"]
    assert naive_paths(data, ACQ_KEYS) == paths
    assert data == before


def test_a_list_under_a_datetime_key_counts_and_paths_keep_document_order() -> None:
    data = {"b": {"start_time": "2024-03-05T14:20:00"}, "start_time": ["2024-03-05T14:20:00", "x"], "a": []}
    out, paths = attach(data, UTC, frozenset({"start_time"}))
    assert paths == ["b.start_time", "start_time[0]"]
    assert out["start_time"] == ["2024-03-05T14:20:00+00:00", "x"]
    assert list(out) == ["b", "start_time", "a"]


def test_naive_paths_of_a_dumped_and_a_naive_acquisition() -> None:
    assert naive_paths(assets.acquisition_a().model_dump(mode="json"), ACQ_KEYS) == []
    paths = naive_paths(naive_acquisition(), ACQ_KEYS)
    assert paths[:3] == ["acquisition_start_time", "acquisition_end_time", "data_streams[0].stream_start_time"]
    assert "stimulus_epochs[0].stimulus_start_time" in paths


def test_deep_documents_do_not_hit_the_recursion_limit() -> None:
    data: Any = {"start_time": "2024-03-05T14:20:00"}
    for _ in range(sys.getrecursionlimit() * 3):
        data = {"x": [data]}
    out, paths = attach(data, UTC, frozenset({"start_time"}))
    assert len(paths) == 1
    assert paths[0].endswith("x[0].start_time")
    while "x" in out:
        out = out["x"][0]
    assert out == {"start_time": "2024-03-05T14:20:00+00:00"}


# --- the property: the validating machine's zone never shows ----------------------------------

_CHILD = """
import json, sys, warnings
warnings.simplefilter("ignore")
from aind_data_schema.core.acquisition import Acquisition
docs = json.load(sys.stdin)
print(json.dumps({name: Acquisition.model_validate(doc).model_dump_json() for name, doc in docs.items()}))
"""


def _validate_under(zones: list[str], docs: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Validate `docs` in one fresh interpreter per process time zone, all at once."""
    children = {
        tz: subprocess.Popen(
            [sys.executable, "-c", _CHILD],
            env={**os.environ, "TZ": tz},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tz in zones
    }
    results = {}
    for tz, child in children.items():
        out, err = child.communicate(json.dumps(docs), timeout=120)
        assert child.returncode == 0, err
        results[tz] = json.loads(out)
    return results


@pytest.mark.slow
def test_attached_acquisitions_validate_to_the_same_bytes_in_every_process_zone() -> None:
    fixed = naive_acquisition()  # the dump keeps acquisition_start_tz = -7
    named = naive_acquisition(acquisition_start_tz="America/Los_Angeles")
    docs: dict[str, Any] = {"naive": fixed}
    for name, doc in (("fixed", fixed), ("named", named)):
        zone = rig_zone([doc], None)
        assert zone is not None
        docs[name] = attach(doc, zone.tz, ACQ_KEYS)[0]
    results = _validate_under(["UTC", "America/Los_Angeles", "Asia/Kolkata"], docs)
    utc, la, kolkata = results.values()

    assert utc["fixed"] == la["fixed"] == kolkata["fixed"]
    assert utc["named"] == la["named"] == kolkata["named"]
    # -7 is what the fixture was written with, so the attached document is the original one again
    assert json.loads(utc["fixed"]) == json.loads(assets.acquisition_a().model_dump_json())
    assert json.loads(utc["named"])["acquisition_start_time"] == "2024-03-05T14:20:00-08:00"  # PST in March

    # without attach the library reads the same naive file in the validating machine's zone
    assert len({utc["naive"], la["naive"], kolkata["naive"]}) == 3
    starts = [json.loads(r["naive"])["acquisition_start_time"] for r in (utc, la, kolkata)]
    assert starts == ["2024-03-05T14:20:00Z", "2024-03-05T14:20:00-08:00", "2024-03-05T14:20:00+05:30"]


def test_the_raw_screen_finds_every_naive_time_the_walk_would() -> None:
    from gather_job.pipeline.rig_time import may_hold_naive

    aware = assets.acquisition_a().model_dump_json(indent=3).encode()
    assert not may_hold_naive(aware, ACQ_KEYS)  # the common case: the walk is skipped
    for naive in (
        b'{"acquisition_start_time": "2024-03-05T14:20:00"}',
        b'{"stream_end_time":"2024-03-05 14:20"}',
        b'{"stream_start_time": "2024-03-05"}',
        b'{"a": {"stimulus_start_time" :  "2024-03-05T14:20:00.123456"}}',
        b'{"acquisition_start_time": "2024-03-05T14:20:00\\u002b07:00"}',  # escaped: let the walk decide
    ):
        assert may_hold_naive(naive, ACQ_KEYS), naive
    assert not may_hold_naive(b'{"notes": "2024-03-05T14:20:00"}', ACQ_KEYS)


def test_the_shipped_datetime_keys_are_the_walk_of_the_installed_library() -> None:
    """`datetime_keys_known` answers for the pinned aind-data-schema; after a lock change, regenerate it:
    `python -m gather_job.pipeline.datetime_keys`."""
    import aind_data_schema

    from gather_job import schema
    from gather_job.pipeline import datetime_keys_known
    from gather_job.pipeline.datetime_keys import known_module, walk

    assert aind_data_schema.__version__ == datetime_keys_known.LIBRARY, "regenerate datetime_keys_known.py"
    assert (Path(datetime_keys_known.__file__).read_text(encoding="utf-8")) == known_module()
    for kind in schema.CORE_FILES:
        model = schema.model_class(kind)
        shipped, walked = datetime_keys(model), walk(model)
        assert shipped == walked and shipped.opaque == walked.opaque, kind


def test_another_library_release_or_class_is_walked(monkeypatch: pytest.MonkeyPatch) -> None:
    from gather_job.pipeline import datetime_keys_known
    from gather_job.pipeline.datetime_keys import walk

    monkeypatch.setattr(datetime_keys_known, "LIBRARY", "0.0.0")
    datetime_keys.cache_clear()
    try:
        found = datetime_keys(Acquisition)
        assert found == walk(Acquisition) and found.opaque == walk(Acquisition).opaque
        assert datetime_keys(_Node) == walk(_Node)
    finally:
        datetime_keys.cache_clear()


def test_each_part_reads_its_naive_times_in_the_zone_it_names_and_a_disagreement_is_a_warning(  # type: ignore[no-untyped-def]
    gather, asset, service
) -> None:
    """Two parts naming different zones: neither part's times are moved into the other's zone; a warning
    (not a hidden note) says the merged file can keep one zone only."""
    folder = asset()
    for name, tz in (("acquisition_a.json", "America/Los_Angeles"), ("acquisition_b.json", "America/Chicago")):
        text = re.sub(r"(\d{2}:\d{2}:\d{2})-07:00", r"\1", (folder / name).read_text())
        data = json.loads(text)
        data["acquisition_start_tz"] = tz
        (folder / name).write_text(json.dumps(data))
    run = gather(folder, service_url=service.url, acquisition_start_time=None)
    (warned,) = [f for f in run.report()["findings"] if f["id"] == "gather.time.parts_disagree"]
    assert warned["severity"] == "warning" and set(warned["files"]) == {"acquisition_a.json", "acquisition_b.json"}
    merged = json.loads((run.output / "acquisition.json").read_text()) if run.code == 0 else None
    assert merged is not None, run.err
    starts = sorted(s["stream_start_time"] for s in merged["data_streams"])
    assert starts == ["2024-03-05T14:21:30-08:00", "2024-03-05T14:23:00-06:00"]  # each in its own zone (winter)
    # parts that agree (one by name, one by its written offset) are not told anything
    folder2 = asset("three_instruments")
    run2 = gather(folder2, service_url=service.url)
    assert "gather.time.parts_disagree" not in run2.ids("warning")
