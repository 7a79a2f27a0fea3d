"""The grammar built for one command is the whole grammar's, for that command.

`cli.main` builds only the chosen command's options (the others by name and help): these tests hold
that to the parser with every command built, so no argv parses, fails or helps differently.
"""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from gather_job.arguments import COMMANDS, ArgumentsError, build_parser, command_of, with_default_command

ARGVS = [
    ["--job-settings", "{}"],
    ["--debug", "--log-format", "json", "--settings-file", "s.json"],
    ["run", "--settings-file", "s.json", "--no-raise-if-invalid", "--if-exists", "skip", "-v"],
    ["run", "--if-exists", "sometimes"],
    ["run", "--unknown"],
    ["check", "dir", "--offline", "--format", "jsonl", "--min-severity", "warning"],
    ["check", "--each", "s3://b/", "--jobs", "2", "--shard", "auto/4", "--json"],
    ["check", "--jobs", "two"],
    ["summary", "r.jsonl", "--format", "json"],
    ["summary"],
    ["job-types", "list", "--job-type-source", "ssm:/aind/job_types"],
    ["job-types", "show", "ecephys", "--settings-file", "s.json"],
    ["job-types", "template", "--image-version", "1.2", "--job-settings", "{}"],
    ["job-types"],
    ["upgrade", "old", "--output-dir", "new", "--overwrite"],
    ["upgrade", "old"],
    ["--log-format", "json", "check", "dir"],
]


def _outcome(parser: argparse.ArgumentParser, argv: list[str]) -> tuple[object, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            result: object = vars(parser.parse_args(argv))
        except SystemExit as exc:
            result = ("exit", exc.code)
        except ArgumentsError as exc:
            result = ("refused", exc.message)
    return result, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("argv", ARGVS, ids=" ".join)
def test_one_command_parses_as_the_whole_grammar(argv: list[str]) -> None:
    arguments = with_default_command(argv)
    assert command_of(arguments) in COMMANDS
    assert _outcome(build_parser(command_of(arguments)), arguments) == _outcome(build_parser(), arguments)


HELPS = [[name, "--help"] for name in COMMANDS] + [["job-types", v, "--help"] for v in ("list", "show", "template")]


@pytest.mark.parametrize("argv", HELPS, ids=" ".join)
def test_each_commands_help_is_unchanged(argv: list[str]) -> None:
    result, shown, _ = _outcome(build_parser(command_of(argv)), argv)
    assert result == ("exit", 0) and "usage: gather-job" in shown
    assert (result, shown) == _outcome(build_parser(), argv)[:2]


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["--debug", "--help"], []])
def test_no_command_builds_the_whole_grammar(argv: list[str]) -> None:
    assert command_of(with_default_command(argv)) is None


def test_global_options_may_follow_the_command() -> None:
    assert with_default_command(["check", "dir", "--log-format", "json", "--debug"]) == [
        "--log-format",
        "json",
        "--debug",
        "check",
        "dir",
    ]
    assert with_default_command(["--job-settings", "{}", "--log-format=json"]) == [
        "--log-format=json",
        "run",
        "--job-settings",
        "{}",
    ]
    assert with_default_command(["check", "--", "--debug"]) == ["check", "--", "--debug"]  # a PATH named so


PROBLEMS = [
    (["chek", "dir"], "'chek' is not a command (did you mean 'check'?)", True),
    (["check", "dir", "--ofline"], "gather-job check does not know --ofline (did you mean '--offline'?)", True),
    (
        ["run", "--output_dir", "out", "--data_description_settings", "{}"],
        "does not take settings as flags (--data_description_settings)",
        True,
    ),
    (["--output_dir", "out"], "does not know --output_dir out (did you mean '--output-dir'?)", True),
    (["check", "d", "--settings_file", "s"], "does not know --settings_file s (did you mean '--settings-file'?)", True),
    (["summary", "r", "--settings_file", "s"], "(did you mean '--settings-file'?)", False),
    (["check", "dir", "--log-format"], "gather-job check: --log-format needs its value.", True),
    (["check", "--version"], "gather-job check does not take --version. Ask gather-job itself", True),
    (["check", "dir", "--format", "xml"], "argument --format: invalid choice: 'xml'", True),
    (["upgrade", "old"], "the following arguments are required: --output-dir", False),
]


@pytest.mark.parametrize(
    ("argv", "said", "verdict"), PROBLEMS, ids=lambda p: " ".join(p) if isinstance(p, list) else ""
)
def test_a_refused_command_line_says_the_fix_in_one_paragraph(
    argv: list[str], said: str, verdict: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    from gather_job.cli import main

    assert main(argv, environ={}) == 2
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())
    assert said in err, err
    assert "usage:" not in err and not captured.out
    assert err.endswith("gather-job: verdict: unusable settings or input (exit 2); no report written.") is verdict


def test_a_refused_command_line_is_a_json_record_with_json_logs(capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from gather_job.cli import main

    assert main(["check", "dir", "--ofline", "--log-format", "json"], environ={}) == 2
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert "does not know --ofline" in records[0]["message"]
    assert records[-1]["message"].startswith("gather-job: verdict:")


def test_help_shows_empty_list_defaults_and_the_json_alias(capsys: pytest.CaptureFixture[str]) -> None:
    from gather_job.cli import main

    assert main(["--help"], environ={}) == 0
    shown = capsys.readouterr().out
    assert "data_description_settings.modalities  (default [])" in shown
    assert "findings_policy  (default [])" in shown and "data_description_settings.tags  (default -)" in shown
    assert main(["check", "--help"], environ={}) == 0
    assert "--json                the same as --format jsonl" in capsys.readouterr().out
