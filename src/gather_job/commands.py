"""What each command does with its parsed arguments: compose the settings, run the job, print.

`cli.py` parses and maps outcomes and exceptions to exit codes; this module holds the work behind
`run`, `check` and `job-types`. Settings are composed once, in `settings.layers`, from the layers
the command line gives (job_type preset, settings file, --job-settings, GATHER_* environment,
flags), and handed to `GatherMetadataJob` as one `JobSettings`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from gather_job.errors import UsageError
from gather_job.findings import Finding
from gather_job.job import GatherMetadataJob, Outcome
from gather_job.progress import Progress
from gather_job.settings.layers import Layer, SettingsInput, compose_settings, parse_json_object, read_file
from gather_job.settings.model import JobSettings
from gather_job.storage import s3uri
from gather_job.storage.target import Hook

if TYPE_CHECKING:
    from gather_job.archive.results import BulkOutcome

FLAG_SETTINGS = (
    "metadata_dir",
    "output_dir",
    "subject_id",
    "raise_if_invalid",
    "if_exists",
    "report",
    "offline",
    "job_type",
    "job_type_source",
)


def _flags(args: argparse.Namespace) -> dict[str, Any]:
    flags = {name: getattr(args, name) for name in FLAG_SETTINGS if getattr(args, name, None) is not None}
    paths = getattr(args, "paths", None)
    if paths and len(paths) == 1 and not many(args):
        flags["metadata_dir"] = paths[0]
    if getattr(args, "instrument_id", None):
        flags["instrument_settings"] = {"instrument_id": args.instrument_id}
    if getattr(args, "policy", None):
        flags["findings_policy"] = read_policy(args.policy)
    return flags


def many(args: argparse.Namespace) -> bool:
    """Whether `check` runs over many assets (then its output is JSON Lines per asset).

    `--resume` and `--shard` mean nothing for one asset's report, and `--output R.jsonl` asks for JSON
    Lines, which `summary` and `--resume` read: with one PATH they make a many-asset run of one asset,
    rather than being ignored (a re-check of the asset, and a JSON report that `summary` counts as 0).
    """
    output = getattr(args, "output", None) or ""
    return (
        len(getattr(args, "paths", None) or []) > 1
        or bool(getattr(args, "from_file", None) or getattr(args, "each", None))
        or bool(getattr(args, "resume", None) or getattr(args, "shard", None))
        or output.lower().endswith(".jsonl")
    )


def read_policy(path: str) -> list[Any]:
    """A findings policy file: a JSON list of rules (their keys are checked with the settings)."""
    from gather_job import strict_json

    where = f"findings policy file {path}"
    rules, problems = strict_json.decode(
        read_file(Path(path), "findings policy file", "Check --policy."), want_object=False
    )
    if problems:
        raise UsageError(f"{where} {problems[0].text}.", hint="Write the policy as a JSON list of rules.")
    if not isinstance(rules, list):
        raise UsageError(
            f"{where} holds a JSON {type(rules).__name__}, not a list of rules.",
            hint='For example [{"id": "gather.library.*", "severity": "error"}].',
        )
    return rules


def _file_layer(args: argparse.Namespace, stdin: IO[Any]) -> Layer | None:
    path = getattr(args, "settings_file", None)
    if not path:
        return None
    if path == "-":
        name = "settings from standard input"
        raw = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read()
    else:
        name = f"settings file {path}"
        raw = read_file(Path(path), "settings file", "Check the path given to --settings-file.")
    return Layer(name, parse_json_object(raw, name))


def settings_from(
    args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[Any]
) -> tuple[JobSettings, list[Finding]]:
    """The run's JobSettings from every layer the command line gives, and the notes composing them made."""
    from gather_job.settings import job_types

    inline = None
    if getattr(args, "job_settings", None) is not None:
        inline = Layer("--job-settings", parse_json_object(args.job_settings, "--job-settings JSON"))
    given = SettingsInput(file=_file_layer(args, stdin), inline=inline, environ=environ, flags=_flags(args))
    return compose_settings(given, presets=job_types.for_settings)


def run(
    args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[Any], err: IO[str], write_hook: Hook | None
) -> Outcome:
    settings, notes = settings_from(args, environ, stdin)
    if settings.report:  # the job checks it against the folders; only here are the files it was given known
        _check_copy(args, settings.report, "report", settings)
    progress = Progress(err)
    try:
        return GatherMetadataJob(settings, notes=notes, progress=progress, write_hook=write_hook).run_job()
    finally:
        progress.close()


def check(args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[Any], err: IO[str]) -> Outcome:
    settings, notes = settings_from(args, environ, stdin)
    to_s3 = bool(args.output) and s3uri.is_s3(args.output)
    if to_s3:  # an S3 key, as many-asset runs write theirs: its bucket checked before the work
        from gather_job.archive import sources
        from gather_job.aws import Clients

        bucket, key = sources.object_key(args.output, "--output")
        _outside_assets(args.output, [settings.metadata_dir or ""])
        sources.check_bucket(bucket, args.output, Clients(settings))
    elif args.output:  # before the work, as `report` is: never an input, a folder or a special file replaced
        _check_copy(args, args.output, "--output", settings)
    progress = Progress(err)
    try:
        outcome = GatherMetadataJob(settings, notes=notes, progress=progress).check()
    finally:
        progress.close()
    if to_s3:
        _upload_report(bucket, key, outcome, settings)
    elif args.output:
        _save_report(args.output, outcome)
    return outcome


def _outside_assets(output: str, checked: list[str]) -> None:
    """Refuse (exit 2) an S3 `--output` key inside a prefix being checked: the report would replace one of
    the asset's objects (its subject.json, its gather_report.json). Locally `_check_copy` refuses the same."""
    target = s3uri.location(output, "--output")
    for place in checked:
        try:
            uri = s3uri.location(place, "PATH") if s3uri.is_s3(place) else None
        except UsageError:
            continue  # a child no run can address: it gets its own record (archive.workers), writes nothing
        if target is not None and uri is not None and target.within(uri):
            raise UsageError(
                f"--output {s3uri.shown_url(output)} is inside {uri}, which is being checked: the report would "
                "replace an object of the asset.",
                hint="Write the report outside the checked prefixes (another prefix, or a local file).",
            )


def _upload_report(bucket: str, key: str, outcome: Outcome, settings: JobSettings) -> None:
    """`check --output s3://bucket/key`: the report as one object (it was a local file named `s3:/...`)."""
    from gather_job import aws, report
    from gather_job.aws import Clients

    url = f"{s3uri.SCHEME}{bucket}/{key}"
    with aws.translated("writing the report to", url, permission="s3:PutObject"):
        Clients(settings).s3().put_object(
            Bucket=bucket, Key=key, Body=report.dumps(outcome.report), ContentType="application/json"
        )


def _check_copy(args: argparse.Namespace, value: str, setting: str, settings: JobSettings) -> None:
    """Refuse (exit 2) a report or results path that would replace a file the command was given."""
    from gather_job.storage import paths

    read = [
        (getattr(args, "settings_file", None), "settings file"),
        (getattr(args, "policy", None), "policy file"),
        (getattr(args, "from_file", None), "asset list"),
        (getattr(args, "resume", None) if getattr(args, "resume", None) != value else None, "--resume results"),
        (settings.job_type_source, "job_type_source file"),
    ]
    paths.check_copy(value, setting, settings, read=[(path, what) for path, what in read if path and path != "-"])


def _save_report(path: str, outcome: Outcome) -> None:
    """`check --output`: a file atomically, or into /dev/stdout or a FIFO (`storage.paths.deliver`)."""
    from gather_job import report
    from gather_job.storage import paths

    paths.deliver(path, report.dumps(outcome.report), "--output")


def _view(args: argparse.Namespace, environ: Mapping[str, str], stream: IO[str]) -> Any:
    from gather_job.findings import Severity
    from gather_job.render import View

    lowest = getattr(args, "min_severity", None) or ("info" if getattr(args, "verbose", False) else "warning")
    colour = stream.isatty() and "NO_COLOR" not in environ and environ.get("TERM") != "dumb"
    return View(Severity(lowest), colour)


def show(args: argparse.Namespace, outcome: Outcome, environ: Mapping[str, str], err: IO[str]) -> None:
    """Print what a run or check found: run on stderr (the pipeline's log), check on stdout."""
    from gather_job.findings import Severity
    from gather_job.render import View, json_lines, summary, summary_record

    if args.command != "check":
        err.write(summary(outcome, _view(args, environ, err)) + "\n")
        return
    view = _view(args, environ, sys.stdout)
    if args.format == "jsonl":  # every finding unless --min-severity says otherwise
        sys.stdout.write(json_lines(outcome, View(Severity(args.min_severity or "info"))))
    elif args.format == "json":
        document = {**outcome.report, "verdict": summary_record(outcome)}
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")
    else:
        sys.stdout.write(summary(outcome, view) + "\n")


def job_types(args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[Any], err: IO[str]) -> None:
    """`job-types list`, `job-types show NAME [--settings-file F]` and `job-types template`."""
    from gather_job.settings import job_types

    if args.verb == "template":  # needs no store: it prints what to put in one
        _template(args, stdin)
        return
    file_layer = _file_layer(args, stdin)
    flags = {"job_type_source": args.job_type_source} if args.job_type_source else {}
    settings, _ = compose_settings(SettingsInput(file=file_layer, environ=environ, flags=flags))
    store = job_types.store_for(settings)
    if args.verb == "list":
        sys.stdout.write(job_types.describe(store))
        return
    preset = job_types.resolve(store, args.name)
    if preset.unknown is not None:  # shown as the pipeline would use it, but never silently
        note = preset.note()
        err.write(f"gather-job: warning: {note.message} {note.hint}\n")
    merged = None
    if file_layer is not None:
        merged_settings, _ = compose_settings(SettingsInput(job_type=preset.layer(), file=file_layer))
        merged = merged_settings.model_dump(mode="json", exclude_unset=True)
    sys.stdout.write(job_types.show(preset, merged))


def _template(args: argparse.Namespace, stdin: IO[Any]) -> None:
    """Print the gather task that runs gather-job, its presets checked as a job_type layer would be."""
    import json

    from gather_job import __version__
    from gather_job.settings import deploy, job_types

    given = _file_layer(args, stdin) or Layer(
        "--job-settings", parse_json_object(args.job_settings or "{}", "--job-settings JSON")
    )
    presets = job_types.job_settings({"job_settings": dict(given.data)}, given.name)
    compose_settings(SettingsInput(job_type=Layer(given.name, presets)))
    resources = parse_json_object(args.image_resources, "--image-resources JSON") if args.image_resources else None
    task = deploy.task(args.image, args.image_version or __version__, presets, resources)
    sys.stdout.write(json.dumps(task, indent=2) + "\n")


def _check_jobs(jobs: int | None) -> None:
    """Refuse (exit 2) `--jobs 0` or below: no worker would run, and 0 or -1 meaning "all cores" is
    a convention of some tools and not others; leaving --jobs out already means the machine's cores."""
    if jobs is not None and jobs < 1:
        raise UsageError(
            f"--jobs {jobs}: the number of worker processes must be 1 or more.",
            hint="Give --jobs 1 or more, or leave it out to use the machine's cores.",
        )


def check_assets(args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[Any], err: IO[str]) -> BulkOutcome:
    """`check` over many assets: JSON Lines per asset, a summary, and (text) a table of the assets not clean."""
    from gather_job.archive import bulk, sources

    if args.from_file == "-" and args.settings_file == "-":
        raise UsageError("--from-file - and --settings-file - both want standard input.", hint="Give one a file.")
    _check_jobs(args.jobs)
    settings, notes = settings_from(args, environ, stdin)
    if sources.same_results(args.resume, args.output):
        args.resume = args.output  # one file named two ways (./r.jsonl, r.jsonl): resumed, then appended to

    def refuse_output(assets: list[str]) -> None:
        """Before the results are opened: never an input, a checked asset or a folder --each looks in."""
        if not args.output:
            return
        if not s3uri.is_s3(args.output):
            _check_copy(args, args.output, "--output", settings)
        sources.refuse_inside(args.output, assets, args.each)  # one rule for folders and prefixes

    return bulk.check_assets(args, settings, notes, environ, stdin, err, refuse_output)


def summary(args: argparse.Namespace, environ: Mapping[str, str]) -> BulkOutcome:
    """`summary`: many shards' JSON Lines results as one tally; an asset seen twice counts once (the last).

    Results that hold no `asset` record at all (a text table saved in place of JSON Lines, the wrong
    file) are exit 2 naming them: "0 assets, exit 0" would pass a gate having read nothing.
    """
    from gather_job.archive import results, sources
    from gather_job.aws import Clients

    settings, _ = compose_settings(SettingsInput(file=_file_layer(args, sys.stdin), environ=environ))
    tally = results.combine_named(sources.read_named(args.results, Clients(settings)))
    if not tally.assets and not tally.skipped:
        odd = f" ({tally.skipped_lines} line(s) that are not records gather-job writes)" if tally.skipped_lines else ""
        raise UsageError(
            f"{', '.join(args.results)}: no `asset` record found{odd}, so there is nothing to summarise; summary "
            "reads the JSON Lines of a many-asset check, not its text table.",
            hint="Give the file or s3:// key a many-asset check wrote with --output (or --format jsonl).",
        )
    if args.format == "json":
        sys.stdout.write(json.dumps(tally.record()) + "\n")
    else:
        sys.stdout.write(results.table(tally, title="gather-job summary") + "\n")
    return results.BulkOutcome(tally, ", ".join(args.results))
