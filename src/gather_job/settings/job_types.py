"""job_type presets (docs/design.md §4): the gather task's `job_settings`, from a JSON file or SSM.

A store holds, per job_type, Tasks (`{"skip_task", "image", ..., "job_settings", ...}`); the job
uses only the `gather_preliminary_metadata` task's `job_settings` and ignores the other fields.

- SSM (`ssm:/PREFIX`): one parameter per task, `{PREFIX}/v2/{job_type}/tasks/{task_id}`, holding
  the Task as JSON. A job_type exists when any of its tasks does.
- A JSON file: one Task (it applies to whatever job_type is asked for), or a map
  `{job_type: Task}`, where `null` means "this job_type has no gather task".

Resolution, as the pipeline does it (aind-airflow-jobs `get_merged_task_settings`): `custom` (any
case, spaces around) means no presets at all; else the job_type's own gather task; if it has none,
or the store does not know the job_type, the `default` job_type's; if that has none either, no
presets. A job_type the store does not know is a warning naming those it knows (a typo at a desk),
not a stop: the pipeline would run it on `default`'s presets, and so does the job.
The preset becomes the lowest settings layer (`sources.py`
merges it: objects key by key, the run's settings win, lists and scalars replaced whole).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from gather_job import aws
from gather_job.errors import UsageError
from gather_job.findings import Finding, Severity
from gather_job.settings.layers import Layer, parse_json_object, read_file
from gather_job.settings.model import JobSettings
from gather_job.suggest import did_you_mean

TASK_ID = "gather_preliminary_metadata"
DEFAULT = "default"
CUSTOM = "custom"
TASK_KEYS = frozenset({"skip_task", "image", "image_version", "image_resources", "job_settings", "command_script"})
_NOT_IN_PRESETS = ("job_type", "job_type_source")


class UnknownJobType(Exception):
    """The store has no such job_type (as opposed to a job_type without a gather task)."""


class Store(Protocol):
    label: str

    def task(self, job_type: str) -> tuple[Mapping[str, Any], str] | None:
        """The job_type's gather Task and where it is stored; None if it has none; UnknownJobType if unknown."""
        ...

    def job_types(self) -> dict[str, bool]:
        """Every job_type stored, and whether it has a gather task."""
        ...


@dataclass(frozen=True)
class Preset:
    """The presets one run gets: which job_type's task gave them, and its job_settings."""

    job_type: str
    source: str
    task_from: str | None
    where: str | None
    job_settings: dict[str, Any]
    unknown: str | None = None  # when the store does not know the job_type: the job_types it knows, said

    def layer(self) -> Layer:
        return Layer(f"job_type {self.job_type} ({self.source})", self.job_settings)

    def note(self) -> Finding:
        if self.unknown is not None:
            used = f"the presets of {DEFAULT!r} from {self.where}" if self.task_from else "no presets"
            return Finding(
                "gather.job_type.unknown",
                Severity.warning,
                f"job_type {self.job_type!r} is not stored in {self.source}{self.unknown}, so {used} were applied, "
                "as the pipeline does.",
                location="job_type",
                hint="Check the job_type's name, or ask the operator to store it; 'custom' means no presets.",
            )
        if self.task_from is None:
            return Finding(
                "gather.job_type.no_task",
                Severity.warning,
                f"job_type {self.job_type!r} in {self.source}: neither it nor {DEFAULT!r} has a {TASK_ID} task, "
                "so no presets were applied.",
                location="job_type",
                hint=f"Store a {TASK_ID} task for {self.job_type!r} or {DEFAULT!r}, or use job_type 'custom'.",
            )
        fallback = f" (it has no {TASK_ID} task, so those of {DEFAULT!r})" if self.task_from != self.job_type else ""
        return Finding(
            "gather.job_type.applied",
            Severity.info,
            f"Presets of job_type {self.job_type!r}{fallback} from {self.where} lie under the run's settings.",
            location="job_type",
        )


def open_store(source: str, clients: aws.Clients) -> Store:
    if source.startswith("ssm:"):
        return SsmStore(_ssm_prefix(source), clients.ssm(), source)
    return FileStore.load(Path(source))


def resolve(store: Store, job_type: str) -> Preset:
    """The presets for `job_type`, falling back to `default` (also for a job_type the store does not know)."""
    if job_type.strip().lower() == CUSTOM:
        return Preset(job_type, store.label, None, None, {})
    unknown: str | None = None
    try:
        found = store.task(job_type)
    except UnknownJobType:
        known = sorted(store.job_types())
        unknown = f"{did_you_mean(job_type, known)} (it knows: {', '.join(known) if known else 'none'})"
        found = None
    task_from: str | None = job_type
    if found is None and job_type != DEFAULT:
        try:
            found = store.task(DEFAULT)
        except UnknownJobType:
            found = None
        task_from = DEFAULT
    if found is None:
        return Preset(job_type, store.label, None, None, {}, unknown)
    task, where = found
    return Preset(job_type, store.label, task_from, where, job_settings(task, where), unknown)


def job_settings(task: Mapping[str, Any], where: str) -> dict[str, Any]:
    """A Task's job_settings, given as an object or as a JSON string (both occur)."""
    value = task.get("job_settings")
    if value is None:
        return {}
    if isinstance(value, str):
        value = parse_json_object(value, f"job_settings of {where}")
    if not isinstance(value, dict):
        raise UsageError(
            f"job_settings of {where} must be a JSON object, not {type(value).__name__}.",
            hint="Store the gather task's settings as an object (or a string holding one).",
        )
    for key in _NOT_IN_PRESETS:
        if key in value:
            raise UsageError(
                f"job_settings of {where} set '{key}', which only a run can choose.", hint=f"Remove '{key}' there."
            )
    return value


def store_for(settings: JobSettings, clients: aws.Clients | None = None) -> Store:
    """The store `job_type_source` names; UsageError when there is none."""
    if not settings.job_type_source:
        wanted = f" for job_type '{settings.job_type}'" if settings.job_type else ""
        raise UsageError(
            f"No job_type source is given{wanted}: where are job_types kept?",
            hint="Pass --job-type-source PATH|ssm:/PREFIX, or set GATHER_JOB_TYPE_SOURCE (or job_type_source).",
        )
    return open_store(settings.job_type_source, clients or aws.Clients(settings))


def for_settings(settings: JobSettings, clients: aws.Clients | None = None) -> tuple[Layer, list[Finding]] | None:
    """The job_type layer for a run's (preset-less) settings, for `sources.compose_settings`."""
    if settings.job_type is None or settings.job_type.strip().lower() == CUSTOM:
        return None
    preset = resolve(store_for(settings, clients), settings.job_type)
    return preset.layer(), [preset.note()]


def _ssm_prefix(source: str) -> str:
    prefix = source[len("ssm:") :].rstrip("/")
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/")
    if not source[len("ssm:") :].startswith("/") or "//" in prefix or not set(prefix) <= allowed:
        raise UsageError(
            f"job_type_source '{source}' is not an SSM prefix.",
            hint="Write it as ssm:/PREFIX, e.g. ssm:/aind/data/transfer/job_types (letters, digits, _ . - /).",
        )
    return prefix


class SsmStore:
    """Tasks in SSM Parameter Store under `{prefix}/v2/{job_type}/tasks/{task_id}`."""

    def __init__(self, prefix: str, client: Any, label: str) -> None:
        self.prefix = prefix
        self.client = client
        self.label = label
        self._listing: dict[str, bool] | None = None

    def name(self, job_type: str) -> str:
        return f"{self.prefix}/v2/{job_type}/tasks/{TASK_ID}"

    def task(self, job_type: str) -> tuple[Mapping[str, Any], str] | None:
        name = self.name(job_type)
        where = f"SSM parameter {name}"
        try:
            with aws.translated("reading", where, permission="ssm:GetParameter"):
                value = self.client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
        except aws.NotFound:
            if job_type in self.job_types():
                return None
            raise UnknownJobType(job_type) from None
        return _task(parse_json_object(value, where), where), where

    def job_types(self) -> dict[str, bool]:
        if self._listing is None:
            root = f"{self.prefix}/v2/"
            found: dict[str, bool] = {}
            where = f"SSM parameters under {root}"
            with aws.translated("listing", where, permission="ssm:GetParametersByPath"):
                pages = self.client.get_paginator("get_parameters_by_path").paginate(Path=root, Recursive=True)
                for page in pages:
                    for parameter in page.get("Parameters", []):
                        parts = str(parameter["Name"])[len(root) :].split("/")
                        if len(parts) >= 3 and parts[1] == "tasks":  # also per-modality tasks (tasks/T/SPIM)
                            found[parts[0]] = found.get(parts[0], False) or parts[2:] == [TASK_ID]
            self._listing = found
        return self._listing


@dataclass
class FileStore:
    """Tasks in a local JSON file: one Task for every job_type, or a map job_type -> Task (or null)."""

    label: str
    tasks: dict[str, Mapping[str, Any] | None]
    single: Mapping[str, Any] | None = None

    @classmethod
    def load(cls, path: Path) -> FileStore:
        label = f"job_type file {path}"
        raw = read_file(path, "job_type file", "Check --job-type-source (or job_type_source, GATHER_JOB_TYPE_SOURCE).")
        data = parse_json_object(raw, label)
        if data and set(data) <= TASK_KEYS:
            return cls(label, {}, single=data)
        tasks: dict[str, Mapping[str, Any] | None] = {}
        for job_type, task in data.items():
            tasks[job_type] = None if task is None else _task(task, f"{label}, job_type '{job_type}'")
        return cls(label, tasks)

    def task(self, job_type: str) -> tuple[Mapping[str, Any], str] | None:
        if self.single is not None:
            return self.single, self.label
        if job_type not in self.tasks:
            raise UnknownJobType(job_type)
        task = self.tasks[job_type]
        return None if task is None else (task, f"{self.label}, job_type '{job_type}'")

    def job_types(self) -> dict[str, bool]:
        return {name: task is not None for name, task in self.tasks.items()}


def _task(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise UsageError(
            f'{where} must be a Task object ({{"job_settings": {{...}}, ...}}), not {type(value).__name__}.',
            hint=f"Store a Task, or null for a job_type without a {TASK_ID} task.",
        )
    return value


def describe(store: Store) -> str:
    """`gather-job job-types list`: one line per job_type."""
    if isinstance(store, FileStore) and store.single is not None:
        return f"{store.label} holds one Task, used for every job_type.\n"
    lines = []
    for name, has_task in sorted(store.job_types().items()):
        lines.append(f"{name}\t{TASK_ID}" if has_task else f"{name}\t(no {TASK_ID} task: uses {DEFAULT!r})")
    return "\n".join(lines) + "\n" if lines else f"{store.label} holds no job_types.\n"


def show(preset: Preset, merged: Mapping[str, Any] | None) -> str:
    """`gather-job job-types show NAME`: the stored job_settings, and the merged settings if asked."""
    shown: dict[str, Any] = {
        "job_type": preset.job_type,
        "source": preset.source,
        "task_from": preset.task_from,
        "stored_at": preset.where,
        "job_settings": preset.job_settings,
    }
    if merged is not None:
        shown["merged_settings"] = dict(merged)
    return json.dumps(shown, indent=2, ensure_ascii=False) + "\n"
