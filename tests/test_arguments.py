"""The grammar built for one command is the whole grammar's, for that command.

`cli.main` builds only the chosen command's options (the others by name and help): these tests hold
that to the parser with every command built, so no argv parses, fails or helps differently.
"""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from gather_job.arguments import COMMANDS, build_parser, command_of, with_default_command

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
