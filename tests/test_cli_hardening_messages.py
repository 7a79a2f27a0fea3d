"""What a person reads: URL fragments masked, JSON errors said once, a findings policy's effect shown.

- A URL's fragment (#...) is never sent to a server, so what is there is a slip or a secret; it is
  masked wherever a URL is shown, like a password (`redact_url`, logs, error paragraphs).
- "Unterminated string starting at at line 1": json's message ends with "at" and the location added
  "at line ..." again.
- A findings policy that ignores or demotes errors changes the counts people read ("0 errors"), so the
  headline and the verdict say what the policy did; only the report's `policy` section said it before.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from gather_job.logs import redact
from gather_job.service import redact_url
from tests.conftest import Run

FRAGMENT = "s3cr3tFRAG-0042"


def test_redact_url_masks_a_fragment_like_a_password() -> None:
    assert redact_url(f"http://127.0.0.1:9#{FRAGMENT}") == "http://127.0.0.1:9#***"
    assert redact_url(f"https://u:pw@host/x?token=t&a=b#{FRAGMENT}") == "https://***@host/x?token=***&a=b#***"
    assert redact(f"GET 'http://h/api#access_token={FRAGMENT}' failed") == "GET 'http://h/api#***' failed"
    assert redact_url("http://host/x#") == "http://host/x#"  # nothing to mask
    assert redact("s3://bucket/run#2/subject.json") == "s3://bucket/run#2/subject.json"  # '#' is part of an S3 key


@pytest.mark.parametrize("door", ["json", "environment", "file"])
def test_a_refused_service_url_never_echoes_its_fragment(
    door: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"http://127.0.0.1:9#{FRAGMENT}"
    environ = {"LOG_LEVEL": "DEBUG"}
    argv = ["check", str(tmp_path), "--offline"]
    if door == "json":
        argv += ["--job-settings", json.dumps({"metadata_service_url": url})]
    elif door == "environment":
        environ["GATHER_METADATA_SERVICE_URL"] = url
    else:
        (tmp_path / "s.json").write_text(json.dumps({"metadata_service_url": url}))
        argv += ["--settings-file", str(tmp_path / "s.json")]
    for log_format in ("text", "json"):
        code = main(["--log-format", log_format, *argv], environ=environ)
        err = capsys.readouterr().err
        assert code == 2 and "metadata_service_url" in err and "127.0.0.1:9#***" in err, err
        assert FRAGMENT not in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        (["run", "--job-settings", '{"a'], {}),
        (["check", "DIR", "--offline"], {"GATHER_DATA_DESCRIPTION_SETTINGS": '{"a'}),
        (["check", "DIR", "--offline", "--settings-file", "FILE"], {}),
    ],
)
def test_a_json_syntax_error_says_at_once(
    argv: list[str], environ: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad.json").write_text('{"output_dir": "out", "subject_id": "1}')
    names = {"DIR": str(tmp_path), "FILE": str(tmp_path / "bad.json")}
    assert main([names.get(a, a) for a in argv], environ=environ) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Unterminated string starting at line 1 column" in err, err
    assert "at at" not in err


def _policy(tmp_path: Path, rules: list[dict[str, Any]]) -> str:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(rules))
    return str(path)


def test_a_policy_that_ignores_errors_says_so_in_the_run_summary(
    gather: Callable[..., Run], asset, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """The review's repro: an asset with an error written with exit 0, stderr saying only "0 errors".
    (A policy never lets a core file go missing: tests/test_review_followups.py.)"""
    policy = _policy(tmp_path, [{"id": "*", "severity": "ignore"}])
    run = gather(asset("unknown_active_device"), argv=["--policy", policy])
    changed = [c for rule in run.report()["policy"] for c in rule["changed"]]
    ignored, errors = len(changed), len([c for c in changed if c["from"] == "error"])
    assert run.code == 0 and errors >= 1
    headline, verdict = run.err.splitlines()[0], run.err.strip().splitlines()[-1]
    assert "gather-job: wrote" in headline
    said = f"policy: {ignored} findings ignored ({errors} error{'s' * (errors != 1)}"
    assert said in headline and said in verdict, run.err
    assert verdict.startswith("gather-job: verdict: written (exit 0): 0 errors, 0 warnings, 0 notes; policy: ")


def test_a_policy_that_demotes_and_promotes_says_so_in_check(asset, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset("invalid_instrument_schema")
    rules = [
        {"id": "gather.schema.*", "severity": "warning"},
        {"id": "gather.merge.restored", "severity": "error"},
        {"id": "*", "severity": "ignore"},
    ]
    code = main(["check", str(folder), "--offline", "--policy", _policy(tmp_path, rules)], environ={})
    captured = capsys.readouterr()
    headline, verdict = captured.out.splitlines()[0], captured.err.strip().splitlines()[-1]
    assert code == 3  # the promoted note is an error now
    for text in (headline, verdict):
        assert "policy: " in text and "findings ignored (" in text, text
        assert "1 error demoted to warning" in text and "promoted to error" in text, text


def test_without_a_policy_nothing_is_said_of_one(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", str(asset()), "--offline"], environ={}) == 0
    captured = capsys.readouterr()
    assert "policy" not in captured.out.splitlines()[0] and "policy" not in captured.err


def test_a_policy_that_changes_nothing_is_not_mentioned(asset, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    rules = [{"id": "gather.merge.restored", "severity": "info"}]  # notes already: matched, nothing changed
    argv = ["check", str(asset()), "--offline", "--format", "json", "--policy", _policy(tmp_path, rules)]
    assert main(argv, environ={}) == 0
    captured = capsys.readouterr()
    effect = json.loads(captured.out)["policy"][0]
    assert effect["matched"] >= 1 and effect["changed"] == []
    assert "policy:" not in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "--settings-file", "s3://bucket/settings.json"],
        ["check", "--from-file", "s3://bucket/settings.json", "--offline"],
        ["check", ".", "--offline", "--policy", "s3://bucket/settings.json"],
    ],
)
def test_an_s3_url_where_a_local_file_is_read_is_said_as_given(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(argv, environ={})
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "'s3://bucket/settings.json' is an S3 URL" in err and "aws s3 cp" in err


ACTING = "\x1b[2J\u202e\r"  # clears the screen, reverses the line, rewrites it


def _acting_free(text: str) -> None:
    assert not {"\x1b", "\u202e", "\r"} & set(text), repr(text)


def test_an_unknown_settings_key_is_shown_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    settings = json.dumps({"output_dir": "out", f"metadta_dir{ACTING}": 1})
    assert main(["run", "--job-settings", settings], environ={}) == 2
    err = capsys.readouterr().err
    _acting_free(err)
    assert "metadta_dir\\x1b[2J\\u202e\\r" in err, err


@pytest.mark.parametrize("command", ["check", "run"])
def test_keys_and_values_quoted_by_findings_are_shown_escaped(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A finding quotes a file's values and names its keys: an escape there shows as text, never acts."""
    example = Path(__file__).resolve().parents[1] / "examples" / "asset"
    folder = tmp_path / "asset"
    folder.mkdir()
    for source in example.glob("*.json"):
        (folder / source.name).write_bytes(source.read_bytes())
    acquisition = json.loads((folder / "acquisition_video.json").read_text())
    acquisition["acquisition_end_time"] = ACTING
    acquisition[f"extra{ACTING}"] = 1
    (folder / "acquisition_video.json").write_text(json.dumps(acquisition))
    settings = json.loads((example.parent.parent / "job_settings.example.json").read_text())
    settings.update(metadata_dir=str(folder), output_dir=str(tmp_path / "out"))
    argv = ["--job-settings", json.dumps(settings)]
    argv = ["check", str(folder), "--offline", *argv] if command == "check" else ["run", *argv]
    assert main(argv, environ={}) == 3
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    _acting_free(shown)
    assert '"\\u001b[2J\\u202e\\r"' in shown, shown  # json.dumps escapes the controls, printable the rest
    assert "extra\\x1b[2J\\u202e\\r" in shown, shown


def test_the_caret_under_a_json_error_moves_with_the_escaped_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "asset"
    folder.mkdir()
    (folder / "subject.json").write_text('{"subject_id": "1\u202e2", "x": 1,}', encoding="utf-8")
    assert main(["check", str(folder), "--offline"], environ={}) == 3
    lines = capsys.readouterr().out.splitlines()
    caret = next(i for i, line in enumerate(lines) if line.strip() == "^")
    assert lines[caret - 1][lines[caret].index("^")] == "}", lines[caret - 1 : caret + 1]
