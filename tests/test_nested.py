"""The folder given holds no metadata, but a subfolder does: the job says which and the path to use.

Local folders and S3 prefixes alike; one asset alone or many in one command give the same finding;
a folder that holds metadata itself never has its subfolders listed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from tests.fixtures import assets
from tests.support.aws_fixtures import REGION, Aws


def _findings(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
    code = main([*argv, "--format", "jsonl"], environ={})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    return code, [line for line in lines if line.get("type") == "finding"]


def _nested(findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in findings if f["id"] == "gather.resolve.in_subfolder"]


def test_metadata_one_folder_down_is_named_with_the_path_to_use(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    parent = tmp_path / "session"
    assets.write_asset(parent / "metadata", with_subject=True)
    (parent / "ecephys").mkdir()
    (parent / "ecephys" / "acquisition_probe.json").write_text("{}")  # data folders are not looked into
    code, findings = _findings(["check", str(parent), "--offline"], capsys)
    (found,) = _nested(findings)
    assert found["severity"] == "error" and found["files"] == ["metadata/"]
    assert "its subfolder metadata/ holds acquisition_a.json, acquisition_b.json" in found["message"]
    command = f"gather-job check {parent}/metadata"
    assert found["hint"] == f"Point metadata_dir at {parent}/metadata (at a desk: `{command}`)."
    assert code == 3  # the metadata one folder down would be left out of the asset


def test_a_folder_of_assets_points_to_each(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    for name in ("asset-1", "asset-2"):
        assets.write_asset(tmp_path / "archive" / name)
    (tmp_path / "archive" / "notes").mkdir()
    code, findings = _findings(["check", str(tmp_path / "archive"), "--offline"], capsys)
    (found,) = _nested(findings)
    assert found["files"] == ["asset-1/", "asset-2/"]
    assert found["severity"] == "warning" and code == 0  # merge parts only: maybe something else
    assert f"gather-job check --each {tmp_path / 'archive'}" in found["hint"]


def test_a_folder_with_metadata_never_lists_its_subfolders(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = assets.write_asset(tmp_path / "asset", with_subject=True)
    assets.write_asset(folder / "original_metadata")
    _, findings = _findings(["check", str(folder), "--offline"], capsys)
    assert _nested(findings) == []


@pytest.mark.slow
def test_an_s3_prefix_and_many_assets_in_one_command_say_the_same(  # type: ignore[no-untyped-def]
    aws: Aws, aws_env: Any, tmp_path: Path, capsys
) -> None:
    bucket = aws.bucket()
    aws.upload(assets.write_asset(tmp_path / "m", with_subject=True), bucket, "session/metadata/")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"s3_endpoint_url": aws.url, "aws_region": REGION}))
    uri = f"s3://{bucket}/session/"
    alone_code, alone = _findings(["check", uri, "--offline", "--settings-file", str(settings)], capsys)
    (found,) = _nested(alone)
    assert found["hint"].startswith(f"Point metadata_dir at s3://{bucket}/session/metadata ")
    local = tmp_path / "local"
    assets.write_asset(local / "metadata", with_subject=True)
    code = main(
        ["check", uri, str(local), "--offline", "--settings-file", str(settings), "--format", "jsonl"], environ={}
    )
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    mine = [{k: v for k, v in r.items() if k != "asset"} for r in records if r.get("asset") == uri]
    assert [r for r in mine if r["type"] == "finding"] == alone
    assert [r["exit_code"] for r in records if r["type"] == "asset" and r["asset"] == uri] == [alone_code]
    assert any(r.get("asset") == str(local) and r["id"] == "gather.resolve.in_subfolder" for r in records if "id" in r)
    assert alone_code == code == 3


def test_run_without_metadata_dir_says_it_read_the_empty_output_dir(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    settings = {"output_dir": str(tmp_path / "out"), "subject_id": "1", "offline": True}
    assert main(["run", "--job-settings", json.dumps(settings)], environ={}) == 3
    err = " ".join(capsys.readouterr().err.split())
    assert "gather.resolve.output_as_input at metadata_dir metadata_dir is not set, so the metadata files" in err
    folder = assets.write_asset(tmp_path / "staging", with_subject=True)  # the files are in output_dir: fine
    main(["run", "--job-settings", json.dumps({**settings, "output_dir": str(folder)})], environ={})
    assert "output_as_input" not in capsys.readouterr().err
    settings["metadata_dir"] = str(tmp_path / "empty")
    (tmp_path / "empty").mkdir()
    main(["run", "--job-settings", json.dumps(settings)], environ={})
    assert "output_as_input" not in capsys.readouterr().err


def test_only_a_core_file_by_its_name_makes_it_an_error_and_modality_folders_in_any_case_are_data(
    tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    parent = tmp_path / "upload"
    (parent / "Behavior").mkdir(parents=True)
    (parent / "Behavior" / "session.json").write_text("{}")  # a modality folder, capitalised: data
    (parent / "behavior_videos").mkdir()
    (parent / "behavior_videos" / "subject.json").write_text("{}")
    (parent / "derived").mkdir()
    (parent / "derived" / "instrument_settings.json").write_text("{}")  # a merge part's name, maybe not one
    code, findings = _findings(["check", str(parent), "--offline"], capsys)
    (found,) = _nested(findings)
    assert found["files"] == ["derived/"] and found["severity"] == "warning"
    (parent / "metadata").mkdir()
    (parent / "metadata" / "subject.json").write_text("{}")
    code, findings = _findings(["check", str(parent), "--offline"], capsys)
    (found,) = _nested(findings)
    assert found["files"] == ["derived/", "metadata/"] and found["severity"] == "error" and code == 3
