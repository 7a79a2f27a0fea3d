"""The owned `validate_time_constraints` says exactly what aind-data-schema's says, on every fixture.

Every time field the library checks (an `Annotated[..., TimeValidation.*]` field of any object
under the acquisition, the processing or the subject) is moved before the acquisition's start and
after its end in turn, in assets of eight modalities; ours and the library's must both pass, or
both raise the same message. The merged instrument's device names are pinned the same way.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gather_job.pipeline import time_constraints
from gather_job.pipeline.documents import device_names
from tests.fixtures import assets, modalities

EARLY = datetime(2001, 1, 1, tzinfo=UTC)
LATE = datetime(2091, 1, 1, tzinfo=UTC)


def _load(folder: Path, prefix: str) -> list[Any]:
    from aind_data_schema.core.acquisition import Acquisition
    from aind_data_schema.core.instrument import Instrument

    model = {"acquisition": Acquisition, "instrument": Instrument}[prefix]
    return [model.model_validate_json(p.read_bytes()) for p in sorted(folder.glob(f"{prefix}*.json"))]


def _acquisitions(tmp: Path) -> Iterator[tuple[str, Any]]:
    for name, build in sorted(modalities.ASSETS.items()):
        build(tmp / name)
        for i, acquisition in enumerate(_load(tmp / name, "acquisition")):
            yield f"{name}[{i}]", acquisition
    for name, model in sorted(assets.asset_files("valid").items()):
        if name.startswith("acquisition"):
            yield name, model


def _processing(start: datetime) -> Any:
    from aind_data_schema.core.processing import DataProcess, Processing

    step = DataProcess.model_construct(name="sorting", start_date_time=start + timedelta(hours=2))
    return Processing.model_construct(data_processes=[step, DataProcess.model_construct(name="qc")])


def _metadata(acquisition: Any, subject: Any, processing: Any) -> Any:
    from aind_data_schema.core.metadata import Metadata

    return Metadata.model_construct(
        name="x", location="x", acquisition=acquisition, subject=subject, processing=processing
    )


def _time_fields(obj: Any, path: str = "") -> Iterator[tuple[Any, str, str]]:
    """(owner, field, path) of every value the library's rule applies to, found independently of ours."""
    from aind_data_schema.utils.validators import TimeValidation

    if isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _time_fields(item, f"{path}[{i}]")
        return
    values = getattr(obj, "__dict__", None)
    if values is None or isinstance(obj, (str, int, float, date, type)):
        return
    annotations = getattr(obj, "__annotations__", {})
    for name, value in list(values.items()):
        metadata = getattr(annotations.get(name), "__metadata__", ())
        if value and any(isinstance(m, TimeValidation) for m in metadata):
            yield obj, name, f"{path}.{name}"
        if name != "object_type" and not callable(value):
            yield from _time_fields(value, f"{path}.{name}")


def _rule_of(owner: Any, field: str) -> str:
    from aind_data_schema.utils.validators import TimeValidation

    metadata = getattr(getattr(owner, "__annotations__", {}).get(field), "__metadata__", ())
    (rule,) = [m for m in metadata if isinstance(m, TimeValidation)]
    return str(rule.value)


def _verdict(call: Any) -> str:
    try:
        call()
    except ValueError as exc:
        return str(exc)
    return "passes"


def _both(metadata: Any) -> tuple[str, str]:
    from aind_data_schema.core.metadata import Metadata

    library = Metadata.__pydantic_decorators__.model_validators["validate_time_constraints"].func
    return _verdict(lambda: time_constraints.check(metadata)), _verdict(lambda: library(metadata))


@pytest.mark.slow
def test_every_time_field_of_every_fixture_gives_the_librarys_verdict(tmp_path: Path) -> None:
    subject = assets.subject()
    compared = 0
    for name, acquisition in _acquisitions(tmp_path):
        metadata = _metadata(acquisition, subject, _processing(acquisition.acquisition_start_time))
        assert _both(metadata) == ("passes", "passes"), name
        for i, (_, field, path) in enumerate(_time_fields(metadata)):
            for moved in (EARLY, LATE):
                changed = copy.deepcopy(metadata)
                owner = list(_time_fields(changed))[i][0]
                old = getattr(owner, field)
                owner.__dict__[field] = moved.date() if type(old) is date else moved
                ours, library = _both(changed)
                assert ours == library, f"{name} {path} = {moved}"
                if ours != "passes":  # and it says where: the file's kind and the path in it
                    with pytest.raises(time_constraints.Violation) as raised:
                        time_constraints.check(changed)
                    assert f".{raised.value.kind}.{raised.value.path}" == path
                    assert raised.value.rule == _rule_of(owner, field)  # what the hint tells the user
                compared += 1
    assert compared > 100  # subject, processing, data streams, epochs, calibrations, maintenance...


def test_several_violations_raise_the_same_first_one(tmp_path: Path) -> None:
    acquisition = next(a for n, a in _acquisitions(tmp_path) if n.startswith("ecephys_split"))
    metadata = copy.deepcopy(_metadata(acquisition, assets.subject(), _processing(acquisition.acquisition_start_time)))
    for owner, field, _ in list(_time_fields(metadata)):
        owner.__dict__[field] = LATE.date() if type(getattr(owner, field)) is date else LATE
    ours, library = _both(metadata)
    assert ours == library != "passes"


def test_nothing_is_compared_without_both_limits_or_on_optional_fields(tmp_path: Path) -> None:
    _, acquisition = next(iter(_acquisitions(tmp_path)))
    open_ended = acquisition.model_copy(update={"acquisition_end_time": None})
    metadata = _metadata(open_ended, assets.subject(), _processing(EARLY - timedelta(days=9000)))
    assert _both(metadata) == ("passes", "passes")
    assert _both(_metadata(None, assets.subject(), None)) == ("passes", "passes")


@pytest.mark.parametrize("variant", ["valid", "three_instruments"])
def test_a_merged_instruments_devices_are_its_parts_devices(variant: str) -> None:
    files = assets.asset_files(variant)
    parts = [m for n, m in sorted(files.items()) if n.startswith("instrument")]
    merged = parts[0]
    for part in parts[1:]:
        merged = merged + part
    union = {name for part in parts for name in device_names(part)}
    assert union == set(merged.get_component_names()) - {merged.instrument_id}
    assert device_names(parts[0]) is device_names(parts[0])  # walked once per model


def test_a_time_out_of_range_is_filed_under_its_file_at_its_path(asset, gather, service) -> None:  # type: ignore[no-untyped-def]
    import json

    folder = asset()
    path = folder / "acquisition_a.json"
    data = json.loads(path.read_text())
    data["data_streams"][0]["stream_start_time"] = "2001-01-01T00:00:00+00:00"
    path.write_text(json.dumps(data))
    run = gather(folder, service_url=service.url)
    assert run.code == 3
    (found,) = [f for f in run.report()["findings"] if f["id"] == "gather.metadata.time_constraints"]
    assert found["files"][0] == "acquisition.json (merged)"
    assert found["location"] == "data_streams[0].stream_start_time"
    assert found["message"].startswith("The asset as a whole is invalid: Field 'stream_start_time' with value 2001")
    assert "acquisition.json (merged) must lie between" in found["hint"]


@pytest.mark.parametrize(
    ("where", "value", "rule", "says"),
    [
        ("subject", LATE.date(), "before", "must be before the acquisition's end (acquisition_end_time in"),
        ("processing", EARLY, "after", "must be after the acquisition's start (acquisition_start_time in"),
        ("acquisition", EARLY, "between", "must lie between the acquisition's start and end"),
    ],
)
def test_the_hint_says_the_rule_the_field_broke(where: str, value: Any, rule: str, says: str) -> None:
    """A birth date after the acquisition must not be told to lie between its start and end."""
    from gather_job.findings import Findings
    from gather_job.pipeline import cross_checks

    acquisition = assets.asset_files("valid")["acquisition_a.json"]
    metadata = _metadata(acquisition, assets.subject(), _processing(acquisition.acquisition_start_time))
    changed = copy.deepcopy(metadata)
    owner, field, _ = next(t for t in _time_fields(changed) if t[2].startswith(f".{where}."))
    owner.__dict__[field] = value
    with pytest.raises(time_constraints.Violation) as raised:
        time_constraints.check(changed)
    assert (raised.value.kind, raised.value.rule) == (where, rule)
    findings = Findings()
    cross_checks._time_violation(raised.value, {"acquisition": "acquisition.json (merged)"}, findings)
    (found,) = list(findings)
    assert says in (found.hint or "")
