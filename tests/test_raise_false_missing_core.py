"""`raise_if_invalid: false` writes invalid files as they are, but never an asset missing a core file.

The review's repro: with the reference's "upload anyway" setting, a run with no start time (so no
data_description.json), or with an instrument part that does not validate (so no instrument.json),
exited 0 as "written". The reference raised in those cases, so its task failed and nothing was
uploaded. Each case here is a core file the asset must have, or whose inputs the folder holds.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job import GatherMetadataJob, InvalidMetadata, JobSettings
from tests.conftest import base_settings

MISSING = "gather.output.missing_core_file"


def _break(folder: Path, name: str, change: Any) -> None:
    data = json.loads((folder / name).read_text())
    change(data)
    (folder / name).write_text(json.dumps(data))


def _no_start_time(folder: Path) -> dict[str, Any]:
    for part in folder.glob("acquisition*.json"):
        part.unlink()
    return {"acquisition_start_time": None}


def _invalid_instrument_part(folder: Path) -> dict[str, Any]:
    _break(folder, "instrument_b.json", lambda d: d.update(modification_date="not a date"))
    return {}


def _invalid_acquisition_part(folder: Path) -> dict[str, Any]:
    _break(folder, "acquisition_b.json", lambda d: d.update(acquisition_end_time="yesterday"))
    return {}


def _unreadable_exact_file(folder: Path) -> dict[str, Any]:
    (folder / "subject.json").write_text('{"subject_id": ')
    return {}


def _no_project_name(folder: Path) -> dict[str, Any]:
    return {"data_description_settings": {"project_name": None}}


CASES = {
    "no start time (no data_description)": (_no_start_time, "data_description.json"),
    "an instrument part that does not validate": (_invalid_instrument_part, "instrument.json"),
    "an acquisition part that does not validate": (_invalid_acquisition_part, "acquisition.json"),
    "a subject.json that is not JSON": (_unreadable_exact_file, "subject.json"),
    "no project_name (no data_description)": (_no_project_name, "data_description.json"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_a_core_file_that_cannot_be_made_stops_the_run(gather, asset, service, case: str) -> None:  # type: ignore[no-untyped-def]
    make, missing = CASES[case]
    folder = asset("valid", with_subject=True)
    overrides = make(folder)
    run = gather(folder, service_url=service.url, raise_if_invalid=False, **overrides)
    assert run.code == 3, run.err
    assert run.written() == ["gather_report.json"]
    assert run.report()["status"] == "invalid"
    found = [f for f in run.report()["findings"] if f["id"] == MISSING]
    assert [f["files"] for f in found] == [[missing]]
    assert "a core file could not be made" in " ".join(run.err.split())


def test_an_invalid_file_that_can_be_passed_on_is_still_written(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset("valid", with_subject=True)
    _break(folder, "subject.json", lambda d: d.update(sex="Unknown-sex"))
    run = gather(folder, service_url=service.url, raise_if_invalid=False)
    assert run.code == 0
    assert MISSING not in run.ids()


def test_with_raise_if_invalid_the_cause_alone_is_the_finding(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset("valid", with_subject=True)
    _invalid_instrument_part(folder)
    run = gather(folder, service_url=service.url)
    assert run.code == 3
    assert MISSING not in run.ids()


def test_the_api_raises_as_the_reference_did(asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = asset("valid", with_subject=True)
    settings = base_settings(folder, tmp_path / "out", service.url)
    settings |= {"raise_if_invalid": False, **_no_start_time(folder)}
    with pytest.raises(InvalidMetadata) as raised:
        GatherMetadataJob(JobSettings(**{k: v for k, v in settings.items() if v is not None})).run_job()
    assert raised.value.outcome.exit_code == 3
    assert sorted(p.name for p in (tmp_path / "out").glob("*.json")) == ["gather_report.json"]
