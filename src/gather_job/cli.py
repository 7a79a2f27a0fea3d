"""The command line: parse arguments, run, map every outcome to an exit code in one place.

`entrypoint()` is the only reader of sys.argv; `main(argv, environ)` is what tests call. The light
commands (--version, --help) import no aind-data-schema model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import traceback
from collections.abc import Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from gather_job import __version__
from gather_job.errors import ExitCode, GatherError, InvalidMetadata

if TYPE_CHECKING:
    from gather_job.job import Outcome
    from gather_job.storage.target import Hook

COMMANDS = ("run", "check", "job-types")
EXAMPLES = {
    "run": "gather-job run --settings-file job_settings.json\n"
    '  python -m gather_job --job-settings \'{"output_dir": "out", "subject_id": "123456", ...}\'',
    "check": "gather-job check path/to/asset/metadata --settings-file job_settings.json\n"
    "  gather-job check s3://bucket/asset/ --offline --json",
    "job-types": "gather-job job-types list --job-type-source ssm:/aind/job_types\n"
    "  gather-job job-types show ecephys --job-type-source job_types.json --settings-file job_settings.json\n"
    '  gather-job job-types template --job-settings \'{"data_description_settings": {"group": "ephys"}}\'',
}


def _settings_table() -> str:
    """Every setting with its description and default, from the settings model itself."""
    from pydantic import BaseModel

    from gather_job.settings.model import JobSettings

    lines = ["settings (JSON keys; environment: GATHER_<KEY>, nested with __):"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            annotation = info.annotation
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                walk(annotation, f"{prefix}{name}.")
                continue
            default = info.get_default(call_default_factory=True)
            shown = json.dumps(default, default=str) if default not in (None, []) else "-"
            lines.append(f"  {prefix}{name}  (default {shown})")
            lines.append(textwrap.fill(info.description or "", 96, initial_indent=" " * 6, subsequent_indent=" " * 6))

    walk(JobSettings, "")
    return "\n".join(lines)


class _Help(argparse.RawDescriptionHelpFormatter):
    pass


class _Parser(argparse.ArgumentParser):
    """Builds the settings table only when help is shown, not on every run."""

    def format_help(self) -> str:
        return super().format_help() + "\n" + _settings_table() + "\n"


def _add_settings_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings-file", metavar="F", help="settings JSON file ('-' for standard input)")
    parser.add_argument("--job-settings", metavar="JSON", help="settings as inline JSON (above the file)")
    parser.add_argument("--subject-id", help="subject id (overrides the settings)")
    parser.add_argument("--instrument-id", help="instrument id to fetch from the service")
    parser.add_argument("--offline", action="store_true", default=None, help="do not call the metadata service")
    parser.add_argument("--job-type", metavar="NAME", help="lay this job_type's presets under the settings")
    _add_job_type_source(parser)


def _add_job_type_source(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--job-type-source",
        metavar="PATH|ssm:/PREFIX",
        help="where job_types are kept: a JSON file or SSM Parameter Store (default: GATHER_JOB_TYPE_SOURCE)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="gather-job",
        description="Gather, merge and validate one data asset's aind-data-schema metadata.",
        epilog="exit codes: 0 done, 1 bug, 2 unusable settings/input, 3 invalid metadata, 4 service failed "
        "(retry later), 5 output refused",
        formatter_class=_Help,
    )
    parser.add_argument("--version", action="version", version=f"gather-job {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks for every error")
    parser.add_argument("--log-format", choices=("text", "json"), default="text", help="log line format on stderr")
    commands = parser.add_subparsers(dest="command", metavar="{run,check,job-types}")
    run = commands.add_parser(
        "run",
        help="gather the asset and write it (the default command)",
        description="Gather, validate and write one asset's metadata.",
        epilog="example:\n  " + EXAMPLES["run"],
        formatter_class=_Help,
    )
    _add_settings_inputs(run)
    run.add_argument("--metadata-dir", help="folder holding the asset's metadata files")
    run.add_argument("--output-dir", help="where the gathered files go")
    run.add_argument(
        "--raise-if-invalid",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="exit 3 and write no core file when errors remain (default: true)",
    )
    run.add_argument("--if-exists", choices=("overwrite", "skip", "error"), help="when the output holds an asset")
    run.add_argument("--report", help="also write gather_report.json here")
    check = commands.add_parser(
        "check",
        help="tell what is wrong with an asset folder, before upload; writes nothing",
        description="Resolve, merge and validate a folder exactly as `run` does; write nothing.",
        epilog="example:\n  " + EXAMPLES["check"],
        formatter_class=_Help,
    )
    check.add_argument("dir", help="the asset's metadata folder")
    _add_settings_inputs(check)
    check.add_argument("--json", action="store_true", help="print the findings as JSON Lines on stdout")
    job_types = commands.add_parser(
        "job-types",
        help="list or show the job_types an operator has stored, or print the gather task to store",
        description="See the job_type presets (the gather_preliminary_metadata task's job_settings).",
        epilog="example:\n  " + EXAMPLES["job-types"],
        formatter_class=_Help,
    )
    verbs = job_types.add_subparsers(dest="verb", metavar="{list,show,template}", required=True)
    listing = verbs.add_parser("list", help="every job_type and whether it has a gather task")
    show = verbs.add_parser("show", help="a job_type's stored job_settings (and merged with --settings-file)")
    show.add_argument("name", help="the job_type")
    for verb in (listing, show):
        _add_job_type_source(verb)
        verb.add_argument("--settings-file", metavar="F", help="settings JSON (endpoint, region; show: merged in)")
    _add_template(verbs)
    return parser


def _add_template(verbs: Any) -> None:
    """`job-types template`: the gather task to store so the transfer service runs gather-job."""
    from gather_job.settings.deploy import DEFAULT_IMAGE

    template = verbs.add_parser("template", help="print the gather task that runs gather-job in the transfer service")
    template.add_argument("--image", default=DEFAULT_IMAGE, help=f"container image (default {DEFAULT_IMAGE})")
    template.add_argument("--image-version", metavar="TAG", help="image tag (default: this gather-job's version)")
    presets = template.add_mutually_exclusive_group()
    presets.add_argument("--job-settings", metavar="JSON", help="the presets to embed (default {})")
    presets.add_argument("--settings-file", metavar="F", help="the presets to embed, from a file ('-' = stdin)")
    template.add_argument("--image-resources", metavar="JSON", help="the task's image_resources (default: left out)")


def _with_default_command(argv: Sequence[str]) -> list[str]:
    """The pipeline calls `python -m gather_job --job-settings '...'`: that means `run`."""
    args = list(argv)
    i = 0
    while i < len(args) and args[i] in ("--debug", "--log-format"):
        i += 2 if args[i] == "--log-format" else 1
    if i < len(args) and args[i] not in COMMANDS and args[i] not in ("-h", "--help", "--version"):
        args.insert(i, "run")
    return args


def _setup_logging(environ: Mapping[str, str], fmt: str) -> None:
    from gather_job.logs import SECRET_ENVIRONMENT, configure

    secrets = [environ[name] for name in SECRET_ENVIRONMENT if environ.get(name)]
    configure(environ.get("LOG_LEVEL", "WARNING"), fmt, secrets)


def _paragraph(error: GatherError) -> str:
    text = f"gather-job: error: {error.message}" + (f" {error.hint}" if error.hint else "")
    return textwrap.fill(text, 100, break_on_hyphens=False, break_long_words=False)


def _dispatch(
    args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[Any], write_hook: Hook | None
) -> Outcome | None:
    from gather_job import commands

    if args.command == "job-types":
        commands.job_types(args, environ, stdin)
        return None
    if args.command == "check":
        return commands.check(args, environ, stdin)
    return commands.run(args, environ, stdin, write_hook)


def main(
    argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None, write_hook: Hook | None = None
) -> int:
    """Run the CLI; return the exit code. Every outcome and exception becomes an ExitCode here, once.

    `environ` is the only environment read (GATHER_*, LOG_LEVEL, AWS_* secrets to mask in logs);
    `write_hook` is called before each write step (the crash-safety tests' launcher uses it).
    """
    env = dict(environ) if environ is not None else {}
    parser = build_parser()
    try:
        args = parser.parse_args(_with_default_command(argv or []))
    except SystemExit as exc:  # --help, --version, or an argparse usage error (exit 2)
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help(sys.stderr)
        return ExitCode.USAGE
    _setup_logging(env, args.log_format)
    outcome: Outcome | None = None
    try:
        outcome = _dispatch(args, env, sys.stdin, write_hook)
    except InvalidMetadata as exc:
        outcome = exc.outcome
    except GatherError as exc:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(_paragraph(exc) + "\n")
        return _finish(args, None, exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("gather-job: interrupted; nothing was written.\n")
        return _finish(args, None, ExitCode.INTERRUPTED)
    except Exception:
        traceback.print_exc()
        sys.stderr.write(
            "gather-job: internal error (exit 1): this is a bug in gather-job, not in your metadata. "
            "Please report it with the traceback above.\n"
        )
        return _finish(args, None, ExitCode.BUG)
    if outcome is None:
        return ExitCode.OK
    from gather_job.commands import show

    show(args, outcome)
    return _finish(args, outcome, outcome.exit_code)


def _finish(args: argparse.Namespace, outcome: Outcome | None, code: int) -> int:
    """End stderr with the verdict line (run and check), then return the exit code."""
    if args.command in ("run", "check"):
        from gather_job.render import verdict

        report = outcome.gathered.settings.report if outcome is not None and outcome.gathered else None
        sys.stderr.write(verdict(outcome, code, report) + "\n")
        sys.stderr.flush()
    return code


def entrypoint() -> None:
    """Console script and `python -m gather_job`: the only reader of sys.argv and os.environ."""
    sys.exit(main(sys.argv[1:], environ=os.environ))
