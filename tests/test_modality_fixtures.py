"""The example assets of tests/fixtures/modalities/ pass `gather-job check --offline`, with and without
their subject and procedures."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from tests.conftest import snapshot
from tests.fixtures.modalities import ASSETS, procedures, write_subject_and_procedures

# Offline and without procedures.json, an implanted device (the fib asset's fibers) is unknown: a warning
# that the upload fails unless the service's procedures have it, never an error.
UNSEEN_IMPLANT_WARNINGS = {"gather.compat.unknown_active_device", "gather.compat.unknown_connection_device"}


def check(folder: Path, settings: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    before = snapshot(folder)
    code = main(["check", str(folder), "--job-settings", json.dumps(settings), "--offline"], environ={})
    out = capsys.readouterr().out
    assert snapshot(folder) == before
    return code, out


def warnings_in(out: str) -> list[str]:
    return re.findall(r"^\s+WARNING (\S+)", out, flags=re.MULTILINE)


@pytest.mark.parametrize("name", sorted(ASSETS))
def test_asset_passes_check_offline(name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / name
    settings = ASSETS[name](folder)
    assert settings["subject_id"].isdigit()
    assert re.search(r"[+-]\d\d:\d\d$", settings["acquisition_start_time"])
    assert list(folder.glob("instrument*.json")) and list(folder.glob("acquisition*.json"))

    code, out = check(folder, settings, capsys)
    assert code == 0, out
    assert out.startswith("gather-job check: 0 errors")
    implanted = set(procedures(settings["subject_id"]).get_device_names())
    unknown = set(re.findall(r"'([^']+)' is in no instrument and no procedure seen here", " ".join(out.split())))
    assert set(warnings_in(out)) <= UNSEEN_IMPLANT_WARNINGS, out
    assert unknown <= implanted, out

    write_subject_and_procedures(folder, settings["subject_id"])
    code, out = check(folder, settings, capsys)
    assert code == 0, out
    assert "subject.json           from subject.json" in out and "procedures.json        from procedures.json" in out
    assert warnings_in(out) == [], out


def test_split_asset_merges_two_parts_each(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "split"
    settings = ASSETS["ecephys_split"](folder)
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "acquisition_ephys.json",
        "acquisition_video.json",
        "instrument_ephys.json",
        "instrument_video.json",
    ]
    code, out = check(folder, settings, capsys)
    assert code == 0, out
    assert "merged from instrument_ephys.json + instrument_video.json" in out
    assert "merged from acquisition_ephys.json + acquisition_video.json" in out


def test_assets_cover_the_modalities(tmp_path: Path) -> None:
    covered = set()
    for name, build in ASSETS.items():
        covered |= set(build(tmp_path / name)["data_description_settings"]["modalities"])
    assert covered >= {"MRI", "SPIM", "fib", "pophys", "slap2", "ecephys", "behavior", "behavior-videos"}
