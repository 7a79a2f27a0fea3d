"""Runs after runs: what an earlier run left decides nothing it should not.

- A report-only (invalid) run's report is not "an asset": a fixed rerun with `if_exists: skip` writes
  (it exited 0 with no metadata), and a second invalid run's report replaces the first's.
- A rerun where it reads (`metadata_dir` = `output_dir`, the staging folder) reads the same inputs as
  the first run, not its outputs: the same bytes again (it failed on the service's procedures.json,
  read back as the folder's, as duplicates). A file edited since is an input.
- S3 prefixes get the local path rules: an output inside the input prefix, or an input inside the
  output's kept originals (whose objects the run deleted as stale copies), is refused before any work.
- `check` of an uploaded asset (an s3:// prefix) calls a missing core file missing, not "open until upload".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from gather_job.storage import earlier_run
from tests.conftest import base_settings
from tests.fixtures import assets
from tests.support.aws_fixtures import REGION, Aws
from tests.support.fake_service import Route


def _run(settings: dict[str, Any], capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["run", "--job-settings", json.dumps(settings, default=str), *extra], environ={})
    return code, " ".join(capsys.readouterr().err.split())


def _report(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "gather_report.json").read_text())  # type: ignore[no-any-return]


# -- a report-only run is not an asset ---------------------------------------------------------------------


def test_a_report_only_run_is_not_an_asset_to_skip_or_protect(asset, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    bad = base_settings(asset("mismatched_subject_file"), out, None)
    assert _run(bad, capsys)[0] == 3
    assert _report(out)["status"] == "invalid" and not (out / "subject.json").exists()

    other_bad = base_settings(asset("mismatched_instrument_id"), out, None)
    code, err = _run(other_bad, capsys)
    assert code == 3 and "left as it was" not in err
    ids = {f["id"] for f in _report(out)["findings"]}
    assert "gather.compat.instrument_id_mismatch" in ids and "gather.subject_id.mismatch" not in ids  # the second's

    fixed = base_settings(asset(with_subject=True, with_procedures=True), out, None)
    code, err = _run(fixed, capsys, "--if-exists", "skip")
    assert code == 0 and "skipped" not in err, err
    assert _report(out)["status"] == "written" and (out / "acquisition.json").exists()
    # and now it holds an asset: skip skips, error refuses, an invalid run leaves it alone
    assert "skipped" in _run(fixed, capsys, "--if-exists", "skip")[1]
    assert _run(fixed, capsys, "--if-exists", "error")[0] == 5
    assert _run(bad, capsys)[0] == 3 and _report(out)["status"] == "written"


@pytest.mark.parametrize(
    ("raw", "holds"),
    [
        (b'{"status": "written"}', True),
        (b'{"status": "invalid"}', False),
        (b"not json", True),  # nothing to tell: left alone
        (b'["a list"]', True),
        (None, True),
    ],
)
def test_what_a_report_says_about_the_folder(raw: bytes | None, holds: bool) -> None:
    assert earlier_run.holds_asset(raw) is holds


# -- a rerun where it reads ----------------------------------------------------------------------------------


def _in_place(folder: Path, service_url: str) -> dict[str, Any]:
    settings = base_settings(folder, folder, service_url)
    del settings["metadata_dir"]  # the default: the output folder is the input folder
    return settings


def test_a_rerun_in_the_staging_folder_reads_its_inputs_not_its_outputs(asset, service, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset()  # no subject.json or procedures.json: both come from the service
    settings = _in_place(folder, service.url)
    assert _run(settings, capsys)[0] == 0
    first = {p.name: p.read_bytes() for p in folder.glob("*.json") if p.name != "gather_report.json"}
    kept = sorted(p.name for p in (folder / "original_metadata/uploaded_json").iterdir())

    code, err = _run(settings, capsys)
    assert code == 0, err
    again = {p.name: p.read_bytes() for p in folder.glob("*.json") if p.name != "gather_report.json"}
    assert again == first  # the same bytes
    assert sorted(p.name for p in (folder / "original_metadata/uploaded_json").iterdir()) == kept
    report = _report(folder)
    assert report["sources"]["procedures.json"]["from"] == "service"
    (note,) = [f for f in report["findings"] if f["id"] == "gather.resolve.earlier_output"]
    assert set(note["files"]) == {
        "acquisition.json",
        "data_description.json",
        "instrument.json",
        "procedures.json",
        "subject.json",
    }


def test_an_earlier_output_edited_since_is_an_input(asset, service, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    settings = _in_place(folder, service.url)
    assert _run(settings, capsys)[0] == 0
    subject = json.loads((folder / "subject.json").read_text())
    subject["notes"] = "fixed by hand"
    (folder / "subject.json").write_text(json.dumps(subject, indent=3))

    code, err = _run(settings, capsys)
    assert code == 0, err
    report = _report(folder)
    assert report["sources"]["subject.json"] == {"from": "file", "file": "subject.json"}
    assert "fixed by hand" in (folder / "subject.json").read_text()
    assert any(f["id"] == "gather.resolve.earlier_output_changed" for f in report["findings"])


def test_check_reads_everything_in_the_folder(asset, service, capsys) -> None:  # type: ignore[no-untyped-def]
    """`check` of a finished folder checks the files there: the outputs are what a reader gets."""
    folder = asset()
    assert _run(_in_place(folder, service.url), capsys)[0] == 0
    code = main(["check", str(folder), "--offline", "--format", "jsonl"], environ={})
    out = capsys.readouterr().out
    assert code in (0, 3)
    assert "gather.resolve.earlier_output" not in out


def test_check_of_a_multi_part_asset_gathered_in_place_asks_to_remove_nothing(  # type: ignore[no-untyped-def]
    asset, service, capsys, tmp_path: Path
) -> None:
    """The merged instrument.json beside its parts is what the run made of them, in every uploaded asset
    gathered in place: a note, not a warning to remove inputs."""
    folder = asset()
    assert _run(_in_place(folder, service.url), capsys)[0] == 0
    code = main(["check", str(folder), "--offline", "--format", "jsonl"], environ={})
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    ids = {(r["id"], r["severity"]) for r in records if r["type"] == "finding"}
    assert code == 0, ids
    assert not any(i == "gather.resolve.ignored_parts" for i, _ in ids)
    assert ("gather.resolve.merged_earlier", "info") in ids
    # a source folder holding both (not a gathered asset) is still told
    source = assets.write_asset(tmp_path / "source", "valid")
    (source / "instrument.json").write_bytes((folder / "instrument.json").read_bytes())
    main(["check", str(source), "--offline", "--format", "jsonl"], environ={})
    assert "gather.resolve.ignored_parts" in capsys.readouterr().out


# -- S3 ----------------------------------------------------------------------------------------------------


def _s3(folder: Path, aws: Aws, output_dir: str, service_url: str | None = None, **extra: Any) -> dict[str, Any]:
    settings = base_settings(folder, Path("unused"), service_url)
    settings.update(output_dir=output_dir, s3_endpoint_url=aws.url, aws_region=REGION, **extra)
    return settings


@pytest.mark.slow
def test_s3_a_report_only_prefix_is_not_an_asset_and_a_rerun_in_place_is_the_same(  # type: ignore[no-untyped-def]
    aws: Aws, aws_env: Any, asset, service, capsys
) -> None:
    bucket = aws.bucket("reruns")
    prefix = f"s3://{bucket}/a/"
    bad = _s3(asset("mismatched_subject_file"), aws, prefix)
    assert _run(bad, capsys)[0] == 3
    assert sorted(aws.objects(bucket, "a/")) == ["gather_report.json"]
    fixed = _s3(asset(with_subject=True, with_procedures=True), aws, prefix)
    code, err = _run(fixed, capsys, "--if-exists", "skip")
    assert code == 0 and "skipped" not in err, err
    assert "acquisition.json" in aws.objects(bucket, "a/")

    # in place: the inputs uploaded to a prefix, then gathered there twice
    folder = asset()
    for name in ("subject.json", "procedures.json"):  # left by the asset written above: the service gives them
        (folder / name).unlink(missing_ok=True)
    aws.upload(folder, bucket, "b/")
    in_place = _s3(folder, aws, f"s3://{bucket}/b/", service.url)
    del in_place["metadata_dir"]
    code, err = _run(in_place, capsys)
    assert code == 0, err
    first = {k: v for k, v in aws.objects(bucket, "b/").items() if k != "gather_report.json"}
    code, err = _run(in_place, capsys)
    assert code == 0, err
    assert {k: v for k, v in aws.objects(bucket, "b/").items() if k != "gather_report.json"} == first
    # as a run stopped after its marker, before its report, leaves the prefix: the rerun still knows its outputs
    report = aws.objects(bucket, "b/")["gather_report.json"]
    marker = earlier_run.marker_bytes(earlier_run.known_outputs(report, None))
    aws.s3.put_object(Bucket=bucket, Key=f"b/{earlier_run.MARKER}", Body=marker)
    aws.s3.delete_object(Bucket=bucket, Key="b/gather_report.json")
    code, err = _run(in_place, capsys)
    assert code == 0, err
    assert {k: v for k, v in aws.objects(bucket, "b/").items() if k != "gather_report.json"} == first


@pytest.mark.parametrize(
    ("metadata", "output", "said"),
    [
        ("in/", "in/out/", "is inside metadata_dir"),
        ("c/original_metadata/uploaded_json/", "c/", "where the run keeps copies of its input files"),
        ("", "x/", "is inside metadata_dir"),  # the bucket itself
    ],
)
def test_s3_prefixes_get_the_local_path_rules(  # type: ignore[no-untyped-def]
    aws: Aws, aws_env: Any, asset, capsys, metadata: str, output: str, said: str
) -> None:
    bucket = aws.bucket("paths")
    aws.upload(asset(with_subject=True, with_procedures=True), bucket, metadata)
    before = aws.objects(bucket)
    settings = _s3(Path("unused"), aws, f"s3://{bucket}/{output}", metadata_dir=f"s3://{bucket}/{metadata}")
    code, err = _run(settings, capsys)
    assert code == 2 and said in err, err
    assert aws.objects(bucket) == before  # nothing written, nothing deleted


@pytest.mark.slow
def test_check_of_an_uploaded_asset_calls_a_missing_file_missing(aws: Aws, aws_env: Any, asset, capsys) -> None:  # type: ignore[no-untyped-def]
    bucket = aws.bucket("uploaded")
    folder = asset(with_procedures=True)
    aws.upload(folder, bucket, "u/")  # no subject.json
    aws.s3.put_object(Bucket=bucket, Key="u/metadata.nd.json", Body=b"{}")  # what only a gathered asset holds
    code = main(
        ["check", f"s3://{bucket}/u/", "--offline", "--format", "jsonl"],
        environ={"GATHER_S3_ENDPOINT_URL": aws.url, "GATHER_AWS_REGION": REGION},
    )
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    missing = {tuple(r["files"]) for r in records if r.get("id") == "gather.resolve.missing"}
    assert code == 3
    assert {("subject.json",), ("data_description.json",)} <= missing
    assert not any(r.get("id") == "gather.resolve.not_checked" and "subject" in r["message"] for r in records)


def test_funding_sent_as_one_object_says_so(asset, gather, service) -> None:  # type: ignore[no-untyped-def]
    service.add(f"/api/v2/funding/{assets.PROJECT_NAME}", Route(200, assets.funding()[0]))
    run = gather(asset(), service_url=service.url)
    (found,) = [f for f in run.report()["findings"] if f["id"] == "gather.data_description.no_funding"]
    assert "sent a JSON object for funding, not a list" in found["message"]


def test_what_earlier_runs_wrote_outlives_a_run_stopped_while_writing() -> None:
    files = {"subject.json": {"sha256": "aa"}, "x/b.json": {"sha256": "bb"}, "acquisition_a.json": {"sha256": "cc"}}
    report = json.dumps({"status": "written", "files": files}).encode()
    known = earlier_run.known_outputs(report, None)
    assert known == {"subject.json": ["aa"]}  # kept originals and names gather-job never writes count for nothing
    known["subject.json"].append("dd")  # a run about to replace it: old and new bytes both count
    marker = earlier_run.marker_bytes(known)
    assert earlier_run.known_outputs(None, marker) == {"subject.json": ["aa", "dd"]}
    assert earlier_run.known_outputs(b"not json", b"[1]") == {}
    assert earlier_run.known_outputs(None, b'{"outputs": {"subject.json": null, "procedures.json": [null]}}') == {}
    assert earlier_run.known_outputs(json.dumps({"status": "checked", "files": files}).encode(), None) == {}


def test_a_forged_or_stale_marker_never_hides_a_real_input(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True, with_procedures=True)
    settings = base_settings(folder, folder, None)
    del settings["metadata_dir"]
    subject = (folder / "subject.json").read_bytes()
    (folder / earlier_run.MARKER).write_text('{"outputs": {"subject.json": null, "procedures.json": ["0" ]}}')
    code, err = _run(settings, capsys)
    assert code == 0, err
    assert (folder / "subject.json").read_bytes() == subject
    assert (folder / "original_metadata/uploaded_json/subject.json").read_bytes() == subject
    assert _report(folder)["sources"]["subject.json"] == {"from": "file", "file": "subject.json"}


def test_a_rerun_after_a_run_stopped_while_writing_reads_the_same_inputs(asset, service, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    settings = _in_place(folder, service.url)
    assert _run(settings, capsys)[0] == 0
    first = {p.name: p.read_bytes() for p in folder.glob("*.json") if p.name != "gather_report.json"}
    # as a run killed after its marker and some files, before its report, leaves the folder
    marker = earlier_run.marker_bytes(earlier_run.known_outputs((folder / "gather_report.json").read_bytes(), None))
    (folder / earlier_run.MARKER).write_bytes(marker)
    (folder / "gather_report.json").unlink()
    code, err = _run(settings, capsys)
    assert code == 0, err
    assert {p.name: p.read_bytes() for p in folder.glob("*.json") if p.name != "gather_report.json"} == first
    assert not (folder / earlier_run.MARKER).exists()


def test_an_earlier_output_whose_parts_are_gone_is_read_as_an_input(asset, service, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    settings = _in_place(folder, service.url)
    assert _run(settings, capsys)[0] == 0
    merged = (folder / "acquisition.json").read_bytes()
    for part in ("acquisition_a.json", "acquisition_b.json"):
        (folder / part).unlink()
    code, err = _run(settings, capsys)
    assert code == 0, err
    assert (folder / "acquisition.json").read_bytes() == merged
    assert _report(folder)["sources"]["acquisition.json"] == {"from": "file", "file": "acquisition.json"}


# -- in place, an input whose gathered file differs is rewritten, kept first ----------------------------------


def test_in_place_the_asset_gets_what_was_gathered_and_a_rerun_reads_the_kept_input(asset, service, capsys) -> None:  # type: ignore[no-untyped-def]
    """The folder's procedures.json joined with the service's: written over the input (kept first under
    original_metadata/uploaded_json/). It was left as the input, the service's surgery missing from the
    asset the job had validated and reported. The rerun reads the kept input: the same bytes again."""
    folder = asset(with_subject=True, with_user_procedures=True)
    given = (folder / "procedures.json").read_bytes()
    settings = _in_place(folder, service.url)
    assert _run(settings, capsys)[0] == 0
    written = json.loads((folder / "procedures.json").read_text())
    assert len(written["subject_procedures"]) == len(json.loads(given)["subject_procedures"]) + 1  # + the service's
    kept = folder / "original_metadata" / "uploaded_json" / "procedures.json"
    assert kept.read_bytes() == given
    first = {p.name: p.read_bytes() for p in folder.glob("*.json") if p.name != "gather_report.json"}

    code, err = _run(settings, capsys)
    assert code == 0, err
    assert {p.name: p.read_bytes() for p in folder.glob("*.json") if p.name != "gather_report.json"} == first
    assert kept.read_bytes() == given
    report = _report(folder)
    (note,) = [f for f in report["findings"] if f["id"] == "gather.resolve.kept_input"]
    assert "procedures.json" in note["files"]
    assert code == 0 and "duplicate" not in err


def test_in_place_an_input_rewritten_is_kept_even_when_originals_are_not(asset, service, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True, with_user_procedures=True)
    given = (folder / "procedures.json").read_bytes()
    settings = {**_in_place(folder, service.url), "keep_original_inputs": False}
    assert _run(settings, capsys)[0] == 0
    kept = sorted(p.name for p in (folder / "original_metadata" / "uploaded_json").iterdir())
    assert "procedures.json" in kept and "acquisition_a.json" not in kept  # only what was written over
    assert (folder / "original_metadata" / "uploaded_json" / "procedures.json").read_bytes() == given
    first = (folder / "procedures.json").read_bytes()
    assert _run(settings, capsys)[0] == 0 and (folder / "procedures.json").read_bytes() == first


@pytest.mark.slow
def test_s3_in_place_the_asset_gets_what_was_gathered(aws: Aws, aws_env: Any, asset, service, capsys) -> None:  # type: ignore[no-untyped-def]
    bucket = aws.bucket("inplace")
    folder = asset(with_subject=True, with_user_procedures=True)
    given = (folder / "procedures.json").read_bytes()
    aws.upload(folder, bucket, "p/")
    in_place = _s3(folder, aws, f"s3://{bucket}/p/", service.url)
    del in_place["metadata_dir"]
    assert _run(in_place, capsys)[0] == 0
    stored = aws.objects(bucket, "p/")
    assert stored["original_metadata/uploaded_json/procedures.json"] == given
    assert len(json.loads(stored["procedures.json"])["subject_procedures"]) == 2
    first = {k: v for k, v in stored.items() if k != "gather_report.json"}
    code, err = _run(in_place, capsys)
    assert code == 0, err
    assert {k: v for k, v in aws.objects(bucket, "p/").items() if k != "gather_report.json"} == first
