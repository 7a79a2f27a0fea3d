"""Bytes to validated models, each input decoded and validated exactly once.

Problems become findings located in the file (line/column for JSON, a JSON path for schema errors),
never exceptions: a broken file must not hide what is wrong with the others.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import ValidationError

from gather_job import schema, strict_json
from gather_job.findings import Findings
from gather_job.pipeline.documents import Document
from gather_job.pipeline.library_notices import capture
from gather_job.suggest import did_you_mean

MAX_ERRORS_PER_FILE = 25
TYPE_HINTS = (
    ("string_", "Write it as a JSON string (in quotes)."),
    ("int_parsing_size", "The number is far too large for this field; correct it."),
    ("int_", "Use a whole number."),
    ("float_", "Use a number."),
    ("decimal_", "Use a number."),
    ("bool_", "Use true or false."),
    ("datetime_", "Use ISO 8601 with an offset, e.g. 2024-03-05T14:20:00-07:00."),
    ("date_", "Use a date as YYYY-MM-DD."),
    ("list_", "Use a JSON list [...]."),
    ("model_", "Use a JSON object {...}."),
    ("dict_", "Use a JSON object {...}."),
    ("timezone_", "Give the time with its UTC offset, e.g. -07:00."),
)


def decode_json(label: str, raw: bytes, findings: Findings) -> Any:
    """Strict JSON (`strict_json`): one object, or None with a finding for each problem."""
    data, problems = strict_json.decode(raw)
    for problem in problems:
        _report(label, problem, findings)
    return data


# problems whose text says it all: finding id, and the fix when the problem gives none
_SAID = {
    "encoding": ("gather.file.encoding", "Save the file as UTF-8."),
    "syntax": ("gather.file.invalid_json", "The file may be truncated or hand-edited; fix the JSON there."),
    "too_long": ("gather.file.number_too_long", None),
}


def _report(label: str, problem: strict_json.Problem, findings: Findings) -> None:
    kind, files = problem.kind, (label,)
    if kind == "empty":
        findings.error(
            "gather.file.empty", f"{label} is empty.", files=files, hint="Write the JSON document or remove the file."
        )
    elif kind in _SAID:  # the problem's own text, where it is, and the line with a caret under it
        finding_id, fallback = _SAID[kind]
        findings.error(
            finding_id,
            f"{label} {problem.text}.",
            files=files,
            location=problem.location,
            value=problem.values[0] if problem.values else None,
            context=problem.excerpt,
            hint=problem.hint or fallback,
        )
    elif kind == "too_deep":
        findings.error("gather.file.too_deep", f"{label} is nested too deeply to be metadata.", files=files)
    elif kind == "duplicate_key":
        keys = sorted(set(problem.values))
        findings.error(
            "gather.file.duplicate_key",
            f"{label} repeats the key(s) {keys}; JSON readers silently keep only the last one.",
            files=files,
            value=keys,
            hint="Keep one value per key.",
        )
    elif kind == "non_finite":
        findings.error(
            "gather.file.non_finite_number",
            f"{label} contains {sorted(set(problem.values))}, which JSON does not allow.",
            files=files,
            hint="Use a finite number or null.",
        )
    else:
        findings.error(
            "gather.file.not_object",
            f"{label} holds a JSON {problem.text}, not an object.",
            files=files,
            hint="A core metadata file is one JSON object ({...}).",
        )


def json_path(data: Any, loc: Sequence[int | str]) -> str:
    """Map a pydantic error location onto the document, dropping union tags and validator names."""
    path = ""
    current = data
    for part in loc:
        if isinstance(current, list) and isinstance(part, int):
            path += f"[{part}]"
            current = current[part] if part < len(current) else None
        elif isinstance(current, Mapping) and isinstance(part, str) and part in current:
            path += f".{part}" if path else part
            current = current[part]
        elif isinstance(current, Mapping) and isinstance(part, str) and not part.startswith(("function-", "tagged-")):
            # a missing or unexpected key: keep it, it is what the user must add or remove
            if part[:1].isupper() or " " in part:
                continue  # a discriminated-union tag such as 'Laser' or 'Harp device'
            path += f".{part}" if path else part
            current = None
    return path or "(document)"


def _hint(error: Mapping[str, Any], key: str) -> str | None:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return f"Add the required field '{key}'."
    if kind == "extra_forbidden":
        return f"Remove '{key}': the schema has no such field here."
    if kind in ("literal_error", "enum"):
        return f"Allowed values: {ctx.get('expected')}."
    if kind == "union_tag_invalid":
        tags = [t.strip(" '") for t in str(ctx.get("expected_tags", "")).split(",")]
        tag = str(ctx.get("tag", ""))
        return f"Unknown object_type {tag!r}{did_you_mean(tag, tags)}; allowed here: {', '.join(tags)}."
    if kind == "union_tag_not_found":
        return "Add the 'object_type' field that says which kind of object this is."
    for prefix, text in TYPE_HINTS:
        if kind.startswith(prefix):
            return text
    return None


# What aind-data-schema's own validators raise on input of an unexpected shape, besides ValidationError
# (`coerce_object_type` on an object_type that is a number: TypeError): findings, never exit 1.
LIBRARY_CRASHES = (ValueError, TypeError, AttributeError, KeyError, IndexError)


def validate(kind: str, label: str, data: dict[str, Any], findings: Findings) -> Any:
    """Validate decoded JSON against the core model; return the model or None."""
    expected = schema.object_type(kind)
    declared = data.get("object_type")
    if declared is not None and declared != expected:
        findings.error(
            "gather.file.wrong_object_type",
            f"{label} says object_type {declared!r}, but a {schema.file_name(kind)} must be {expected!r}.",
            files=(label,),
            location="object_type",
            value=declared,
            hint=f"Is the file misnamed? Otherwise set object_type to {expected!r}.",
        )
        return None
    version = data.get("schema_version")
    if schema.is_legacy_version(version):
        from gather_job.pipeline.plan import UPGRADE_HINT

        current = schema.model_class(kind).model_fields["schema_version"].default
        findings.error(
            "gather.file.schema_1x",
            f"{label} is aind-data-schema {version} metadata; this job reads 2.x "
            f"({schema.file_name(kind)} of this version has schema_version {current}).",
            files=(label,),
            location="schema_version",
            value=version,
            hint=UPGRADE_HINT,
        )
        return None
    cls = schema.model_class(kind)
    with capture(findings, (label,), f"validating {label}"):
        try:
            model = cls.model_validate(data)
        except ValidationError as exc:
            _schema_findings(exc, label, data, findings)
        except LIBRARY_CRASHES as exc:
            findings.error(
                "gather.schema.crashed",
                f"aind-data-schema could not validate {label}: {type(exc).__name__}: {exc}.",
                files=(label,),
                hint="Some value has an unexpected shape; compare the file with the schema.",
            )
        else:
            if isinstance(version, str) and version != getattr(model, "schema_version", version):
                findings.info(
                    "gather.file.schema_version_updated",
                    f"{label} says schema_version {version!r}; aind-data-schema {model.schema_version} validated "
                    "it, and it is written with that version (the reference copied the file as given).",
                    files=(label,),
                    location="schema_version",
                    value=version,
                )
            return model
    return None


def _schema_findings(exc: ValidationError, label: str, data: dict[str, Any], findings: Findings) -> None:
    errors = _one_per_place(exc.errors(include_url=False), data)
    for where, error, others in errors[:MAX_ERRORS_PER_FILE]:
        key = where.rsplit(".", 1)[-1]
        message = _message(error)
        hint = _hint(error, key)
        value = None if error["type"] == "missing" else error.get("input")
        if error["type"] in ("value_error", "assertion_error") and isinstance(value, Mapping):
            # a model validator's rule across the fields of an object: where, not the whole object
            where, value, hint = _object_rule(label, where, message, value)
        if others:  # every member of a union refused the value's JSON type: one finding saying what each wants
            message = " or ".join([message, *(_message(e).removeprefix("Input should be ") for e in others)])
            hints = [h for h in (hint, *(_hint(e, key) for e in others)) if h]
            hint = ", or ".join([hints[0].rstrip("."), *(h[:1].lower() + h[1:].rstrip(".") for h in hints[1:])]) + "."
        findings.error(
            "gather.schema.invalid",
            f"{label}: {where}: {message}",
            files=(label,),
            location=where,
            value=value,
            hint=hint,
        )
    if len(errors) > MAX_ERRORS_PER_FILE:
        findings.error(
            "gather.schema.invalid",
            f"{label}: {len(errors) - MAX_ERRORS_PER_FILE} more schema errors not shown.",
            files=(label,),
            hint="Fix the ones above first; many may share one cause.",
        )


# what a field a model's own rule asks for holds, for the fix
_FIELD_HINTS = {
    "instrument_id": "the id of the instrument the data was acquired with (instrument.json's instrument_id)",
    "subject_id": "the subject's id (as in subject.json)",
    "specimen_id": "the specimen's id: the subject_id with a suffix, e.g. 123456-01",
    "notes": "a few words saying what 'Other' is",
}
_REQUIRED = re.compile(r"\b(?:is required|must be provided|must be set|cannot be empty)\b")


def _object_rule(label: str, where: str, message: str, data: Mapping[str, Any]) -> tuple[str, Any, str]:
    """A model validator's error, raised on the whole object: its location is the object and its
    value the object itself (a whole document for a core file). Named instead: the field the
    message names first (`instrument_id is required when ...`), its value, and the fix."""
    field = _named_field(message, data)
    if field is None:
        return (
            where,
            None,
            f"A rule across the fields of {'this object' if where != '(document)' else label}: "
            + ("change the fields the message names so that it holds."),
        )
    at = field if where == "(document)" else f"{where}.{field}"
    what = _FIELD_HINTS.get(field)
    if data.get(field) in (None, "", []) and _REQUIRED.search(message):
        return at, None, f"Add '{field}' to {label}" + (f": {what}." if what else ".")
    return at, data.get(field), f"Correct '{field}' in {label} (or the fields it depends on): {message}."


def _named_field(message: str, data: Mapping[str, Any]) -> str | None:
    """The first word of `message` that names a field: snake_case, a key of the object, or `Class.field`."""
    message = re.sub(r"\b([A-Z][a-z]+) ID\b", lambda m: f"{m[1].lower()}_id", message)  # "Specimen ID"
    for word in re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", message):
        name = str(word).rstrip(".").rsplit(".", 1)[-1]
        if name in data or (("_" in name or "." in str(word).rstrip(".")) and name.islower()):
            return name
        if name.lower() in data and name[:1].isupper() and name[1:].islower():
            return name.lower()  # "Notes cannot be empty ..." names `notes`
    return None


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "union_tag_invalid":
        return f"unknown object_type {(error.get('ctx') or {}).get('tag')!r}"
    return str(error["msg"]).removeprefix("Value error, ")


def _wrong_json_type(error: Mapping[str, Any]) -> bool:
    """An error that says only "not this JSON type" (a union member the value was never meant for)."""
    kind = str(error["type"])
    return kind.endswith("_type") or kind in ("int_parsing", "float_parsing", "bool_parsing")


def _one_per_place(
    errors: Sequence[Mapping[str, Any]], data: dict[str, Any]
) -> list[tuple[str, Mapping[str, Any], list[Mapping[str, Any]]]]:
    """(JSON path, error, errors folded into it), one entry per place and value.

    pydantic reports a value every member of a union refuses once per member, at locations that differ
    only by the member's name, which the JSON path drops: "Mars/Olympus" for an `int | TimeZoneName`
    field gave "Input should be a valid integer" beside "Invalid timezone name". An error that says
    only "not this JSON type" is dropped when another at the same place says what is wrong with the
    value itself; when all of them say only that, they are folded into one ("a valid integer or a valid
    string"). Errors at different places, or about different values, are all kept, in pydantic's order.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for error in errors:
        where = json_path(data, tuple(error["loc"]))
        value = error.get("input")
        same = repr(value) if isinstance(value, (str, int, float, bool, type(None))) else f"@{id(value)}"
        groups.setdefault((where, same), []).append(error)
    kept: list[tuple[str, Mapping[str, Any], list[Mapping[str, Any]]]] = []
    for (where, _), group in groups.items():
        if len(group) == 1:
            kept.append((where, group[0], []))
            continue
        specific = [e for e in group if not _wrong_json_type(e)]
        if specific:
            kept.extend((where, e, []) for e in specific)
        else:
            kept.append((where, group[0], group[1:]))
    return kept


def upgrade_hint(folder: str) -> str:
    """The fix for 1.x metadata, with the checked folder's path (quoted for a shell) instead of DIR."""
    if folder.startswith("s3://"):
        name = folder.rstrip("/").rsplit("/", 1)[-1] or "asset"
        fetch = f"aws s3 cp --recursive {shlex.quote(folder)} {shlex.quote(name)}"
        copy = f"Copy the asset's metadata files to a local folder first (`{fetch}`), then "
        source = PurePosixPath(name)
    else:
        copy, source = "", PurePosixPath(folder)
    if source.name in ("", ".", ".."):
        source = PurePosixPath(Path(folder).resolve().as_posix())
    target = source.with_name(source.name + "-v2")
    upgrade = f"gather-job upgrade {shlex.quote(str(source))} --output-dir {shlex.quote(str(target))}"
    return (
        f"{copy}{'u' if copy else 'U'}pgrade the 1.x files to 2.x, offline, with aind-metadata-upgrader: `{upgrade}` "
        f"(needs `pip install 'gather-job[upgrade]'`) writes the 2.x files into {target} and lists what the upgrader "
        f"guessed; then `gather-job check {shlex.quote(str(target))} --offline`. Or export the metadata again with "
        "the rig's 2.x tools."
    )


def upgrade_hints(findings: Findings, folder: str) -> None:
    """The 1.x findings' fix (`plan.UPGRADE_HINT`), with the checked folder's path, given in full once:
    one upgrade converts every 1.x file of the folder, so the others point to it."""
    from gather_job.pipeline.plan import UPGRADE_HINT

    hits = [i for i, found in enumerate(findings.items) if found.hint == UPGRADE_HINT]
    if not hits:
        return
    first = min(hits, key=lambda i: (findings.items[i].files, i))  # the one shown first (`Findings.sorted`)
    where = ", ".join(findings.items[first].files)
    for i in hits:
        hint = (
            upgrade_hint(folder)
            if i == first
            else f"The aind-metadata-upgrader command given under {where} upgrades this file too."
        )
        findings.items[i] = dataclasses.replace(findings.items[i], hint=hint)


def load(kind: str, label: str, raw: bytes, findings: Findings) -> Document:
    data = decode_json(label, raw, findings)
    doc = Document(kind=kind, label=label, raw=raw, data=data)
    if data is not None:
        doc.model = validate(kind, label, data, findings)
    if doc.model is not None:
        doc.raw = doc.data = None  # only an invalid file is passed on as it came; free the memory
    return doc
