"""A corpus of broken inputs derived from the valid fixtures (DESIGN: bad input of every kind).

Each case is a folder edit or a settings edit. Deterministic (seeded), so a failure names a case
that can be rerun. Wrong-type edits the schema happens to accept are filtered out by an oracle
(the file's own aind-data-schema model), so every case really is broken.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fixtures import assets

FILES = {
    "instrument_a.json": "instrument",
    "instrument_b.json": "instrument",
    "acquisition_a.json": "acquisition",
    "acquisition_b.json": "acquisition",
    "subject.json": "subject",
    "procedures.json": "procedures",
    "data_description.json": "data_description",
}
DIRECTORY = object()  # marker: replace the file by a folder of that name
OUTSIDE = object()  # marker: replace the file by a symlink to a copy outside the folder


@dataclass
class Case:
    name: str
    kind: str  # "file" or "settings"
    target: str  # the file name, or "settings"
    content: Any = None  # bytes, DIRECTORY, OUTSIDE, or settings text
    settings_patch: dict[str, Any] = field(default_factory=dict)


def valid_files() -> dict[str, bytes]:
    files = assets.asset_files("valid", with_subject=True, with_procedures=True, with_data_description=True)
    return {name: model.model_dump_json(indent=3).encode() for name, model in files.items()}  # type: ignore[union-attr]


def _leaves(data: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaves(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from _leaves(value, (*path, index))
    yield path, data


def _set(data: Any, path: tuple[Any, ...], value: Any) -> Any:
    data = copy.deepcopy(data)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


def _wrong(value: Any) -> Any:
    if isinstance(value, bool):
        return "maybe"
    if isinstance(value, (int, float)):
        return "not a number"
    if isinstance(value, str):
        return {"unexpected": ["object"]}
    if isinstance(value, list):
        return {"not": "a list"}
    if isinstance(value, dict):
        return ["not", "an", "object"]
    return {"was": "null"}


def _broken(kind: str, data: Any) -> bool:
    """The oracle: does the file's own model refuse it?"""
    from pydantic import ValidationError

    from gather_job import schema

    try:
        schema.model_class(kind).model_validate(copy.deepcopy(data))
    except (ValidationError, ValueError, TypeError, AttributeError, KeyError):
        return True
    return False


def _text_edits(raw: bytes) -> Iterator[tuple[str, bytes]]:
    for fraction in (0.01, 0.05, 0.15, 0.3, 0.4, 0.5, 0.6, 0.7, 0.85, 0.97):
        yield f"truncated-{int(fraction * 100)}", raw[: int(len(raw) * fraction)]
    for fraction in (0.0, 0.2, 0.4, 0.6, 0.9):
        at = int(len(raw) * fraction)
        yield f"non-utf8-{int(fraction * 100)}", raw[:at] + b"\xff\xfe\x80" + raw[at:]
    yield "latin1", raw.replace(b'"', b'"\xe9', 1)
    for label, text in (("list", b"[]"), ("string", b'"text"'), ("number", b"1"), ("null", b"null"), ("true", b"true")):
        yield f"not-object-{label}", text
    yield "empty", b""
    yield "blank", b"  \n\t "
    yield "nan", raw.replace(b'"object_type"', b'"nan_here": NaN, "object_type"', 1)
    yield "infinity", raw.replace(b'"object_type"', b'"inf_here": -Infinity, "object_type"', 1)
    yield "overflow", raw.replace(b'"object_type"', b'"big": 1e999, "object_type"', 1)
    yield "duplicate-key", raw.replace(b'"object_type"', b'"object_type": "Dup", "object_type"', 1)
    yield "long-integer", raw.replace(b'"object_type"', b'"big": ' + b"9" * 5000 + b', "object_type"', 1)
    yield "deep", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def _data_edits(kind: str, data: dict[str, Any], rng: random.Random) -> Iterator[tuple[str, Any]]:
    leaves = [(p, v) for p, v in _leaves(data) if p and p[-1] != "object_type"]
    for index, (path, value) in enumerate(rng.sample(leaves, min(30, len(leaves)))):
        yield f"wrong-type-{index}", _set(data, path, _wrong(value))
    from gather_job import schema

    for name, info in schema.model_class(kind).model_fields.items():
        if info.is_required() and name in data:
            yield f"missing-{name}", {k: v for k, v in data.items() if k != name}
    objects = [p for p, v in _leaves(data) if isinstance(v, dict) and p and len(v) > 1]
    for index, path in enumerate(rng.sample(objects, min(12, len(objects)))):
        node: Any = data
        for part in path:
            node = node[part]
        key = rng.choice([k for k in node if k != "object_type"] or list(node))
        yield f"missing-nested-{index}", _set(data, path, {k: v for k, v in node.items() if k != key})
    yield "unknown-key", {**data, "bogus_field": 1}
    nested = next((p for p, v in _leaves(data) if isinstance(v, dict) and "object_type" in v and p), None)
    if nested is not None:
        yield "unknown-nested-key", _set(data, (*nested, "bogus_field"), 1)
        yield "wrong-nested-object-type", _set(data, (*nested, "object_type"), "Not a real type")
    yield "wrong-object-type", {**data, "object_type": "Something else"}
    strings = [p for p, v in _leaves(data) if isinstance(v, str) and p[-1] != "object_type"]
    if strings:
        yield "huge-wrong-value", _set(data, strings[0], list(range(200_000)))


def file_cases(seed: int = 7) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    for name, raw in valid_files().items():
        kind = FILES[name]
        for label, content in _text_edits(raw):
            cases.append(Case(f"{name}:{label}", "file", name, content))
        data = json.loads(raw)
        for label, edited in _data_edits(kind, data, rng):
            if label == "wrong-object-type" or _broken(kind, edited):  # the library coerces a wrong top-level one
                cases.append(Case(f"{name}:{label}", "file", name, json.dumps(edited, indent=3).encode()))
        cases.append(Case(f"{name}:directory", "file", name, DIRECTORY))
        cases.append(Case(f"{name}:symlink-outside", "file", name, OUTSIDE))
    return cases


SETTINGS_EDITS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("truncated", lambda s: json.dumps(s)[:40]),
    ("not-object", lambda s: "[1, 2]"),
    ("empty", lambda s: ""),
    ("nan", lambda s: json.dumps(s).replace('"subject_id"', '"service_retries": NaN, "subject_id"', 1)),
    ("duplicate-key", lambda s: json.dumps(s).replace('"subject_id"', '"subject_id": "1", "subject_id"', 1)),
    ("deep", lambda s: '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    (
        "long-integer",
        lambda s: json.dumps(s).replace('"subject_id"', '"service_retries": ' + "1" * 5000 + ', "subject_id"', 1),
    ),
    ("unknown-key", lambda s: json.dumps({**s, "subjectid": "1"})),
    ("unknown-nested-key", lambda s: json.dumps({**s, "data_description_settings": {"projectname": "x"}})),
    ("wrong-bool", lambda s: json.dumps({**s, "raise_if_invalid": "maybe"})),
    ("wrong-time", lambda s: json.dumps({**s, "acquisition_start_time": "yesterday"})),
    ("wrong-list", lambda s: json.dumps({**s, "data_description_settings": {"modalities": {"a": 1}}})),
    ("unknown-modality", lambda s: json.dumps({**s, "data_description_settings": {"modalities": ["ephys"]}})),
    ("wrong-retries", lambda s: json.dumps({**s, "service_retries": "many"})),
    ("negative-timeout", lambda s: json.dumps({**s, "service_timeout_s": -1})),
    ("bad-policy", lambda s: json.dumps({**s, "if_exists": "replace"})),
    ("no-output", lambda s: json.dumps({k: v for k, v in s.items() if k != "output_dir"})),
    ("missing-metadata-dir", lambda s: json.dumps({**s, "metadata_dir": s["metadata_dir"] + "-missing"})),
    ("bad-url", lambda s: json.dumps({**s, "offline": False, "metadata_service_url": "aind-metadata-service"})),
    ("huge-subject", lambda s: json.dumps({**s, "subject_id": list(range(100_000))})),
    ("wrong-section", lambda s: json.dumps({**s, "instrument_settings": "EPHYS1"})),
]


def settings_cases() -> list[Case]:
    cases = [Case(f"settings:{label}", "settings", "settings", edit) for label, edit in SETTINGS_EDITS]
    cases += [
        Case(f"settings-bytes:{label}", "settings", "settings", content)
        for label, content in (("non-utf8", b'{"output_dir": "\xff\xfe"}'), ("utf16", '{"a": 1}'.encode("utf-16")))
    ]
    return cases


CATEGORIES = (
    ("truncated", "truncated file"),
    ("non-utf8", "not UTF-8"),
    ("latin1", "not UTF-8"),
    ("utf16", "not UTF-8"),
    ("not-object", "JSON that is not an object"),
    ("wrong-nested-object-type", "wrong object_type"),
    ("wrong-object-type", "wrong object_type"),
    ("wrong-type", "wrong type"),
    ("wrong-", "wrong type"),
    ("missing-metadata-dir", "missing folder"),
    ("missing", "missing required key"),
    ("no-output", "missing required key"),
    ("unknown", "unknown key or value"),
    ("huge", "huge value"),
    ("deep", "deeply nested"),
    ("long-integer", "integer too long to read"),
    ("nan", "NaN/Infinity"),
    ("infinity", "NaN/Infinity"),
    ("overflow", "NaN/Infinity"),
    ("duplicate", "duplicate key"),
    ("empty", "empty file"),
    ("blank", "empty file"),
    ("directory", "folder named like a file"),
    ("symlink", "symlink leaving the folder"),
    ("negative", "out-of-range value"),
    ("bad-", "out-of-range value"),
)


def category(case: Case) -> str:
    label = case.name.split(":", 1)[1]
    found = next((text for prefix, text in CATEGORIES if label.startswith(prefix)), label)
    return f"bad {'settings' if case.kind == 'settings' else 'metadata file'}: {found}"


def all_cases() -> list[Case]:
    return file_cases() + settings_cases()


def apply(case: Case, folder: Path, outside: Path) -> None:
    """Edit a copy of the valid folder as the case says."""
    target = folder / case.target
    if case.content is DIRECTORY:
        target.unlink()
        target.mkdir()
        (target / "inner.json").write_text("{}")
    elif case.content is OUTSIDE:
        outside.mkdir(parents=True, exist_ok=True)
        copy_path = outside / case.target
        copy_path.write_bytes(target.read_bytes())
        target.unlink()
        target.symlink_to(copy_path)
    else:
        target.write_bytes(case.content)
