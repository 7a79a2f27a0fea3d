"""metadata_dir: s3://...: an uploaded asset read with the local folder's resolution rules, never changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from gather_job.storage.folder import InputProblem
from gather_job.storage.s3_folder import S3Folder
from gather_job.storage.s3uri import parse
from tests.conftest import base_settings
from tests.support.aws_fixtures import REGION, Aws

PREFIX = "123456_2024-03-05_14-20-00/"
CORE = ["acquisition.json", "data_description.json", "instrument.json", "procedures.json", "subject.json"]


def settings_for(metadata_dir: str, output_dir: str, aws: Aws, folder: Path) -> dict[str, Any]:
    values = base_settings(folder, Path(output_dir), None)
    values.update(metadata_dir=metadata_dir, output_dir=output_dir, s3_endpoint_url=aws.url, aws_region=REGION)
    return values


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv, environ={})
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


@pytest.fixture
def uploaded(aws: Aws, asset: Any) -> tuple[str, Path]:
    """The valid fixture asset (two instrument parts, two acquisition parts) uploaded under a prefix."""
    folder = asset(with_subject=True, with_procedures=True)
    bucket = aws.bucket()
    aws.upload(folder, bucket, PREFIX)
    return f"s3://{bucket}/{PREFIX}", folder


@pytest.mark.slow
def test_an_asset_read_from_s3_gives_what_the_local_folder_gives(
    aws: Aws, aws_env: Any, uploaded: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, folder = uploaded
    from_s3 = tmp_path / "from-s3"
    code, _, err = run(["run", "--job-settings", json.dumps(settings_for(uri, str(from_s3), aws, folder))], capsys)
    assert code == 0, err
    from_local = tmp_path / "from-local"
    local_settings = settings_for(str(folder), str(from_local), aws, folder)
    assert run(["run", "--job-settings", json.dumps(local_settings)], capsys)[0] == 0
    for name in CORE:
        assert (from_s3 / name).read_bytes() == (from_local / name).read_bytes(), name
    report = json.loads((from_s3 / "gather_report.json").read_text())
    assert report["sources"]["instrument.json"] == {
        "from": "merged",
        "parts": ["instrument_a.json", "instrument_b.json"],
    }


@pytest.mark.slow
def test_check_an_uploaded_asset(
    aws: Aws, aws_env: Any, uploaded: tuple[str, Path], asset: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, folder = uploaded
    settings = settings_for(uri, uri, aws, folder)
    del settings["output_dir"], settings["metadata_dir"]  # check DIR names the folder
    path = folder.parent / "check-settings.json"
    path.write_text(json.dumps(settings))
    code, out, _ = run(["check", uri, "--settings-file", str(path)], capsys)
    assert code == 0 and "ready for upload" in out and uri.rstrip("/") in out

    broken = asset("unknown_active_device", with_subject=True, with_procedures=True)
    aws.upload(broken, "gather-test", "broken/")
    code, out, _ = run(["check", "s3://gather-test/broken/", "--settings-file", str(path), "--json"], capsys)
    findings = [json.loads(line) for line in out.splitlines()]
    assert code == 3 and "gather.compat.unknown_active_device" in {f.get("id") for f in findings}


@pytest.mark.slow
def test_regathering_in_place_never_rewrites_an_input(
    aws: Aws, aws_env: Any, uploaded: tuple[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """metadata_dir defaults to output_dir for S3 too; the uploaded files are inputs and stay as they are."""
    uri, folder = uploaded
    before = aws.etags("gather-test", PREFIX)
    settings = settings_for(uri, uri, aws, folder)
    del settings["metadata_dir"]
    code, _, err = run(["run", "--job-settings", json.dumps(settings)], capsys)
    assert code == 0, err
    after = aws.etags("gather-test", PREFIX)
    assert {name: after[name] for name in before} == before  # subject.json, procedures.json, parts: untouched
    assert {"instrument.json", "acquisition.json", "data_description.json", "gather_report.json"} <= set(after)


def test_an_empty_metadata_prefix_is_exit_2(
    aws: Aws, aws_env: Any, asset: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.bucket()
    settings = settings_for("s3://gather-test/nothing-here/", str(tmp_path / "out"), aws, asset())
    code, _, err = run(["run", "--job-settings", json.dumps(settings)], capsys)
    assert code == 2 and "metadata_dir 's3://gather-test/nothing-here/' holds no objects" in err


def test_entries_that_cannot_be_read_become_findings(aws: Aws) -> None:
    bucket = aws.bucket()
    s3 = aws.s3
    s3.put_object(Bucket=bucket, Key="a/big.json", Body=b"{" + b" " * 200 + b"}")
    s3.put_object(Bucket=bucket, Key="a/small.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="a/folder.json/inner.json", Body=b"{}")
    s3.put_object(Bucket=bucket, Key="a/", Body=b"")  # a console-made folder marker
    folder = S3Folder(parse(f"s3://{bucket}/a/", "metadata_dir"), s3, max_bytes=100)
    assert folder.names() == ["big.json", "folder.json", "small.json"]
    assert folder.read("small.json") == b"{}"
    with pytest.raises(InputProblem) as too_large:
        folder.read("big.json")
    assert too_large.value.id == "gather.file.too_large"
    with pytest.raises(InputProblem) as not_a_file:
        folder.read("folder.json")
    assert not_a_file.value.id == "gather.file.not_a_file"
    assert f"s3://{bucket}/a/folder.json is a prefix" in not_a_file.value.message
    assert "with objects under it" in not_a_file.value.message
    s3.put_object(Bucket=bucket, Key="a/marker.json/", Body=b"")  # only a folder marker named like the file
    folder.names()
    with pytest.raises(InputProblem) as marker:
        folder.read("marker.json")
    assert "only the folder marker object" in marker.value.message
    assert f"aws s3 rm s3://{bucket}/a/marker.json/" in str(marker.value.hint)
    s3.delete_object(Bucket=bucket, Key="a/small.json")
    with pytest.raises(InputProblem, match="deleted while the job ran"):
        folder.read("small.json")


@pytest.mark.slow
@pytest.mark.usefixtures("iam_like_aws")
def test_an_object_the_job_may_not_read_is_a_finding_not_a_crash(
    aws: Aws, aws_env: Any, uploaded: tuple[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, folder = uploaded
    keys = aws.user("reader", ["s3:ListBucket", "s3:GetObject"])
    iam = aws.client("iam")
    deny = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Deny", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::gather-test/{PREFIX}subject.json"}
        ],
    }
    iam.put_user_policy(UserName="reader", PolicyName="no-subject", PolicyDocument=json.dumps(deny))
    aws_env(**keys)
    settings = settings_for(uri, str(tmp_path / "out"), aws, folder)
    with aws.authentication():
        code, _, err = run(["run", "--job-settings", json.dumps(settings)], capsys)
    assert code == 3, err
    report = json.loads((tmp_path / "out" / "gather_report.json").read_text())
    unreadable = [f for f in report["findings"] if f["id"] == "gather.file.unreadable"]
    assert unreadable and "subject.json" in unreadable[0]["message"] and "Access denied" in unreadable[0]["message"]
