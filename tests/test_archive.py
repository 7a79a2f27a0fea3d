"""Re-checking an archive: many assets in one command, worker processes, shards, resume, S3."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.archive.listing import Shard, parse_shard
from gather_job.cli import main
from gather_job.errors import UsageError
from tests.fixtures import assets
from tests.support.aws_fixtures import REGION, Aws

VARIANTS = ["valid", "shared_device", "unknown_stimulus_device", "three_instruments", "malformed_json"]


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    for i, variant in enumerate(VARIANTS * 2):
        assets.write_asset(root / f"asset-{i:02d}", variant)
    (root / "not-an-asset").mkdir()  # no metadata files: not listed by --each
    (root / "not-an-asset" / "notes.txt").write_text("x")
    return root


def _records(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _run(argv: list[str], capsys: Any, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    code = main(argv, environ=environ or {})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.slow
def test_each_asset_gets_exactly_what_check_alone_prints(archive: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = _run(["check", "--each", str(archive), "--offline", "--format", "jsonl", "--jobs", "2"], capsys)
    records = _records(out)
    assert code == 3
    by_asset = [r for r in records if r["type"] == "asset"]
    assert sorted(r["asset"] for r in by_asset) == sorted(str(p) for p in archive.glob("asset-*"))
    summary = records[-1]
    assert summary["type"] == "summary" and summary["assets"] == 10 and summary["exit_code"] == 3
    for record in by_asset:
        alone_code, alone, _ = _run(["check", record["asset"], "--offline", "--format", "jsonl"], capsys)
        alone_findings = [r for r in _records(alone) if r["type"] == "finding"]
        mine = [{k: v for k, v in r.items() if k != "asset"} for r in records if r.get("asset") == record["asset"]]
        assert [r for r in mine if r["type"] == "finding"] == alone_findings
        assert record["exit_code"] == alone_code
        assert record["counts"] == _records(alone)[-1]["counts"]
    assert err.rstrip().splitlines()[-1].startswith("gather-job: verdict: 10 assets checked: 4 clean")


@pytest.mark.slow
def test_one_worker_and_two_give_the_same_records(archive: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    outputs = []
    for jobs in ("1", "2"):
        _, out, _ = _run(["check", "--each", str(archive), "--offline", "--format", "jsonl", "--jobs", jobs], capsys)
        outputs.append(sorted(json.dumps(r, sort_keys=True) for r in _records(out)))
    assert outputs[0] == outputs[1]


def test_a_path_that_cannot_be_read_is_that_assets_exit_code(archive: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    listing = tmp_path / "list.txt"
    listing.write_text(f"{archive / 'asset-00'}\n# a comment\n{tmp_path / 'gone'}\n\n{archive / 'asset-00'}\n")
    code, out, _ = _run(["check", "--from-file", str(listing), "--offline", "--format", "jsonl"], capsys)
    records = {r["asset"]: r for r in _records(out) if r["type"] == "asset"}
    assert len(records) == 2  # each asset once
    assert records[str(archive / "asset-00")]["exit_code"] == 0
    gone = records[str(tmp_path / "gone")]
    assert gone["exit_code"] == 2 and "does not exist" in gone["error"]  # that asset's code, not the run's end
    assert code == 2  # nothing had errors, but one asset could not be read


def test_the_list_can_come_from_standard_input(archive: Path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{archive / 'asset-00'}\n{archive / 'asset-03'}\n"))
    code, out, _ = _run(["check", "--from-file", "-", "--offline", "--format", "jsonl"], capsys)
    assert code == 0 and len([r for r in _records(out) if r["type"] == "asset"]) == 2


@pytest.mark.slow
def test_shards_split_the_list_stably_and_completely(archive: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    seen: list[str] = []
    for index in range(3):
        _, out, _ = _run(
            ["check", "--each", str(archive), "--offline", "--format", "jsonl", "--shard", f"{index}/3"], capsys
        )
        seen += [r["asset"] for r in _records(out) if r["type"] == "asset"]
    assert sorted(seen) == sorted(str(p) for p in archive.glob("asset-*"))  # every asset once
    assert Shard(1, 3).takes("s3://b/x/") == Shard(1, 3).takes("s3://b/x/")
    assert parse_shard("auto/4", {"SLURM_ARRAY_TASK_ID": "2"}) == Shard(2, 4)
    assert parse_shard("auto/4", {"AWS_BATCH_JOB_ARRAY_INDEX": "3"}) == Shard(3, 4)
    for bad in ("4/4", "x/2", "1", "auto/2"):
        with pytest.raises(UsageError):
            parse_shard(bad, {})


@pytest.mark.slow
def test_resume_skips_what_was_recorded_and_never_reports_an_asset_twice(archive: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    results = tmp_path / "results.jsonl"
    _run(["check", "--each", str(archive), "--offline", "--format", "jsonl", "--output", str(results)], capsys)
    lines = results.read_text().splitlines()
    cut = [i for i, line in enumerate(lines) if '"type": "asset"' in line][3]
    results.write_text("\n".join(lines[: cut + 1]) + '\n{"type": "asset", "asset": "/tr')  # killed mid-line
    _code, _, err = _run(
        [
            "check",
            "--each",
            str(archive),
            "--offline",
            "--format",
            "jsonl",
            "--output",
            str(results),
            "--resume",
            str(results),
        ],
        capsys,
    )
    assets_done = [r["asset"] for r in _records_tolerant(results.read_text()) if r.get("type") == "asset"]
    assert sorted(assets_done) == sorted(str(p) for p in archive.glob("asset-*"))
    assert len(assets_done) == len(set(assets_done)) == 10
    assert "10 assets: 6 checked now, 4 resumed from" in err


def _records_tolerant(text: str) -> list[dict[str, Any]]:
    found = []
    for line in text.splitlines():
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return found


def test_text_output_is_a_table_of_the_assets_not_clean(archive: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = _run(["check", "--each", str(archive), "--offline"], capsys)
    assert code == 3
    assert out.startswith("gather-job check: 10 assets: 4 clean, 6 with errors, 0 not read.")
    assert str(archive / "asset-01") in out and str(archive / "asset-00") not in out
    assert "assets checked" in err and "/min" in err  # progress, plain lines off a terminal


@pytest.mark.slow
def test_an_archive_on_s3_with_results_to_s3(aws: Aws, aws_env: Any, archive: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bucket = aws.bucket()
    for folder in sorted(archive.glob("asset-0[0-3]")):
        aws.upload(folder, bucket, f"uploads/{folder.name}/")
    for i in range(3):  # a prefix of data only, deep below: not an asset, and its objects are never listed
        aws.s3.put_object(Bucket=bucket, Key=f"uploads/raw-only/ecephys/probe/{i}.dat", Body=b"0")
    aws.s3.put_object(Bucket=bucket, Key="uploads/asset-00/ecephys/acquisition_x.json", Body=b"{}")  # data, deeper
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps({"s3_endpoint_url": aws.url, "aws_region": REGION}))
    argv = ["check", "--each", f"s3://{bucket}/uploads/", "--offline", "--settings-file", str(settings)]
    code, _, err = _run([*argv, "--format", "jsonl", "--output", f"s3://{bucket}/results/0.jsonl"], capsys)
    assert code == 3, err
    stored = aws.objects(bucket, "results/")["0.jsonl"].decode()
    assets_seen = sorted(r["asset"] for r in _records(stored) if r["type"] == "asset")
    assert assets_seen == [f"s3://{bucket}/uploads/asset-0{i}/" for i in range(4)]


@pytest.mark.slow
def test_shard_results_combine_into_one_summary(aws: Aws, aws_env: Any, archive: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    whole = _run(["check", "--each", str(archive), "--offline", "--format", "jsonl"], capsys)
    bucket = aws.bucket()
    for i in range(3):
        argv = ["check", "--each", str(archive), "--offline", "--format", "jsonl", "--shard", "auto/3"]
        code, out, _ = _run(argv, capsys, environ={"AWS_BATCH_JOB_ARRAY_INDEX": str(i)})
        aws.s3.put_object(Bucket=bucket, Key=f"recheck/shard-{i}.jsonl", Body=out.encode())
    (tmp_path / "cut.jsonl").write_text(whole[1] + '{"type": "asset", "asset": "/cut')  # a killed run's last line
    settings = tmp_path / "aws.json"
    settings.write_text(json.dumps({"s3_endpoint_url": aws.url, "aws_region": REGION}))
    argv = ["summary", f"s3://{bucket}/recheck/", str(tmp_path / "cut.jsonl"), "--settings-file", str(settings)]
    code, out, err = _run([*argv, "--format", "json"], capsys)
    expected = next(r for r in _records(whole[1]) if r["type"] == "summary")
    combined = json.loads(out)
    assert code == whole[0] == 3 and "verdict" in err
    assert {k: combined[k] for k in ("assets", "exit_code", "by_exit_code", "counts")} == {
        k: expected[k] for k in ("assets", "exit_code", "by_exit_code", "counts")
    }
    code, out, _ = _run(["summary", str(tmp_path / "missing.jsonl")], capsys)
    assert code == 2
    code, out, _ = _run(["summary", str(tmp_path / "cut.jsonl")], capsys)
    assert code == 3 and "with errors" in out


@pytest.mark.slow
def test_s3_assets_are_read_ahead_in_order(aws: Aws, aws_env: Any, archive: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    """On S3 the next assets are read in threads while one is checked (each costs round trips);
    through a proxy that delays every request the records are still those of the folders, in order."""
    from urllib.parse import urlsplit

    from gather_job.archive.workers import S3_AHEAD, read_ahead
    from tests.support.tcp_proxy import CuttingProxy

    bucket = aws.bucket()
    folders = sorted(archive.glob("asset-*"))
    for folder in folders:
        aws.upload(folder, bucket, f"slow/{folder.name}/")
    local = _records(_run(["check", *map(str, folders), "--offline", "--format", "jsonl", "--jobs", "1"], capsys)[1])
    paths = [f"s3://{bucket}/slow/{folder.name}/" for folder in folders]
    assert read_ahead(paths) == S3_AHEAD > 1 and read_ahead(map(str, folders)) == 1
    with CuttingProxy(urlsplit(aws.url).port or 0, delay=0.02) as proxy:
        settings = tmp_path / "slow.json"
        settings.write_text(json.dumps({"s3_endpoint_url": proxy.url, "aws_region": REGION}))
        argv = ["check", *paths, "--offline", "--settings-file", str(settings), "--format", "jsonl", "--jobs", "1"]
        code, out, err = _run(argv, capsys)
    assert code == 3, err
    remote = _records(out)
    assert [r["asset"] for r in remote if r["type"] == "asset"] == paths
    strip = [{k: v for k, v in r.items() if k != "asset"} for r in remote if r["type"] != "summary"]
    assert strip == [{k: v for k, v in r.items() if k != "asset"} for r in local if r["type"] != "summary"]
