"""What each command does with its parsed arguments: compose the settings, run the job, print.

`cli.py` parses and maps outcomes and exceptions to exit codes; this module holds the work behind
`run`, `check` and `job-types`. Settings are composed once, in `settings.layers`, from the layers
the command line gives (job_type preset, settings file, --job-settings, GATHER_* environment,
flags), and handed to `GatherMetadataJob` as one `JobSettings`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from gather_job.findings import Finding
from gather_job.job import GatherMetadataJob, Outcome
from gather_job.progress import Progress
from gather_job.settings.layers import Layer, SettingsInput, compose_settings, parse_json_object, read_file
from gather_job.settings.model import JobSettings
from gather_job.storage.target import Hook

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
    if getattr(args, "dir", None):
        flags["metadata_dir"] = args.dir
    if getattr(args, "instrument_id", None):
        flags["instrument_settings"] = {"instrument_id": args.instrument_id}
    return flags


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


def run(args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[Any], write_hook: Hook | None) -> Outcome:
    settings, notes = settings_from(args, environ, stdin)
    progress = Progress(sys.stderr)
    try:
        return GatherMetadataJob(settings, notes=notes, progress=progress, write_hook=write_hook).run_job()
    finally:
        progress.close()


def check(args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[Any]) -> Outcome:
    settings, notes = settings_from(args, environ, stdin)
    progress = Progress(sys.stderr)
    try:
        return GatherMetadataJob(settings, notes=notes, progress=progress).check()
    finally:
        progress.close()


def show(args: argparse.Namespace, outcome: Outcome) -> None:
    """Print what a run or check found: run on stderr (the pipeline's log), check on stdout."""
    from gather_job.render import json_lines, summary

    if args.command == "check":
        sys.stdout.write(json_lines(outcome.findings) if args.json else summary(outcome) + "\n")
    else:
        sys.stderr.write(summary(outcome) + "\n")


def job_types(args: argparse.Namespace, environ: Mapping[str, str], stdin: IO[Any]) -> None:
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
