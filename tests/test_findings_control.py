"""Reading and tuning the findings: a findings policy, output formats, verbosity, colour, JSON logs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gather_job.cli import main
from gather_job.findings import Finding, Severity
from gather_job.render import View, render_finding
from tests.conftest import base_settings


def _check(folder: Path, capsys: Any, *args: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    code = main(["check", str(folder), "--offline", *args], environ=environ or {})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _policy(tmp_path: Path, rules: list[dict[str, Any]]) -> str:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(rules))
    return str(path)


def test_a_policy_promotes_demotes_and_ignores_first_match_wins(asset, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset("shared_device")
    code, out, _ = _check(folder, capsys, "--format", "jsonl")
    assert code == 3
    rules = [
        {"id": "gather.merge.shared_device", "file": "instrument_*.json", "severity": "warning"},
        {"id": "gather.merge.shared_dev*", "severity": "error"},  # never reached: the first rule won
        {"id": "gather.resolve.not_checked", "severity": "ignore"},
        {"id": "gather.no.such.*", "severity": "error"},
    ]
    code, out, _ = _check(folder, capsys, "--format", "jsonl", "--policy", _policy(tmp_path, rules))
    records = [json.loads(line) for line in out.splitlines()]
    findings = {r["id"]: r for r in records if r["type"] == "finding"}
    assert code == 0  # the only error was demoted
    assert findings["gather.merge.shared_device"]["severity"] == "warning"
    assert "gather.resolve.not_checked" not in findings
    unused = [r for r in records if r.get("id") == "gather.policy.unused_rule"]
    assert {u["location"] for u in unused} == {"findings_policy[1]", "findings_policy[3]"}
    assert all(u["severity"] == "warning" for u in unused)


def test_the_report_records_the_rules_and_what_each_changed(gather, asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rules = [{"id": "gather.merge.restored", "severity": "error"}]
    run = gather(asset(), raise_if_invalid=False, findings_policy=rules)
    policy = run.report()["policy"]
    assert policy[0]["rule"] == rules[0] and policy[0]["matched"] == 1
    assert policy[0]["changed"] == [{"id": "gather.merge.restored", "from": "info", "to": "error"}]


def test_a_policy_can_come_from_the_settings_and_promote_library_warnings(asset, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    settings = base_settings(folder, tmp_path / "unused", None)
    settings["findings_policy"] = [{"id": "gather.merge.restored", "file": "acquisition_a.json", "severity": "error"}]
    code, out, _ = _check(folder, capsys, "--job-settings", json.dumps(settings), "--format", "jsonl")
    assert code == 3
    settings["findings_policy"] = [{"id": "gather.merge.restored", "file": "nothing*", "severity": "error"}]
    code, out, _ = _check(folder, capsys, "--job-settings", json.dumps(settings), "--format", "jsonl")
    assert code == 0 and "gather.policy.unused_rule" in out


def test_a_broken_policy_file_is_exit_2_naming_it(asset, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "policy.json"
    path.write_text('{"id": "x"}')
    code, _, err = _check(asset(), capsys, "--policy", str(path))
    assert code == 2 and "policy.json" in err and "list of rules" in err
    path.write_text('[{"id": "x", "severity": "fatal"}]')
    code, _, err = _check(asset(), capsys, "--policy", str(path))
    assert code == 2 and "findings_policy" in err


def test_notes_only_with_verbose_and_min_severity(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset("unknown_stimulus_device")
    _, quiet, _ = _check(folder, capsys)
    _, verbose, _ = _check(folder, capsys, "-v")
    _, errors_only, _ = _check(folder, capsys, "--min-severity", "error")
    assert " note " not in quiet and "  note    gather.merge.restored" in verbose
    assert "WARNING" in quiet and "WARNING" not in errors_only and "ERROR" in errors_only


def test_json_format_is_the_report_with_a_verdict_and_output_saves_it(asset, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "reports" / "check.json"
    code, out, _ = _check(asset("shared_device"), capsys, "--format", "json", "--output", str(saved))
    document = json.loads(out)
    assert code == 3 and document["command"] == "check" and document["verdict"]["exit_code"] == 3
    assert document["verdict"]["counts"]["error"] == document["summary"]["error"]
    report = json.loads(saved.read_text())
    assert report["findings"] == document["findings"] and "verdict" not in report


def test_colour_on_a_terminal_unless_no_color() -> None:
    finding = Finding("gather.x.y", Severity.error, "boom")
    assert "\033[1;31mERROR" in render_finding(finding, View(colour=True))
    assert "\033[" not in render_finding(finding, View(colour=False))


def test_check_help_shows_only_what_check_uses(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["check", "--help"]) == 0
    out = capsys.readouterr().out
    assert "--format" in out and "--policy" in out and "exit codes: 0 no error" in out
    assert "service_total_timeout_s" not in out and "--output-dir" not in out
    assert main(["run", "--help"]) == 0
    assert "service_total_timeout_s" in capsys.readouterr().out


def test_json_logs_make_every_stderr_line_json(asset, gather, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset("shared_device")
    settings = base_settings(folder, tmp_path / "out", None)
    for argv in (
        ["--log-format", "json", "run", "--job-settings", json.dumps(settings)],
        ["--log-format", "json", "run", "--job-settings", "{not json"],
        ["--log-format", "json", "check", str(folder), "--offline"],
    ):
        main(argv, environ={"LOG_LEVEL": "INFO"})
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        assert lines
        records = [json.loads(line) for line in lines]  # every line parses
        assert records[-1]["message"].startswith("gather-job: verdict: ")
