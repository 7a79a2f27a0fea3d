"""Many-asset checks of local folders, as the adversarial probe found them: no write into a checked asset,
every child of --each named, one asset however spelled, no silent empty run, unfinished shards named."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from gather_job.archive.listing import Shard, parse_shard
from gather_job.cli import main
from gather_job.errors import UsageError
from tests.fixtures import assets


def _run(argv: list[str], capsys: pytest.CaptureFixture[str], environ: dict[str, str] | None = None) -> Any:
    code = main(argv, environ=environ or {})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _records(text: str, kind: str | None = None) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in text.splitlines() if line.strip()]
    return [r for r in found if kind is None or r["type"] == kind]


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    for i in range(3):
        assets.write_asset(root / f"asset-{i}", "valid")
    return root


def test_bulk_output_inside_a_checked_asset_is_refused_before_anything_is_written(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()}
    (tmp_path / "link").symlink_to(archive / "asset-1")
    for argv in (
        [str(archive / "asset-0"), str(archive / "asset-1"), "--output", str(archive / "asset-0" / "subject.json")],
        ["--each", str(archive), "--output", str(archive / "asset-2" / "acquisition.json")],
        ["--each", str(archive), "--output", str(archive / "asset-2" / "results.jsonl")],
        [str(archive / "asset-0"), str(tmp_path / "link"), "--output", str(archive / "asset-1" / "r.jsonl")],
        [str(archive / "asset-0"), str(archive / "asset-1"), "--output", str(tmp_path / "link" / "r.jsonl")],
    ):
        code, out, err = _run(["check", *argv, "--offline", "--jobs", "1"], capsys)
        paragraph = " ".join(err.split())
        assert code == 2 and "which this run checks" in paragraph and "nothing was written" in paragraph, err
        assert "assets checked" not in err and out == ""
    assert {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()} == before
    code, _, _ = _run(["check", "--each", str(archive), "--offline", "--output", str(archive / "r.jsonl")], capsys)
    assert code == 0  # directly in the parent: next to the assets, inside none


def test_each_names_every_folder_it_does_not_check_and_checks_a_metadata_nd_json_asset(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (archive / "empty").mkdir()
    (archive / "data-only" / "ecephys").mkdir(parents=True)
    (archive / "data-only" / "ecephys" / "raw.bin").write_bytes(b"0")
    (archive / "data-only" / "original_metadata").mkdir()
    (archive / "nd-only").mkdir()
    (archive / "nd-only" / "metadata.nd.json").write_text(json.dumps({"name": "x", "subject": None}))
    _, out, err = _run(["check", "--each", str(archive), "--offline", "--format", "jsonl", "--jobs", "1"], capsys)
    skipped = {Path(r["asset"]).name: r["reason"] for r in _records(out, "skipped")}
    assert set(skipped) == {"empty", "data-only"}
    assert "empty folder" in skipped["empty"] and "ecephys/" in skipped["data-only"]
    checked = {Path(r["asset"]).name: r for r in _records(out, "asset")}
    assert set(checked) == {"asset-0", "asset-1", "asset-2", "nd-only"}
    alone, _, _ = _run(["check", str(archive / "nd-only"), "--offline"], capsys)
    assert checked["nd-only"]["exit_code"] == alone  # alone and in bulk: the same exit code
    summary = _records(out, "summary")[0]
    assert summary["skipped"] == 2 and summary["listed"] == 6 and summary["resumed"] == 0
    assert "2 folders skipped (no metadata)" in err
    _, out, _ = _run(["check", "--each", str(archive), "--offline", "--jobs", "1"], capsys)
    assert "data-only: no metadata file" in out and "empty: an empty folder" in out
    assert out.startswith("gather-job check: 4 assets")


def test_one_asset_is_one_asset_however_its_path_is_spelled(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gather_job.archive.sources import identity

    monkeypatch.chdir(tmp_path)
    results = "r.jsonl"
    argv = ["check", "archive/asset-0/", "./archive/asset-1", "--offline", "--jobs", "1", "--output", results]
    assert _run(argv, capsys)[0] == 0
    again = ["check", "archive/asset-0", "archive/asset-1/", "archive//asset-2", "--offline", "--jobs", "1"]
    code, _, err = _run([*again, "--output", results, "--resume", results], capsys)
    assert code == 0 and "3 assets: 1 checked now, 2 resumed" in err, err  # asset-0, asset-1 done, spelled otherwise
    code, out, _ = _run(["summary", results, "--format", "json"], capsys)
    assert json.loads(out)["assets"] == 3
    code, out, _ = _run(["check", "archive/asset-0", "./archive/asset-0/", "--offline", "--format", "jsonl"], capsys)
    assert len(_records(out, "asset")) == 1
    assert identity("s3://b/x") == identity("s3://b/x/") == "s3://b/x/" and identity("./d/x/") == "d/x"
    for index in range(3):  # a shard takes an asset or not whatever its spelling
        taken = []
        for spelled in (["archive/asset-0/", "./archive/asset-1"], ["archive/asset-0", "archive/asset-1/"]):
            argv = ["check", *spelled, "--offline", "--format", "jsonl", "--shard", f"{index}/3"]
            taken.append(sorted(identity(r["asset"]) for r in _records(_run(argv, capsys)[1], "asset")))
        assert taken[0] == taken[1]
    assert Shard(1, 3).takes("s3://b/x/") == Shard(1, 3).takes(identity("s3://b/x/"))  # normalised: unmoved


def test_each_that_finds_no_asset_is_exit_2_naming_where_the_assets_are(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "nest" / "2024").mkdir(parents=True)
    os.rename(archive / "asset-0", tmp_path / "nest" / "2024" / "asset-0")
    cases = [
        (tmp_path / "empty", "holds no folder"),
        (tmp_path / "nest", "--each " + str(tmp_path / "nest" / "2024")),
        (archive / "asset-1", "is itself an asset"),
    ]
    for parent, said in cases:
        code, out, err = _run(["check", "--each", str(parent), "--offline", "--jobs", "1"], capsys)
        assert code == 2 and said in " ".join(err.split()) and out == "", err
    text = tmp_path / "table.txt"
    text.write_text("gather-job check: 2 assets: 2 clean, 0 with errors, 0 not read.\n")
    code, _, err = _run(["summary", str(text)], capsys)
    assert code == 2 and "no `asset` record found" in " ".join(err.split())


def _asset(name: str, code: int = 0) -> str:
    return json.dumps({"type": "asset", "asset": name, "exit_code": code, "counts": {"error": int(code == 3)}})


def _summary(**more: Any) -> str:
    return json.dumps({"type": "summary", "assets": 1, "exit_code": 0, "by_exit_code": {}, "counts": {}, **more})


def test_summary_names_a_results_file_whose_run_did_not_finish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done, killed, stopped = tmp_path / "shard-0.jsonl", tmp_path / "shard-1.jsonl", tmp_path / "shard-2.jsonl"
    done.write_text("\n".join([_asset("a"), _summary()]) + "\n")
    killed.write_text("\n".join([_asset("b"), _summary(), _asset("c")]) + "\n")  # a resumed run, killed
    stopped.write_text("\n".join([_asset("d"), _summary(interrupted="SIGTERM")]) + "\n")
    code, out, err = _run(["summary", str(done)], capsys)
    assert code == 0 and "not finished" not in out + err
    code, out, err = _run(["summary", str(done), str(killed), str(stopped)], capsys)
    assert code == 130 and f"WARNING: {killed} is not finished" in out and f"WARNING: {stopped}" in out
    assert f"{done} is not finished" not in out and "not finished" in err
    assert out.startswith("gather-job summary: 4 assets")  # not "gather-job check:"
    code, out, _ = _run(["summary", str(done), str(killed), "--format", "json"], capsys)
    assert json.loads(out)["unfinished"] == [str(killed)] and code == 130
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([_asset("e", 3), _summary(), _asset("f")]) + "\n")
    assert _run(["summary", str(bad)], capsys)[0] == 3  # errors found outrank a run not finished


def test_one_path_with_resume_or_a_jsonl_output_is_a_many_asset_run(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "r.jsonl"
    code, _, err = _run(["check", str(archive / "asset-0"), "--offline", "--output", str(results)], capsys)
    assert code == 0 and [r["asset"] for r in _records(results.read_text(), "asset")] == [str(archive / "asset-0")]
    code, _, err = _run(
        ["check", str(archive / "asset-0"), "--offline", "--output", str(results), "--resume", str(results)], capsys
    )
    assert code == 0 and "1 asset: 0 checked now, 1 resumed" in err, err  # was re-checked, the --resume ignored
    assert _run(["summary", str(results)], capsys)[0] == 0


def test_shard_auto_past_the_last_index_names_the_variable_and_the_fix() -> None:
    with pytest.raises(UsageError) as caught:
        parse_shard("auto/16", {"SLURM_ARRAY_TASK_ID": "16"})
    said = str(caught.value)
    assert "SLURM_ARRAY_TASK_ID=16" in said and "--array=0-15" in said


@pytest.mark.parametrize("jobs", ["0", "-1"])
def test_jobs_below_one_is_refused(archive: Path, jobs: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["check", "--each", str(archive), "--offline", "--jobs", jobs], capsys)
    assert code == 2 and f"--jobs {jobs}" in err and out == ""


def test_the_summary_record_counts_resumed_assets_apart_from_folders_skipped(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (archive / "empty").mkdir()
    results = tmp_path / "r.jsonl"
    argv = ["check", "--each", str(archive), "--offline", "--jobs", "1", "--format", "jsonl", "--output", str(results)]
    _run([*argv, "--shard", "0/1"], capsys)
    _run([*argv, "--resume", str(results)], capsys)
    last = _records(results.read_text(), "summary")[-1]
    assert last["resumed"] == 3 and last["skipped"] == 1 and last["assets"] == 0 and last["listed"] == 4
