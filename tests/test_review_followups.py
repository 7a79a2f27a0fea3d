"""Follow-ups of a review of the session's changes: each test failed before its fix."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gather_job import GatherMetadataJob, JobSettings, schema
from gather_job.cli import main
from gather_job.suggest import did_you_mean

MISSING = "gather.output.missing_core_file"
LEGACY = Path(__file__).parent / "fixtures" / "legacy_1x"


def test_a_default_section_changed_in_place_is_kept_by_the_job(tmp_path: Path) -> None:
    settings = JobSettings(output_dir=str(tmp_path / "out"))
    settings.instrument_settings.instrument_id = "CAM-1"
    settings.enrichment_settings.enabled = False
    settings.data_description_settings.project_name = "P"
    kept = GatherMetadataJob(settings).job_settings
    assert kept.instrument_settings.instrument_id == "CAM-1"
    assert kept.enrichment_settings.enabled is False
    assert kept.data_description_settings.project_name == "P"
    assert kept.model_fields_set == {"output_dir"}


def _no_start(folder: Path) -> None:
    for part in folder.glob("acquisition*.json"):
        part.unlink()


@pytest.mark.parametrize("raise_if_invalid", [True, False])
def test_a_policy_that_demotes_the_cause_never_lets_a_core_file_go_missing(
    gather: Any, asset: Any, raise_if_invalid: bool
) -> None:
    folder = asset("valid", with_subject=True)
    _no_start(folder)
    policy = [{"id": "gather.*", "severity": "warning"}, {"id": "gather.*", "file": "instrument*", "severity": "info"}]
    run = gather(folder, acquisition_start_time=None, findings_policy=policy, raise_if_invalid=raise_if_invalid)
    assert run.code == 3, run.err
    assert run.written() == ["gather_report.json"]
    assert MISSING in run.ids("error")


def test_an_interruption_while_the_models_import_is_an_interruption() -> None:
    """pydantic wraps a KeyboardInterrupt raised while it builds a schema in its own error."""
    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise RuntimeError("schema build failed") from interrupt
    except RuntimeError as wrapped:
        assert schema._interrupted(wrapped)
    assert not schema._interrupted(ValueError("a real failure"))


def test_a_quoted_folder_path_in_a_hint_does_not_reach_the_report(gather: Any, tmp_path: Path) -> None:
    folder = tmp_path / "it's legacy"
    shutil.copytree(LEGACY, folder)
    run = gather(folder, raise_if_invalid=False)
    text = (run.output / "gather_report.json").read_text()
    assert str(tmp_path) not in text and str(tmp_path.resolve()) not in text


def test_a_broken_link_to_an_absolute_path_is_named_by_its_name(gather: Any, asset: Any, tmp_path: Path) -> None:
    folder = asset("valid", with_subject=True)
    (folder / "procedures.json").symlink_to(tmp_path / "elsewhere" / "procedures.json")
    run = gather(folder, raise_if_invalid=False)
    text = (run.output / "gather_report.json").read_text()
    assert "gather.file.broken_link" in text and ".../procedures.json" in text
    assert str(tmp_path) not in text


def test_a_local_folder_holding_kept_inputs_but_no_core_file_is_an_asset_that_lacks_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "uploaded"
    (folder / "ecephys").mkdir(parents=True)
    (folder / "original_metadata" / "uploaded_json").mkdir(parents=True)
    (folder / "original_metadata" / "uploaded_json" / "subject.json").write_text("{}")
    assert main(["check", str(folder), "--offline"], environ={}) == 3
    assert "No data_description.json in the uploaded asset" in " ".join(capsys.readouterr().out.split())


def test_a_processed_asset_without_a_subject_is_not_an_error_for_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """aind-data-schema takes processing.json (or model.json) in place of subject.json."""
    folder = tmp_path / "processed"
    folder.mkdir()
    (folder / "metadata.nd.json").write_text("{}")
    (folder / "processing.json").write_text("{}")
    main(["check", str(folder), "--offline", "--format", "json"], environ={})
    findings = json.loads(capsys.readouterr().out)["findings"]
    subject = [f for f in findings if f["id"] == "gather.resolve.missing" and f["files"] == ["subject.json"]]
    assert [f["severity"] for f in subject] == ["warning"]


def test_a_word_in_another_case_is_suggested_first() -> None:
    assert did_you_mean("aind", ["AIND", "Ealing", "AI"]) == " (did you mean 'AIND'?)"


def test_a_folder_procedures_file_is_written_as_validated_not_as_validation_left_its_dict(
    gather: Any, asset: Any
) -> None:
    """aind-data-schema 2.9.2's Procedures.model_validate rewrites a Neuropixels implant's object_type to
    'Fiber probe' in the dict it is given while it tries the union's members (the reference then wrote
    that dict). The input stays as it is, and procedures.json says 'Ephys probe' as the input does."""
    folder = asset(with_subject=True, with_procedures=True)
    before = (folder / "procedures.json").read_bytes()
    run = gather(folder, offline=True)
    assert run.code == 0, run.err
    assert (folder / "procedures.json").read_bytes() == before
    text = (run.output / "procedures.json").read_text()
    assert '"Ephys probe"' in text and '"Fiber probe"' not in text
    assert '"Ephys probe"' in before.decode() and '"Fiber probe"' not in before.decode()


def test_a_clean_check_of_a_gathered_asset_says_it_is_valid_not_ready_for_upload(
    gather: Any, asset: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    run = gather(asset(with_subject=True, with_procedures=True), offline=True)
    assert run.code == 0, run.err
    assert main(["check", str(run.output), "--offline"], environ={}) == 0
    err = capsys.readouterr().err
    assert "verdict: valid as it is (a gathered asset) (exit 0)" in err and "ready for upload" not in err


def test_a_missing_folder_names_check_s_path_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tmp_path / "nowhere"), "--offline"], environ={}) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"The metadata folder '{tmp_path / 'nowhere'}' does not exist." in err
    assert "the PATH of `gather-job check PATH`" in err
