"""The command line's grammar: every command, flag and help text, and the settings table of --help.

Parsing only: nothing here reads a file or the environment (`commands.py` does the work, `cli.py`
maps the outcome to an exit code). The settings table is built only when help is shown.
"""

from __future__ import annotations

import argparse
import json
import textwrap
from collections.abc import Sequence
from typing import Any, NoReturn

from gather_job import __version__

COMMANDS = ("run", "check", "summary", "job-types", "upgrade")
HELP = {
    "run": "gather the asset and write it (the default command)",
    "check": "tell what is wrong with an asset folder, before upload; writes nothing",
    "summary": "combine the JSON Lines results of many-asset checks (e.g. one per shard) into one summary",
    "job-types": "list or show the job_types an operator has stored, or print the gather task to store",
    "upgrade": "make a folder of aind-data-schema 1.x files (rig.json, session.json, ...) 2.x, offline",
}
EXAMPLES = {
    "run": "gather-job run --settings-file job_settings.json\n"
    '  python -m gather_job --job-settings \'{"output_dir": "out", "subject_id": "123456", ...}\'',
    "check": "gather-job check path/to/asset/metadata --settings-file job_settings.json\n"
    "  gather-job check s3://bucket/asset/ --offline --format jsonl\n"
    "  gather-job check --each s3://bucket/ --offline --jobs 2 --shard auto/16 --output results.jsonl",
    "summary": "gather-job summary results-*.jsonl\n"
    "  gather-job summary s3://bucket/recheck/2026-12/ --settings-file aws.json --format json",
    "job-types": "gather-job job-types list --job-type-source ssm:/aind/job_types\n"
    "  gather-job job-types show ecephys --job-type-source job_types.json --settings-file job_settings.json\n"
    '  gather-job job-types template --job-settings \'{"data_description_settings": {"group": "ephys"}}\'',
    "upgrade": "gather-job upgrade asset/metadata --output-dir asset/metadata-v2\n"
    "  gather-job check asset/metadata-v2 --offline",
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
            shown = json.dumps(default, default=str) if default is not None else "-"
            lines.append(f"  {prefix}{name}  (default {shown})")
            lines.append(textwrap.fill(info.description or "", 96, initial_indent=" " * 6, subsequent_indent=" " * 6))

    walk(JobSettings, "")
    return "\n".join(lines)


class _Help(argparse.RawDescriptionHelpFormatter):
    pass


class ArgumentsError(Exception):
    """A command line argparse refuses: `message` is argparse's, `prog` names the command ("gather-job
    check"), `options` are the command's own; `cli.main` says it as a paragraph with a fix (exit 2)."""

    def __init__(self, message: str, prog: str = "gather-job", options: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message, self.prog, self.options = message, prog, list(options)


class _Parser(argparse.ArgumentParser):
    """Builds the settings table only when help is shown, not on every run (and not for `check`);
    a usage error is raised (ArgumentsError), not printed with the usage line and exited."""

    settings_table = True

    def format_help(self) -> str:
        table = "\n" + _settings_table() + "\n" if self.settings_table else ""
        return super().format_help() + table

    def error(self, message: str) -> NoReturn:
        raise ArgumentsError(message, self.prog, [o for action in self._actions for o in action.option_strings])


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


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole grammar, or, given the `command` argv names, that command's in full and the others
    by name and help only: argparse costs ~0.3 ms an option, and a run needs only its own."""
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
    commands = parser.add_subparsers(dest="command", metavar="{run,check,summary,job-types,upgrade}")
    builders = {
        "run": _add_run,
        "check": _add_check,
        "summary": _add_summary,
        "job-types": _add_job_types,
        "upgrade": _add_upgrade,
    }
    for name in COMMANDS:
        if command is None or name == command:
            builders[name](commands)
        else:
            commands.add_parser(name, help=HELP[name])
    return parser


def command_of(argv: Sequence[str]) -> str | None:
    """The command `argv` (as `with_default_command` gives it) names, or None (--help, --version)."""
    i = _after_global_options(argv)
    return argv[i] if i < len(argv) and argv[i] in COMMANDS else None


def _add_run(commands: Any) -> None:
    run = commands.add_parser(
        "run",
        help=HELP["run"],
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
    run.add_argument("--policy", metavar="FILE", help="findings policy: a JSON list of rules (see the README)")
    run.add_argument("-v", "--verbose", action="store_true", help="show notes too in the summary on stderr")


def _add_check(commands: Any) -> None:
    check = commands.add_parser(
        "check",
        help=HELP["check"],
        description="Resolve, merge and validate a folder exactly as `run` does and say what the upload "
        "will say; write nothing. Offline, what only the service gives is reported as not checked.",
        epilog="exit codes: 0 no error (anything still open until upload is listed), 2 unusable settings or "
        "folder, 3 errors to fix, 4 the service failed or cannot be reached (then use --offline)\n\n"
        "example:\n  " + EXAMPLES["check"],
        formatter_class=_Help,
    )
    check.settings_table = False
    check.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="an asset's metadata folder, or the s3://bucket/prefix/ of an uploaded asset; several PATHs "
        "(or --from-file, --each) check many assets in one run",
    )
    many = check.add_argument_group("many assets (the output is JSON Lines with one `asset` record per asset)")
    many.add_argument("--from-file", metavar="LIST", help="a file with one PATH a line ('-' = standard input)")
    many.add_argument("--each", metavar="PARENT", help="every asset directly under a folder or s3:// prefix")
    many.add_argument("--jobs", type=int, metavar="N", help="worker processes, 1 or more (default: all cores)")
    many.add_argument(
        "--shard",
        metavar="I/N",
        help="check a stable 1/N of the assets (I may be 'auto': the AWS Batch or Slurm array index)",
    )
    many.add_argument(
        "--resume",
        metavar="RESULTS",
        help="skip the assets an earlier run's JSON Lines results hold (and those --output holds, appended to)",
    )
    _add_settings_inputs(check)
    check.add_argument("--policy", metavar="FILE", help="findings policy: a JSON list of rules (see the README)")
    check.add_argument(
        "--format", choices=("text", "json", "jsonl"), default="text", help="text (default), json, or JSON Lines"
    )
    check.add_argument("--json", action="store_const", dest="format", const="jsonl", help="the same as --format jsonl")
    check.add_argument(
        "--output",
        metavar="FILE",
        help="one asset: also save the full JSON report here; many: write the JSON Lines here (a file or s3:// key)",
    )
    check.add_argument(
        "--min-severity", choices=("error", "warning", "info"), help="show findings from this severity up"
    )
    check.add_argument("-v", "--verbose", action="store_true", help="show notes too (as --min-severity info)")


def _add_summary(commands: Any) -> None:
    summary = commands.add_parser(
        "summary",
        help=HELP["summary"],
        description="Read the `asset` records of `check --format jsonl` results (files, s3:// keys, or an "
        "s3:// prefix of them) and say what they say together: the exit code, the counts, the assets not clean.",
        epilog="exit codes: 0 every asset clean, 3 some asset has errors, else the worst code of the assets "
        "not read; 2 a results file cannot be read\n\nexample:\n  " + EXAMPLES["summary"],
        formatter_class=_Help,
    )
    summary.settings_table = False
    summary.add_argument(
        "results", nargs="+", metavar="RESULTS", help="a .jsonl file, an s3:// key, or an s3:// prefix"
    )
    summary.add_argument("--format", choices=("text", "json"), default="text", help="a table, or one JSON record")
    summary.add_argument("--settings-file", metavar="F", help="settings JSON for S3 (s3_endpoint_url, aws_region, ...)")


def _add_job_types(commands: Any) -> None:
    job_types = commands.add_parser(
        "job-types",
        help=HELP["job-types"],
        description="See the job_type presets (the gather_preliminary_metadata task's job_settings).",
        epilog="example:\n  " + EXAMPLES["job-types"],
        formatter_class=_Help,
    )
    job_types.settings_table = False
    verbs = job_types.add_subparsers(dest="verb", metavar="{list,show,template}", required=True)
    listing = verbs.add_parser("list", help="every job_type and whether it has a gather task")
    show = verbs.add_parser("show", help="a job_type's stored job_settings (and merged with --settings-file)")
    show.add_argument("name", help="the job_type")
    for verb in (listing, show):
        _add_job_type_source(verb)
        verb.add_argument("--settings-file", metavar="F", help="settings JSON (endpoint, region; show: merged in)")
    _add_template(verbs)


def _add_upgrade(commands: Any) -> None:
    """`upgrade`: aind-data-schema 1.x files to 2.x with aind-metadata-upgrader (the `upgrade` extra)."""
    upgrade = commands.add_parser(
        "upgrade",
        help=HELP["upgrade"],
        description="Upgrade the 1.x core files of DIR with aind-metadata-upgrader (pip install "
        "'gather-job[upgrade]') in one record, copy DIR's other JSON files, write all into OUT, validate each, "
        "and list what the upgrader filled in or assumed. DIR is never written.",
        epilog="exit codes: 0 every 1.x file upgraded and every file valid, 2 nothing to upgrade, OUT unusable or "
        "the upgrader not installed, 3 written but some file not valid yet (or not upgradable), 4 a file needs "
        "the network\n\nexample:\n  " + EXAMPLES["upgrade"],
        formatter_class=_Help,
    )
    upgrade.settings_table = False
    upgrade.add_argument("dir", metavar="DIR", help="the folder holding the 1.x JSON files (read only)")
    upgrade.add_argument(
        "--output-dir",
        required=True,
        metavar="OUT",
        help="where the 2.x files go: a folder outside DIR (files it holds are replaced only with --overwrite)",
    )
    upgrade.add_argument("--overwrite", action="store_true", help="replace files OUT already holds (say, a re-run)")


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


GLOBAL_OPTIONS = ("--debug", "--log-format")


def with_default_command(argv: Sequence[str]) -> list[str]:
    """The pipeline calls `python -m gather_job --job-settings '...'`: that means `run`.

    Global options (--debug, --log-format) may also come after the command: they are moved before it.
    A first word that is no command is refused with the closest command (`chek` is not a path to `run`).
    """
    args = _globals_first(list(argv))
    i = _after_global_options(args)
    if i < len(args) and args[i] not in COMMANDS and args[i] not in ("-h", "--help", "--version"):
        if not args[i].startswith("-"):
            from gather_job.suggest import did_you_mean

            raise ArgumentsError(f"'{args[i]}' is not a command{did_you_mean(args[i], COMMANDS)}")
        args.insert(i, "run")
    return args


def _globals_first(args: list[str]) -> list[str]:
    """`check DIR --log-format json` as `--log-format json check DIR` (nothing after a bare `--` moves)."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg == "--debug" or arg.startswith("--log-format="):
            front.append(arg)
        elif arg == "--log-format" and i + 1 < len(args):
            front += args[i : i + 2]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


def _after_global_options(args: Sequence[str]) -> int:
    """Where the command's name is (or belongs) in `args`: after --debug and --log-format FORMAT."""
    i = 0
    while i < len(args) and (args[i] in GLOBAL_OPTIONS or args[i].startswith("--log-format=")):
        i += 2 if args[i] == "--log-format" else 1
    return i


def log_format_of(argv: Sequence[str]) -> str:
    """The --log-format a command line asks for, wherever it is ("text" when none or unreadable)."""
    args = _globals_first(list(argv))
    front = args[: _after_global_options(args)]
    for i, arg in enumerate(front):
        if arg.startswith("--log-format="):
            return arg.split("=", 1)[1]
        if arg == "--log-format" and i + 1 < len(front):
            return front[i + 1]
    return "text"
