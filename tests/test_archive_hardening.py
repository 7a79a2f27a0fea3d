"""Many-asset results an adversary wrote, and results files named two ways: never a traceback or a lie.

`summary` reads files that were edited, concatenated and copied around; an `asset` record is counted
only as this tool writes it (an exit code of gather-job's, whole counts), the rest is skipped and
said. `--resume ./r.jsonl --output r.jsonl` is one file: resumed, then appended to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.archive import listing, results
from gather_job.cli import main
from tests.fixtures import assets


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv, environ={})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _asset(name: str, code: Any, counts: Any = None) -> str:
    return json.dumps({"type": "asset", "asset": name, "exit_code": code, "counts": counts or {}})


GOOD = _asset("s3://b/good/", 0, {"error": 0, "warning": 1, "info": 2})
FORGED = [
    '{"type": "asset", "asset": "s3://b/huge/", "exit_code": 1e400, "counts": {}}',  # a float int() cannot hold
    '{"type": "asset", "asset": "s3://b/many/", "exit_code": 3, "counts": {"error": 1e400}}',
    _asset("s3://b/256/", 256),  # no shell sees 256: it would be exit 0
    _asset("s3://b/99/", 99),
    _asset("s3://b/neg/", -1),
    _asset("s3://b/bool/", True),
    _asset("s3://b/text/", "3"),
    _asset("s3://b/float/", 3.0),
    _asset("s3://b/negative-count/", 3, {"error": -5}),
    _asset("s3://b/bool-count/", 3, {"error": True}),
    _asset("s3://b/odd-count/", 3, {"errors!": 1}),
    _asset("s3://b/past-2**53/", 3, {"error": 2**60}),
    _asset("", 3),
    '{"type": "asset", "asset": "s3://b/no-code/"}',
    '["not", "a", "record"]',
]


@pytest.mark.parametrize("forged", FORGED, ids=[f"forged-{i}" for i in range(len(FORGED))])
def test_summary_counts_only_records_this_tool_writes(
    forged: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(f"{GOOD}\n{forged}\n")
    code, out, err = _run(["summary", str(path), "--format", "json"], capsys)
    assert code == 0, err  # only the clean asset counts: no crash (exit 1), no exit 256/99/-1
    combined = json.loads(out)
    assert combined["assets"] == 1 and combined["by_exit_code"] == {"0": 1}
    assert combined["counts"] == {"error": 0, "warning": 1, "info": 2}
    assert "gather-job: note: 1 line of the results skipped" in err and "Traceback" not in err
    assert err.rstrip().splitlines()[-1].startswith("gather-job: verdict: 1 asset checked")


def test_a_forged_record_cannot_hide_an_asset_with_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "results.jsonl"
    bad = _asset("s3://b/bad/", 3, {"error": 2, "warning": 0, "info": 0})
    path.write_text("\n".join([bad, _asset("s3://b/bad/", 256), _asset("s3://b/x/", -1), GOOD]) + "\n")
    code, out, err = _run(["summary", str(path)], capsys)
    assert code == 3 and "(exit 256)" not in err + out and "(exit 3)" in err
    assert "2 lines of the results skipped" in err


def test_results_helpers_skip_forged_lines_and_keep_their_one_argument_use(tmp_path: Path) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join([GOOD, *FORGED, "", '{"type": "finding", "asset": "s3://b/good/"}', '{"cut']) + "\n")
    tally = results.combine([path.read_text()])
    assert tally.assets == 1 and tally.skipped_lines == len(FORGED) + 1  # blank and finding lines are not skipped
    assert listing.done_assets(str(path)) == {"s3://b/good/"}  # a forged record is run again, not trusted
    assert results.asset_record(json.loads(GOOD)) == ("s3://b/good/", 0, {"error": 0, "warning": 1, "info": 2})


def test_the_table_shows_control_characters_escaped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "results.jsonl"
    path.write_text(_asset("s3://b/bad\x1b[31m/", 2) + "\n")
    code, out, _ = _run(["summary", str(path)], capsys)
    assert code == 2 and "\x1b" not in out and "s3://b/bad\\x1b[31m/" in out


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    root = tmp_path / "archive"
    for i in range(4):
        assets.write_asset(root / f"asset-{i}", "valid")
    return root


def _cut_after_first_asset(path: Path) -> str:
    """Keep the results up to the first `asset` record, then a line a killed run cut."""
    lines = path.read_text().splitlines()
    first = next(i for i, line in enumerate(lines) if '"type": "asset"' in line)
    cut = '{"type": "asset", "asset": "/tr'
    path.write_text("\n".join(lines[: first + 1]) + "\n" + cut)
    return cut


@pytest.mark.slow
def test_resuming_into_the_same_file_named_two_ways_appends(
    archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    argv = ["check", "--each", str(archive), "--offline", "--format", "jsonl", "--jobs", "1"]
    code, _, err = _run([*argv, "--output", "r.jsonl"], capsys)
    assert code == 0, err
    cut = _cut_after_first_asset(tmp_path / "r.jsonl")
    code, _, err = _run([*argv, "--resume", "./r.jsonl", "--output", "r.jsonl"], capsys)
    assert code == 0, err  # was exit 2: "--output would replace the --resume results"
    assert "4 assets: 3 checked now, 1 resumed from r.jsonl (0 with errors)" in err
    lines = (tmp_path / "r.jsonl").read_text().splitlines()
    assert cut in lines  # the cut line stands alone: the first appended record is not glued to it
    done = [r["asset"] for r in map(json.loads, (line for line in lines if line != cut)) if r["type"] == "asset"]
    assert sorted(done) == sorted(str(p) for p in archive.iterdir()) and len(done) == len(set(done))
