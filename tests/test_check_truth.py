"""`check` tells at a desk what the pipeline will say: online it agrees with `run`; offline it never
reports an error only the service could settle, and never says "ready" where `run` would fail unless
every error of `run` depends on what the service gives, and then it says what stays open."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from tests.conftest import base_settings, snapshot
from tests.support.fake_service import FakeMetadataService

# errors only the metadata service can settle: what it gives at upload
SERVICE_SETTLED = {
    "gather.data_description.no_funding",
    "gather.data_description.no_investigators",
    "gather.resolve.missing",
    "gather.compat.unknown_active_device",
    "gather.compat.unknown_connection_device",
    "gather.metadata.required_files",
    "gather.procedures.duplicate",
}


def _check(folder: Path, settings: dict[str, Any], capsys: Any, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    before = snapshot(folder)
    code = main(["check", str(folder), "--job-settings", json.dumps(settings), "--format", "jsonl", *args], environ={})
    out = capsys.readouterr().out
    assert snapshot(folder) == before
    records = [json.loads(line) for line in out.splitlines()]
    return code, [r for r in records if r["type"] == "finding"], records[-1]["verdict"]


def _settings(folder: Path, service_url: str | None) -> dict[str, Any]:
    settings = base_settings(folder, folder.parent / "unused", service_url)
    del settings["output_dir"], settings["metadata_dir"]
    if service_url is None:  # a desk: no funding or people in the settings, they come from the service
        for key in ("funding_source", "investigators"):
            settings["data_description_settings"].pop(key)
    return settings


VARIANTS = [
    ("valid", {}),
    ("valid", {"with_subject": True}),
    ("shared_device", {}),
    ("unknown_active_device", {}),
    ("unknown_stimulus_device", {}),
    ("mismatched_instrument_id", {}),
    ("mismatched_subject_acquisition", {}),
    ("mismatched_subject_file", {}),
    ("three_instruments", {"with_subject": True}),
    ("invalid_instrument_schema", {}),
    ("malformed_json", {}),
    ("subject_details_twice", {}),
    ("instrument_location_mismatch", {}),
]


@pytest.mark.parametrize(("variant", "files"), VARIANTS, ids=[f"{v}-{sorted(f)}" for v, f in VARIANTS])
def test_check_agrees_with_run_online_and_never_overreaches_offline(  # type: ignore[no-untyped-def]
    gather, asset, service: FakeMetadataService, capsys, variant: str, files: dict[str, bool]
) -> None:
    folder = asset(variant, **files)
    run = gather(folder, service_url=service.url)
    run_errors = set(run.ids("error"))
    online_code, online, _ = _check(folder, _settings(folder, service.url), capsys)
    assert online_code == run.code, (online, run_errors)
    assert {f["id"] for f in online if f["severity"] == "error"} == run_errors
    offline_code, offline, verdict = _check(folder, _settings(folder, None), capsys, "--offline")
    offline_errors = {f["id"] for f in offline if f["severity"] == "error"}
    assert offline_errors <= run_errors, offline_errors - run_errors  # nothing only the service settles
    if run.code == 3 and offline_code == 0:
        assert run_errors <= SERVICE_SETTLED, run_errors
        assert verdict.startswith("no error found here, open until upload:"), verdict
    if run.code == 3:
        assert offline_errors or run_errors <= SERVICE_SETTLED


def test_offline_funding_and_people_are_not_checked_not_missing(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True, with_procedures=True)
    code, findings, verdict = _check(folder, _settings(folder, None), capsys, "--offline")
    assert code == 0, findings
    not_checked = [f for f in findings if f["id"] == "gather.resolve.not_checked"]
    assert {f["location"] for f in not_checked} >= {"funding_source", "investigators"}
    assert "ready for upload" not in verdict


def test_whole_asset_checks_run_offline_without_the_service_files(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    """No subject/procedures in the folder: Metadata's own checks that do not need them still run."""
    folder = asset()
    for name in ("acquisition_a.json", "acquisition_b.json"):
        data = json.loads((folder / name).read_text())
        data["subject_details"] = None  # in vivo without subject details: the upload would fail
        (folder / name).write_text(json.dumps(data))
    code, findings, _ = _check(folder, _settings(folder, None), capsys, "--offline")
    assert code == 3
    assert "gather.metadata.subject_details_if_not_specimen" in {f["id"] for f in findings}
    still_open = [f for f in findings if f["id"] == "gather.metadata.not_checked"]
    assert still_open and "required_files" in still_open[0]["message"]


def test_an_unknown_device_with_procedures_unseen_is_a_warning_naming_the_implant(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset("unknown_active_device")
    code, findings, _ = _check(folder, _settings(folder, None), capsys, "--offline")
    unknown = [f for f in findings if f["id"] == "gather.compat.unknown_active_device"]
    assert code == 0 and unknown and all(f["severity"] == "warning" for f in unknown)
    assert "implanted device in the service's procedures" in unknown[0]["message"]


def test_a_folder_of_1x_files_is_not_ready(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "legacy"
    folder.mkdir()
    for name, data in {
        "rig.json": {"schema_version": "1.0.1", "rig_id": "428_FIP1_20231003", "modalities": []},
        "session.json": {"schema_version": "1.0.1", "subject_id": "123456"},
        "subject.json": {"schema_version": "1.0.3", "subject_id": "123456"},
    }.items():
        (folder / name).write_text(json.dumps(data))
    code, findings, verdict = _check(folder, {}, capsys, "--offline")
    assert code == 3 and verdict.startswith("errors to fix")
    ids = [f["id"] for f in findings if f["severity"] == "error"]
    assert ids.count("gather.resolve.legacy_only") == 2 and "gather.file.schema_1x" in ids
    assert all("aind-metadata-upgrader" in f["hint"] for f in findings if f["severity"] == "error")
    assert "gather.resolve.missing" not in {f["id"] for f in findings}  # said once, as legacy_only


def test_at_a_desk_without_the_service_check_says_how_to_go_on(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    settings = _settings(folder, "http://127.0.0.1:9")
    started = time.monotonic()
    code = main(["check", str(folder), "--job-settings", json.dumps(settings)], environ={})
    err = " ".join(capsys.readouterr().err.split())
    assert code == 4 and time.monotonic() - started < 5  # no retries against a refused connection
    assert "cannot be reached from here" in err and "--offline" in err and "metadata_service_url" in err
    assert "retry the job later" not in err


def test_one_problem_is_one_finding(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset("malformed_json")
    _, findings, _ = _check(folder, _settings(folder, None), capsys, "--offline")
    errors = [f for f in findings if f["severity"] == "error"]
    assert [f["id"] for f in errors] == ["gather.file.invalid_json"]
    folder = asset("mismatched_subject_acquisition")
    _, findings, _ = _check(folder, _settings(folder, None), capsys, "--offline")
    assert [f["id"] for f in findings if f["severity"] == "error"] == ["gather.subject_id.mismatch"]


def test_a_trailing_comma_is_shown_with_a_caret(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    (folder / "acquisition_b.json").write_text('{\n   "subject_id": "123456",\n   "notes": "x",\n}\n')
    code = main(["check", str(folder), "--offline"], environ={})
    out = capsys.readouterr().out
    assert code == 3
    assert '   "notes": "x",\n' not in out  # the line with the problem is the closing brace
    assert "            }\n            ^" in out


@pytest.mark.slow
def test_assets_of_five_modalities_check_clean(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures import modalities

    for name, build in modalities.ASSETS.items():
        folder = tmp_path / name
        settings = build(folder)
        code = main(["check", str(folder), "--job-settings", json.dumps(settings), "--offline"], environ={})
        out = capsys.readouterr().out
        assert code == 0, f"{name}:\n{out}"


@pytest.mark.parametrize("folder_parts", [(), ("instrument_a.json",)])
def test_an_instrument_the_service_gives_is_open_offline_not_missing(  # type: ignore[no-untyped-def]
    asset, capsys, folder_parts: tuple[str, ...]
) -> None:
    """instrument_settings.instrument_id names a service record: offline at a desk its checks wait for it
    (the fix `set instrument_id` was already applied); a run that cannot fetch it says why."""
    from tests.fixtures import assets

    folder = asset()
    for name in ("instrument_a.json", "instrument_b.json"):
        if name not in folder_parts:
            (folder / name).unlink()
    settings = _settings(folder, None) | {"instrument_settings": {"instrument_id": assets.INSTRUMENT_B_ID}}
    code, findings, verdict = _check(folder, settings, capsys, "--offline")
    errors = [f for f in findings if f["severity"] == "error"]
    assert code == 0 and not errors, errors
    assert "instrument" in verdict
    noted = [f for f in findings if f["id"] == "gather.resolve.not_checked" and f["files"] == ["instrument.json"]]
    assert noted and noted[0]["location"] == "instrument_settings.instrument_id"


def test_a_run_that_cannot_fetch_its_instrument_says_the_id_not_set_it(gather, asset) -> None:  # type: ignore[no-untyped-def]
    from tests.fixtures import assets

    folder = asset()
    for name in ("instrument_a.json", "instrument_b.json"):
        (folder / name).unlink()
    run = gather(folder, argv=["--offline"], instrument_settings={"instrument_id": assets.INSTRUMENT_B_ID})
    assert run.code == 3
    (missing,) = [f for f in run.report()["findings"] if f["id"] == "gather.compat.no_instrument"]
    assert f"instrument_id is {assets.INSTRUMENT_B_ID!r}" in missing["hint"]
    assert "gather.service.offline" in run.ids("warning")
