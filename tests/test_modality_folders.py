"""The data against the metadata: each described modality has its folder, each modality folder is described.

Assets are the example assets of seven modalities (tests/fixtures/modalities/), given the data
folders aind-data-transfer makes (named by `Modality.abbreviation`), locally, on S3 and in bulk.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from tests.fixtures import modalities
from tests.support.aws_fixtures import REGION, Aws


def _with_data(folder: Path, build: Any, *, skip: str = "", empty: str = "", extra: str = "") -> dict[str, Any]:
    """The asset with its data folders beside the metadata, as uploaded; one left out, one empty, one more."""
    settings: dict[str, Any] = build(folder)
    for name in settings["data_description_settings"]["modalities"]:
        if name == skip:
            continue
        (folder / name).mkdir()
        if name != empty:
            (folder / name / "data.bin").write_bytes(b"\0" * 16)
    if extra:
        (folder / extra).mkdir()
        (folder / extra / "data.bin").write_bytes(b"\0")
    return settings


def _check(target: str, settings: dict[str, Any], capsys: Any, *args: str) -> tuple[int, list[dict[str, Any]]]:
    code = main(["check", target, "--job-settings", json.dumps(settings), "--offline", "--format", "jsonl", *args])
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return code, [r for r in records if r.get("type") == "finding" and r["id"].startswith("gather.data.")]


@pytest.mark.parametrize("name", sorted(modalities.ASSETS))
def test_an_asset_with_a_folder_per_described_modality_is_clean(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / name
    settings = _with_data(folder, modalities.ASSETS[name])
    (folder / "original_metadata").mkdir()  # not a modality: left alone
    (folder / "derived").mkdir()
    code, found = _check(str(folder), settings, capsys)
    assert (code, found) == (0, [])


def test_a_described_modality_without_its_folder_is_named_with_the_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a local source folder (a user's session folder the pipeline reads), the data folders may be named
    as the user likes: the upload request gives each modality's source. A missing one is a warning there;
    an error when the settings list the upload's folders (and on an uploaded asset, below)."""
    folder = tmp_path / "ephys"
    settings = _with_data(folder, modalities.ecephys_split, skip="ecephys")
    code, found = _check(str(folder), settings, capsys)
    assert code == 0
    [missing] = found
    assert missing["id"] == "gather.data.missing_folder" and missing["severity"] == "warning"
    assert missing["location"].startswith("data_streams[") and missing["files"][0] == "acquisition_ephys.json"
    assert "ecephys/" in missing["message"] and "'ecephys'" in missing["hint"] and "input_source" in missing["hint"]
    listed = {**settings, "modality_folders": sorted(p.name for p in folder.iterdir() if p.is_dir())}
    code, found = _check(str(folder), listed, capsys)
    assert code == 3 and [(f["id"], f["severity"]) for f in found] == [("gather.data.missing_folder", "error")]


def test_an_undescribed_folder_and_an_empty_folder_are_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "behavior"
    settings = _with_data(folder, modalities.behavior, empty="behavior-videos", extra="ecephys")
    (folder / "behavior-videos" / ".DS_Store").write_bytes(b"x")  # hidden files do not make it hold data
    code, found = _check(str(folder), settings, capsys)
    assert code == 0
    by_id = {f["id"]: f for f in found}
    assert set(by_id) == {"gather.data.undescribed_folder", "gather.data.empty_folder"}
    assert by_id["gather.data.undescribed_folder"]["location"] == "ecephys/"
    assert by_id["gather.data.empty_folder"]["location"] == "behavior-videos/"
    assert all(f["severity"] == "warning" for f in found)


def test_the_settings_name_the_upload_folders_when_only_the_metadata_is_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "fib"
    settings = modalities.fib(folder)
    settings["modality_folders"] = ["fib/"]
    code, found = _check(str(folder), settings, capsys)
    assert code == 3 and [f["value"] for f in found] == ["behavior"]
    settings["modality_folders"] = ["fib", "behavior"]
    assert _check(str(folder), settings, capsys) == (0, [])
    settings["modality_folders"] = ["ephys"]
    code = main(["check", str(folder), "--job-settings", json.dumps(settings), "--offline"])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "modality_folders" in err and "unknown modality 'ephys'" in err and "ecephys" in err


def test_invalid_metadata_is_not_held_against_the_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "mri"
    settings = _with_data(folder, modalities.mri, extra="ecephys")
    (folder / "acquisition.json").write_text('{"object_type": "Acquisition"}')
    code, found = _check(str(folder), settings, capsys)
    assert code == 3 and found == []  # the acquisition's own errors say it; no guess from half the metadata


@pytest.mark.slow
def test_an_uploaded_asset_on_s3_one_at_a_time_and_in_bulk(
    aws: Aws, aws_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "ephys"
    settings = _with_data(folder, modalities.ecephys_split, skip="behavior")
    bucket = aws.bucket()
    for prefix in ("archive/a/", "archive/b/"):
        aws.upload(folder, bucket, prefix)
        aws.s3.put_object(Bucket=bucket, Key=f"{prefix}ecephys/probe_a/continuous.dat", Body=b"\0" * 8)
        aws.s3.put_object(Bucket=bucket, Key=f"{prefix}behavior-videos/", Body=b"")  # a folder marker only
    settings.update(s3_endpoint_url=aws.url, aws_region=REGION)
    code, found = _check(f"s3://{bucket}/archive/a/", settings, capsys)
    assert code == 3
    assert sorted((f["id"], f["value"]) for f in found) == [
        ("gather.data.empty_folder", "behavior-videos"),
        ("gather.data.missing_folder", "behavior"),
    ]
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(settings))
    code = main(
        ["check", "--each", f"s3://{bucket}/archive/", "--settings-file", str(path), "--offline", "--format", "jsonl"]
    )
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    per_asset = [r for r in records if r.get("type") == "finding" and r["id"].startswith("gather.data.")]
    assert code == 3 and len(per_asset) == 4 and {r["asset"].rstrip("/")[-1] for r in per_asset} == {"a", "b"}
