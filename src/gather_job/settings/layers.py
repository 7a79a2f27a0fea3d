"""The one place where settings sources are composed.

Precedence, lowest to highest (docs/design.md §3):

    defaults < job_type job_settings < settings file < --job-settings JSON < GATHER_* environment < CLI flags

The job_type layer is a stored preset (`job_types.py`), chosen by the layers above it.

Nested objects merge key by key (as pydantic-settings' deep update does); lists and scalars are replaced
whole. Only this module reads the environment, and only variables with the GATHER_ prefix, from a
mapping it is given (the CLI's entrypoint passes os.environ). The result is a plain `JobSettings`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from gather_job import strict_json
from gather_job.errors import UsageError
from gather_job.findings import Finding
from gather_job.settings.model import JobSettings, known_keys
from gather_job.settings.values import escaped
from gather_job.suggest import did_you_mean

ENV_PREFIX = "GATHER_"


@dataclass(frozen=True)
class Layer:
    """One source of settings: a name for messages ("settings file x.json") and its mapping."""

    name: str
    data: Mapping[str, Any]


@dataclass(frozen=True)
class SettingsInput:
    """Everything a run's settings are made of, lowest layer first."""

    job_type: Layer | None = None
    file: Layer | None = None
    inline: Layer | None = None
    environ: Mapping[str, str] = field(default_factory=dict)
    flags: Mapping[str, Any] = field(default_factory=dict)


def _deep_update(base: Mapping[str, Any], *updates: Mapping[str, Any]) -> dict[str, Any]:
    """Merge mappings key by key, later ones winning; a mapping in both merges, anything else (a list,
    a value) is replaced whole."""
    merged = dict(base)
    for update in updates:
        for key, value in update.items():
            if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
                merged[key] = _deep_update(merged[key], value)
            else:
                merged[key] = value
    return merged


def _takes_json(annotation: Any) -> bool:
    """A setting holding a list, a mapping or an object is given as JSON in the environment."""
    origin = get_origin(annotation)
    if origin in (Union, UnionType, Annotated):
        return any(_takes_json(arg) for arg in get_args(annotation)[: 1 if origin is Annotated else None])
    if origin in (list, dict, tuple, set, frozenset) or annotation in (list, dict, tuple, set, frozenset):
        return True
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _env_value(model: type[BaseModel] | None, path: list[str], value: str, variable: str) -> Any:
    """The value of GATHER_<path> for the field it names: parsed JSON if the field takes JSON."""
    annotation: Any = None
    for key in path:
        field = model.model_fields.get(key) if model is not None else None
        annotation = field.annotation if field is not None else None
        model = next((t for t in _types(annotation) if issubclass(t, BaseModel)), None)
    if not value or not _takes_json(annotation):
        return value
    decoded, problems = strict_json.decode(value, want_object=False)
    if problems:  # the problem's text, never its excerpt: the value may be a secret
        raise UsageError(
            f"The environment variable {variable} must hold JSON for '{'.'.join(path)}'; it {problems[0].text}.",
            hint='A list or an object is given as JSON, e.g. \'["ecephys"]\' or \'{"project_name": "P"}\'.',
        )
    return decoded


def _types(annotation: Any) -> list[type[Any]]:
    if annotation is None:
        return []
    if isinstance(annotation, type) and get_origin(annotation) is None:
        return [annotation]
    return [t for arg in get_args(annotation) for t in _types(arg)]


# GATHER_* names that are not settings: the test suite's knobs. Any other unknown name is refused.
NOT_SETTINGS = ("GATHER_TEST_",)
NOT_SETTING = "GATHER_RELIABILITY_REPORT"


def environment_layer(environ: Mapping[str, str]) -> dict[str, Any]:
    """The GATHER_* variables as settings, the one place that reads them.

    GATHER_SUBJECT_ID sets subject_id (names are not case-sensitive); `__` nests
    (GATHER_DATA_DESCRIPTION_SETTINGS__PROJECT_NAME); a setting that holds a list, a mapping or an
    object takes JSON. A variable that names no setting is refused naming the variable (a typo such as
    GATHER_OUTPUT_DRI would otherwise leave output_dir at its default, silently); only the test suite's
    own variables (NOT_SETTINGS) are left alone.
    """
    layer: dict[str, Any] = {}
    for variable in sorted(environ):
        name = variable.upper()
        if not name.startswith(ENV_PREFIX) or name.startswith(NOT_SETTINGS) or name == NOT_SETTING:
            continue
        path = variable[len(ENV_PREFIX) :].lower().split("__")
        _known_path(variable, path)
        nested = {path[-1]: _env_value(JobSettings, path, environ[variable], variable)}
        for key in reversed(path[:-1]):
            nested = {key: nested}
        layer = _deep_update(layer, nested)
    return layer


def _known_path(variable: str, path: list[str]) -> None:
    """UsageError naming `variable` when its name is no setting, with the closest variable name."""
    model: type[BaseModel] | None = JobSettings
    for depth, key in enumerate(path):
        keys = known_keys(model) if model is not None else {}
        if key in keys:
            model = keys[key]
            continue
        prefix = ENV_PREFIX + "".join(f"{part.upper()}__" for part in path[:depth])
        what = "names no setting" if key else "has an empty part ('___' or a '__' at an end)"
        raise UsageError(
            f"The environment variable {escaped(variable)} {what}"
            f"{did_you_mean(prefix + key.upper(), [prefix + k.upper() for k in keys]) if key else ''}.",
            hint="Unset it or correct its name: GATHER_ plus a setting's name, with __ between nested names "
            "(GATHER_DATA_DESCRIPTION_SETTINGS__PROJECT_NAME); `gather-job --help` lists every setting.",
        )


def read_file(path: Path, what: str, hint: str) -> bytes:
    """A local file's bytes (a settings or job_type file), or a UsageError naming it.

    A path with a NUL, or a lone surrogate that is no file-system byte (argv decoded with
    surrogateescape gives \\udc80-\\udcff, which do encode; \\ud800 does not), makes `open` raise
    ValueError rather than OSError: a path no file can have, so exit 2 naming it, escaped.
    """
    if str(path)[:4].lower() == "s3:/":  # Path("s3://b/k") is "s3:/b/k": said as given, not as a missing file
        url = "s3://" + str(path)[4:]
        raise UsageError(
            f"The {what} '{escaped(url)}' is an S3 URL; it is read from a local file (or '-', standard input).",
            hint=f"Copy it first: aws s3 cp {escaped(url)} ./{escaped(path.name)}",
        )
    try:
        return path.read_bytes()
    except ValueError as exc:  # UnicodeEncodeError is one
        what_is_wrong = "a NUL character" if "\x00" in str(path) else "characters no file name can hold"
        raise UsageError(
            f"The {what} path '{escaped(str(path))}' holds {what_is_wrong}, so no file has it.",
            hint=" ".join(
                filter(None, [hint, "The path may hold invisible characters pasted with it; type it again."])
            ),
        ) from exc
    except FileNotFoundError as exc:
        raise UsageError(f"The {what} '{escaped(str(path))}' does not exist.", hint=hint) from exc
    except IsADirectoryError as exc:
        raise UsageError(f"The {what} '{escaped(str(path))}' is a folder, not a file.", hint=hint) from exc
    except OSError as exc:
        raise UsageError(f"The {what} '{escaped(str(path))}' cannot be read: {exc.strerror or exc}.") from exc


def parse_json_object(text: str | bytes, source: str) -> dict[str, Any]:
    """Strict JSON for settings (`strict_json`); the first problem is a UsageError naming `source`."""
    value, problems = strict_json.decode(text)
    if not problems:
        return value  # type: ignore[no-any-return]
    problem = problems[0]
    if problem.kind == "duplicate_key":
        raise UsageError(f"{source} has the key '{problem.values[0]}' twice.", hint="Keep one of them.")
    if problem.kind == "non_finite":
        raise UsageError(f"{source} contains {problem.values[0]}, which is not JSON.", hint="Use a number or null.")
    if problem.kind == "syntax":
        shell = " (a shell may have eaten the quotes of --job-settings)" if "--job-settings" in source else ""
        raise UsageError(f"{source} {problem.text}.", hint=f"Check quotes, commas and braces there{shell}.")
    if problem.kind in ("encoding", "too_long"):
        raise UsageError(f"{source} {problem.text}.", hint=problem.hint or "Save it as UTF-8 text.")
    if problem.kind == "too_deep":
        raise UsageError(f"{source} is nested too deeply to be settings.")
    if problem.kind == "not_object":
        raise UsageError(
            f"{source} must be a JSON object ({{...}}), not {problem.text}.",
            hint='For example {"output_dir": "out", "subject_id": "123456"}.',
        )
    raise UsageError(f"{source} {problem.text}.", hint='Give one JSON object, e.g. {"output_dir": "out"}.')


def _check_keys(
    data: Mapping[str, Any], model: type[BaseModel], layer: str, path: str, notes: list[Finding]
) -> dict[str, Any]:
    """Refuse unknown keys with a did-you-mean."""
    keys = known_keys(model)
    kept: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{path}{key}"
        if key in keys:
            nested = keys[key]
            kept[key] = (
                _check_keys(value, nested, layer, f"{where}.", notes)
                if nested is not None and isinstance(value, Mapping)
                else value
            )
        else:
            suggestion = did_you_mean(key, set(keys))
            listing = "" if suggestion else f"Settings here: {', '.join(sorted(keys))}. "
            raise UsageError(
                f"Unknown setting '{where}' in {layer}{suggestion}.",
                hint=f"{listing}`gather-job --help` lists every setting.",
            )
    return kept


def _dig(data: Any, loc: tuple[int | str, ...]) -> bool:
    for part in loc:
        if isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
            continue
        if not (isinstance(data, Mapping) and part in data):
            return False
        data = data[part]
    return True


def _blame(loc: tuple[int | str, ...], given: SettingsInput, env_data: Mapping[str, Any]) -> str:
    """Name the highest layer that set the value at `loc`: that is the one to fix."""
    candidates: list[tuple[str, Mapping[str, Any]]] = [("command-line flags", given.flags)]
    candidates.append(("the environment (GATHER_*)", env_data))
    for layer in (given.inline, given.file, given.job_type):
        if layer is not None:
            candidates.append((layer.name, layer.data))
    for name, data in candidates:
        if _dig(data, loc):
            return name
    return "the settings"


def _describe(error: Mapping[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"]) or "settings"
    value = error.get("input")
    shown = json.dumps(value, default=str)[:80] if not isinstance(value, Mapping) else "{...}"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"'{loc}' = {shown}: {message}" if error["type"] != "missing" else f"'{loc}' is required"


Presets = Callable[[JobSettings], "tuple[Layer, list[Finding]] | None"]


def compose_settings(given: SettingsInput, presets: Presets | None = None) -> tuple[JobSettings, list[Finding]]:
    """Build the run's settings from all layers; raise UsageError naming the field and its source.

    `presets` (see `job_types.for_settings`) fills the job_type layer: it is called with the settings
    composed without it, since `job_type`, `job_type_source` and the AWS settings that reach SSM come
    from the higher layers; then everything is composed again with the preset at the bottom.
    """
    settings, notes = _compose(given)
    if presets is None or given.job_type is not None:
        return settings, notes
    found = presets(settings)
    if found is None:
        return settings, notes
    layer, preset_notes = found
    settings, notes = _compose(replace(given, job_type=layer))
    return settings, [*preset_notes, *notes]


def _compose(given: SettingsInput) -> tuple[JobSettings, list[Finding]]:
    notes: list[Finding] = []
    checked = SettingsInput(
        job_type=_checked(given.job_type, notes),
        file=_checked(given.file, notes),
        inline=_checked(given.inline, notes),
        environ=given.environ,
        flags=_check_keys(given.flags, JobSettings, "command-line flags", "", notes),
    )
    env_data = _check_keys(environment_layer(given.environ), JobSettings, "the environment (GATHER_*)", "", notes)
    below = [layer.data for layer in (checked.job_type, checked.file, checked.inline) if layer is not None]
    merged = _deep_update({}, *below, env_data, checked.flags)
    try:
        settings = JobSettings.model_validate(merged)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        source = _blame(tuple(first["loc"]), checked, env_data)
        more = (
            f" ({len(errors) - 1} more: " + "; ".join(_describe(e) for e in errors[1:4]) + ")"
            if len(errors) > 1
            else ""
        )
        raise UsageError(f"Invalid setting in {source}: {_describe(first)}{more}.", hint=_hint(first)) from exc
    return settings, notes


def _checked(layer: Layer | None, notes: list[Finding]) -> Layer | None:
    if layer is None:
        return None
    if not isinstance(layer.data, Mapping):
        raise UsageError(f"{layer.name} must be a JSON object, not {type(layer.data).__name__}.")
    _reject_non_finite(layer.data, layer.name)
    _wrong_shape(layer.data, layer.name)
    return Layer(layer.name, _check_keys(layer.data, JobSettings, layer.name, "", notes))


_TASK_KEYS = ("skip_task", "image", "image_version", "image_resources", "job_settings", "command_script")


def _wrong_shape(data: Mapping[str, Any], name: str) -> None:
    """A job_type Task, a file of them, or a metadata file given as settings: said as what it is, since
    a did-you-mean for its first key ('job_settings' -> 'subject_settings') would mislead."""
    fields = JobSettings.model_fields
    if "object_type" in data or "describedBy" in data:
        kind = data.get("object_type") or "aind-data-schema"
        raise UsageError(
            f"{name} is a metadata file ({escaped(str(kind))[:60]}), not settings.",
            hint="Put it in the asset's metadata folder (metadata_dir); the settings are the job's own keys "
            "(`gather-job --help` lists them).",
        )
    if any(key in fields for key in data):  # some key is a setting: its other keys get a did-you-mean
        return
    task = sorted(key for key in data if key in _TASK_KEYS)
    entries = [v for v in data.values() if v is not None]  # a job_type file may hold null for no task
    tasks = bool(entries) and all(isinstance(v, Mapping) and "job_settings" in v for v in entries)
    if task or tasks:
        what = f"a job_type Task ({', '.join(task)})" if task else "a file of job_type Tasks"
        raise UsageError(
            f"{name} is {what}, not settings.",
            hint="The settings are the object under job_settings: give that object, or keep the file as "
            "presets (--job-type-source FILE --job-type NAME; see the README's job_type presets).",
        )


def _reject_non_finite(value: Any, source: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"{source} contains {value}, which is not a usable number.")
    if isinstance(value, Mapping):
        for item in value.values():
            _reject_non_finite(item, source)
    elif isinstance(value, list):
        for item in value:
            _reject_non_finite(item, source)


def _hint(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "missing":
        return "Add it to the settings file or --job-settings JSON."
    if kind.startswith("datetime"):
        return "Use ISO 8601, e.g. 2023-04-03T18:17:07-07:00 (or without the offset for the rig's wall-clock time)."
    if kind.startswith("bool"):
        return "Use true or false."
    return "See `gather-job --help` for the setting's type and default."
