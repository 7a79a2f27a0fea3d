"""Many-asset checks as a user walkthrough found them: a resumed run's exit counts the resumed assets, one
rule for an --output next to the assets (local and S3), an interrupted shard said as such, plurals, a
suggested command that runs as the run did, and a word before an earlier run's results are replaced."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from tests.fixtures import assets
from tests.support.aws_fixtures import Aws


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv, environ={})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _records(text: str, kind: str | None = None) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in found if kind is None or r["type"] == kind]


def _verdict(err: str) -> str:
    return " ".join(err.rstrip().splitlines()[-1].split())


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    """One clean asset, two with errors, two folders without metadata."""
    root = tmp_path / "archive"
    assets.write_asset(root / "good", "valid")
    assets.write_asset(root / "broken-1", "malformed_json")
    assets.write_asset(root / "broken-2", "malformed_json")
    (root / "empty").mkdir()
    (root / "data-only").mkdir()
    (root / "data-only" / "raw.bin").write_bytes(b"0")
    return root


# -- 1. a resumed run's exit code and verdict count the resumed assets ---------------------------------------


def test_a_resumed_run_exits_over_the_resumed_assets_too(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["check", "--each", "archive", "--offline", "--jobs", "1", "--format", "jsonl", "--output", "results.jsonl"]
    code, _, err = _run(argv, capsys)
    assert code == 3, err
    code, _, err = _run([*argv, "--resume", "results.jsonl"], capsys)
    verdict = _verdict(err)
    assert code == 3, err  # was 0: a retried Slurm task whose shard had errors ended COMPLETED
    assert "3 assets: 0 checked now, 3 resumed from results.jsonl (2 with errors)" in verdict, verdict
    assert "1 clean, 2 with errors, 0 not read, 2 folders skipped (no metadata) (exit 3)" in verdict, verdict
    last = _records(Path("results.jsonl").read_text(), "summary")[-1]
    assert last["exit_code"] == 3 and last["assets"] == 0 and last["by_exit_code"] == {}  # the keys as before
    assert last["resumed"] == 3 and last["resumed_by_exit_code"] == {"0": 1, "3": 2}
    assert last["resumed_counts"]["error"] >= 2 and last["listed"] == 5 and last["skipped"] == 2
    code, out, _ = _run(["summary", "results.jsonl", "--format", "json"], capsys)
    assert code == 3 and json.loads(out)["assets"] == 3 and json.loads(out)["by_exit_code"] == {"0": 1, "3": 2}
    table = ["check", "--each", "archive", "--offline", "--jobs", "1", "--resume", "results.jsonl"]
    code, out, err = _run(table, capsys)
    first = out.splitlines()[0]
    assert code == 3 and first.startswith("gather-job check: 3 assets: 1 clean, 2 with errors, 0 not read;"), out
    assert "0 checked now, 3 resumed from results.jsonl (2 with errors)" in first
    assert "archive/broken-1  (resumed)" in out and "archive/broken-2  (resumed)" in out


def test_a_resumed_run_counts_only_the_resumed_assets_of_its_own_list(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = json.dumps({"type": "asset", "asset": "s3://b/other/", "exit_code": 3, "counts": {"error": 1}})
    earlier = tmp_path / "earlier.jsonl"
    good = json.dumps({"type": "asset", "asset": str(archive / "good"), "exit_code": 0, "counts": {}})
    earlier.write_text(f"{elsewhere}\n{good}\n")
    code, _, err = _run(["check", str(archive / "good"), "--offline", "--resume", str(earlier)], capsys)
    assert code == 0 and f"1 asset: 0 checked now, 1 resumed from {earlier} (0 with errors)" in _verdict(err), err


# -- 2. one rule for an --output next to the assets: local and S3 --------------------------------------------


def test_results_directly_in_the_parent_are_accepted_and_not_an_asset_on_the_rerun(
    archive: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = archive / "results.jsonl"
    argv = ["check", "--each", str(archive), "--offline", "--jobs", "1", "--output", str(results)]
    assert _run(argv, capsys)[0] == 3
    code, _, err = _run([*argv, "--resume", str(results)], capsys)
    assert code == 3 and "0 checked now, 3 resumed" in _verdict(err) and "2 folders skipped" in _verdict(err), err
    named = {r["asset"] for r in _records(results.read_text()) if r["type"] in ("asset", "skipped")}
    assert str(results) not in named
    code, _, err = _run([*argv[:-1], str(archive / "empty" / "r.jsonl")], capsys)
    assert code == 2 and "which this run checks" in " ".join(err.split()), err  # a child: it may become an asset


@pytest.fixture
def settings(aws_settings_file: str) -> str:
    return aws_settings_file


@pytest.fixture
def bucket(aws: Aws, archive: Path) -> str:
    name = aws.bucket("demo-bucket")
    for child in ("good", "broken-1", "broken-2"):
        aws.upload(archive / child, name, f"{child}/")
    aws.s3.put_object(Bucket=name, Key="data-only/raw.bin", Body=b"0")
    return name


@pytest.mark.slow
def test_an_s3_output_directly_under_the_parent_is_accepted_as_a_local_one_is(
    aws: Aws, archive: Path, bucket: str, settings: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["check", "--each", f"s3://{bucket}/", "--offline", "--settings-file", settings, "--jobs", "1"]
    output = f"s3://{bucket}/recheck.jsonl"
    code, _, err = _run([*argv, "--output", output], capsys)
    assert code == 3, err  # was exit 2: "is inside s3://demo-bucket/, which is being checked"
    code, _, err = _run([*argv, "--output", output, "--resume", output], capsys)
    verdict = _verdict(err)
    assert code == 3 and "0 checked now, 3 resumed" in verdict and "1 folder skipped" in verdict, err
    stored = aws.objects(bucket)["recheck.jsonl"].decode()
    assert {r["asset"] for r in _records(stored, "skipped")} == {f"s3://{bucket}/data-only/"}  # not recheck.jsonl
    before = aws.objects(bucket)
    for key, said in [
        ("good/r.jsonl", f"is inside the asset s3://{bucket}/good/, which this run checks"),
        ("data-only/r.jsonl", f"is inside the asset s3://{bucket}/data-only/, which this run checks"),  # as local
        ("new/r.jsonl", f"is inside s3://{bucket}/new/, a prefix of --each s3://{bucket}/"),
    ]:
        code, out, err = _run([*argv, "--output", f"s3://{bucket}/{key}"], capsys)
        paragraph = " ".join(err.split())
        assert code == 2 and said in paragraph and "nothing was written" in paragraph and out == "", err
    assert aws.objects(bucket) == before
    aws.bucket("other")
    aws.upload(archive / "good", "other", "x/")
    code, _, err = _run(["check", "s3://other/x/", *argv[1:], "--output", "s3://other/x/r.jsonl"], capsys)
    paragraph = " ".join(err.split())
    assert code == 2 and "is inside the asset s3://other/x/, which this run checks" in paragraph, err  # given by name
    assert "x/r.jsonl" not in aws.objects("other")


# -- 3. a results file whose run was interrupted is said to be so -------------------------------------------


def _asset(name: str, code: int = 0) -> str:
    return json.dumps({"type": "asset", "asset": name, "exit_code": code, "counts": {"error": int(code == 3)}})


def _summary(**more: Any) -> str:
    return json.dumps({"type": "summary", "assets": 1, "exit_code": 0, "by_exit_code": {}, "counts": {}, **more})


def test_summary_says_a_run_stopped_by_sigterm_was_interrupted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    term, killed = tmp_path / "term.jsonl", tmp_path / "killed.jsonl"
    term.write_text("\n".join([_asset("a"), _summary(exit_code=130, interrupted="SIGTERM")]) + "\n")
    killed.write_text("\n".join([_asset("b"), _summary(), _asset("c")]) + "\n")
    code, out, err = _run(["summary", str(term)], capsys)
    paragraph = " ".join(out.split())
    assert code == 130, out + err
    assert f"WARNING: {term} is not finished: its last run was interrupted (SIGTERM) before it finished" in paragraph
    assert f"--resume {term}" in paragraph and "no closing summary record" not in out + err
    assert f"not finished: {term} (interrupted by SIGTERM)" in err
    code, out, err = _run(["summary", str(killed)], capsys)
    assert code == 130 and "wrote no closing summary record" in out and "(no closing summary record)" in err
    code, out, _ = _run(["summary", str(term), str(killed), "--format", "json"], capsys)
    assert code == 130 and json.loads(out)["unfinished"] == [str(term), str(killed)]
    odd = tmp_path / "odd.jsonl"  # a results file is input: what it says is shown escaped, never acted on
    odd.write_text("\n".join([_asset("d"), _summary(exit_code=130, interrupted="\x1b[2J\u202e")]) + "\n")
    code, out, err = _run(["summary", str(odd)], capsys)
    assert code == 130 and not {"\x1b", "\u202e"} & set(out + err) and "\\x1b[2J\\u202e" in err, out + err


# -- 4. one asset, one folder ------------------------------------------------------------------------------


def test_counts_of_one_are_singular(archive: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (archive / "broken-1").rename(archive.parent / "b1")
    (archive / "broken-2").rename(archive.parent / "b2")
    (archive / "data-only").rename(archive.parent / "d")
    code, out, err = _run(["check", "--each", str(archive), "--offline", "--jobs", "1"], capsys)
    assert code == 0 and out.startswith("gather-job check: 1 asset: 1 clean, 0 with errors, 0 not read.")
    assert "1 folder skipped: no metadata." in out and "1 assets" not in out + err and "(s)" not in out + err
    assert _verdict(err).startswith("gather-job: verdict: 1 asset checked: 1 clean")
    assert "1 folder skipped (no metadata)" in _verdict(err)


# -- 5. the suggested command runs as the run did ------------------------------------------------------------


def test_each_given_an_asset_suggests_a_check_with_the_same_options(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    options = tmp_path / "my settings.json"
    options.write_text("{}")
    job = '{"subject_id": "123456"}'
    argv = ["--offline", "--settings-file", str(options), "--job-settings", job]
    code, _, err = _run(["check", "--each", str(archive / "good"), *argv], capsys)
    paragraph = " ".join(err.split())
    assert code == 2 and "is itself an asset" in paragraph, err
    suggested = paragraph.split("Check it alone: gather-job ", 1)[1].split(", or give --each", 1)[0]
    assert shlex.split(suggested) == ["check", str(archive / "good"), *argv], suggested  # was without --offline
    secret = '{"metadata_service_url": "http://user:s3cret@service"}'
    code, _, err = _run(["check", "--each", str(archive / "good"), "--offline", "--job-settings", secret], capsys)
    assert code == 2 and "s3cret" not in err and "***" in err, err  # a password is never echoed


# -- 6. replacing an earlier run's results is said ----------------------------------------------------------


def test_a_rerun_without_resume_says_it_replaces_the_earlier_results(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results.jsonl"
    argv = ["check", "--each", str(archive), "--offline", "--jobs", "1", "--output", str(results)]
    _, _, err = _run(argv, capsys)
    assert "replacing" not in err
    lines = len(results.read_text().splitlines())
    _, _, err = _run(argv, capsys)
    said = f"gather-job: warning: replacing {results} (an earlier run's results, {lines} lines)"
    assert err.count(said) == 1 and err.index(said) < err.index("gather-job: verdict:"), err
    assert f"--resume {results} with the same --output" in " ".join(err.split())
    _, _, err = _run([*argv, "--resume", str(results)], capsys)
    assert "replacing" not in err  # appended to, not replaced
    results.write_text("gather-job check: 3 assets: 1 clean, 2 with errors, 0 not read.\n")
    _, _, err = _run(argv, capsys)
    assert "replacing" not in err  # no asset record: not an earlier run's results


@pytest.mark.slow
def test_a_rerun_to_an_s3_key_without_resume_says_it_replaces_it(
    aws: Aws, archive: Path, settings: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = aws.bucket("ops")
    output = f"s3://{name}/recheck/r.jsonl"
    argv = ["check", "--each", str(archive), "--offline", "--settings-file", settings, "--jobs", "1"]
    _, _, err = _run([*argv, "--output", output], capsys)
    assert "replacing" not in err
    size = len(aws.objects(name)["recheck/r.jsonl"])
    _, _, err = _run([*argv, "--output", output], capsys)
    assert f"gather-job: warning: replacing {output} (an earlier run's results, {size:,} bytes)" in err, err


def test_a_resumed_run_checks_again_an_asset_whose_record_says_the_service_failed(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exit 4 (1, 130) says nothing about the asset: a retry that kept it would end 4 for good."""
    monkeypatch.chdir(tmp_path)
    argv = ["check", "--each", "archive", "--offline", "--jobs", "1", "--format", "jsonl", "--output", "results.jsonl"]
    assert _run(argv, capsys)[0] == 3
    lines = Path("results.jsonl").read_text().splitlines()
    edited = []
    for line in lines:  # the clean asset's record as a throttled S3 read would have left it
        record = json.loads(line)
        if record.get("type") == "asset" and record["asset"].endswith("good"):
            record["exit_code"] = 4
        edited.append(json.dumps(record))
    Path("results.jsonl").write_text("\n".join(edited) + "\n")
    code, _, err = _run([*argv, "--resume", "results.jsonl"], capsys)
    assert code == 3, err  # not 4: the good asset was checked again (0), the broken ones kept (3)
    assert "1 checked now, 2 resumed" in _verdict(err), err
    assert _run(["summary", "results.jsonl"], capsys)[0] == 3  # the asset's last record (0) counts


def test_resumed_from_one_file_into_another_the_verdict_names_both(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["check", "--each", "archive", "--offline", "--jobs", "1", "--format", "jsonl"]
    assert _run([*argv, "--output", "A.jsonl"], capsys)[0] == 3
    code, _, err = _run([*argv, "--resume", "A.jsonl", "--output", "B.jsonl"], capsys)
    verdict = _verdict(err)
    assert code == 3 and "resumed from A.jsonl (2 with errors)" in verdict, verdict  # not "A.jsonl and B.jsonl"
    assert "records are in A.jsonl: `gather-job summary A.jsonl B.jsonl` gives this verdict" in verdict, verdict
    assert _run(["summary", "A.jsonl", "B.jsonl"], capsys)[0] == code
