"""Which JSON keys of a core model hold datetimes, read from the model classes themselves.

`rig_time` attaches the rig's zone to naive times, but only under keys whose field is a datetime
(a `date` stays a date) and never inside free-form fields (`code.parameters`, `output_parameters`,
`additional_settings`: aind's GenericModel, dict, Any), which are the user's, copied as written. Both
sets come from the installed aind-data-schema, so a new field or a new device class is followed
without a table to keep. The walk covers ~400 classes and ~2,000 annotations for the five models of
a run, so it is built to be cheap: each class and annotation is read once per process, and the
"holds a datetime below" question is answered once over the reverse edges, not by repeated sweeps.
"""

from __future__ import annotations

import sys
import typing
from collections.abc import Iterable
from datetime import datetime
from functools import cache
from typing import Any

# pydantic's constrained datetimes are plain classes at run time, not datetime subclasses.
_PYDANTIC_DATETIMES = frozenset({"AwareDatetime", "NaiveDatetime", "PastDatetime", "FutureDatetime"})


class DatetimeKeys(frozenset[str]):
    """A model's datetime keys, carrying as `opaque` the keys under which its schema holds no datetime.

    Those are free-form fields and plain values: what is written there is the user's, so `attach`
    copies it as written. They ride on the keys because every caller hands `datetime_keys(...)` to
    `rig_time.place` and `rig_time.attach`; a plain frozenset has none.
    """

    opaque: frozenset[str]

    def __new__(cls, keys: Iterable[str], opaque: Iterable[str] = ()) -> DatetimeKeys:
        made = super().__new__(cls, keys)
        made.opaque = frozenset(opaque)
        return made


def _is_datetime(tp: Any) -> bool:
    if not isinstance(tp, type):
        return False
    return issubclass(tp, datetime) or (tp.__module__ == "pydantic.types" and tp.__name__ in _PYDANTIC_DATETIMES)


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and isinstance(getattr(tp, "__pydantic_fields__", None), dict)


_Field = tuple[frozenset[str], bool, frozenset[type[Any]]]  # JSON keys, holds a datetime itself, models held
# Keyed by id: a union of a hundred device classes hashes its members on every lookup, and some
# annotations are not hashable at all. The annotation itself is kept, so its id is never reused.
_ANNOTATIONS: dict[int, tuple[Any, tuple[bool, frozenset[type[Any]]]]] = {}


def _annotation(annotation: Any) -> tuple[bool, frozenset[type[Any]]]:
    """Whether an annotation holds a datetime, and the models it holds; the same union of device
    classes annotates many fields, so each distinct annotation is walked once."""
    known = _ANNOTATIONS.get(id(annotation))
    if known is not None and known[0] is annotation:
        return known[1]
    holds_datetime = False
    models: set[type[Any]] = set()
    types_: list[Any] = [annotation]
    while types_:
        tp = types_.pop()
        if _is_datetime(tp):
            holds_datetime = True
        elif _is_model(tp):
            models.add(tp)
        elif (origin := typing.get_origin(tp)) is typing.Annotated:
            types_.append(typing.get_args(tp)[0])
        elif origin not in (None, typing.Literal):
            types_.extend(typing.get_args(tp))  # Union, X | Y, List, Dict, ...
    found = (holds_datetime, frozenset(models))
    _ANNOTATIONS[id(annotation)] = (annotation, found)
    return found


@cache
def _fields(model: Any) -> tuple[_Field, ...]:
    """One model's fields, each found in JSON by its name or (string) alias. Cached per class, since the
    instrument and the acquisition share most of their nested models (the devices' unions)."""
    found: list[_Field] = []
    for name, info in model.__pydantic_fields__.items():
        holds_datetime, models = _annotation(info.annotation)
        aliases = (info.alias, info.validation_alias)
        found.append((frozenset({name, *(a for a in aliases if isinstance(a, str))}), holds_datetime, models))
    return tuple(found)


@cache
def _held(model: Any) -> frozenset[type[Any]]:
    """Every model any field of `model` holds: the edges of the walk, each once."""
    return frozenset().union(*(models for _, _, models in _fields(model)))


# Whether a model holds a datetime somewhere below depends only on the models below it, all of which
# were reached when it was first met: so it is decided once per process, for every root after.
_DECIDED: set[Any] = set()
_TIMED: set[Any] = set()


@cache
def _keys_of(model: Any) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """One model's declared keys, datetime keys, and keys reaching a datetime (its held models decided)."""
    declared, keys, reaching = set[str](), set[str](), set[str]()
    for names, holds, models in _fields(model):
        declared |= names
        if holds:
            keys |= names
        if holds or not _TIMED.isdisjoint(models):
            reaching |= names
    return frozenset(declared), frozenset(keys), frozenset(reaching)


@cache
def datetime_keys(model_class: Any) -> DatetimeKeys:
    """JSON keys whose field holds a datetime anywhere inside `model_class` (dates and times excluded),
    and as `opaque` the declared keys none of whose fields can hold one, however deep.

    A core model of the aind-data-schema release the locks pin is looked up in `datetime_keys_known`,
    written by this module's walk (`python -m gather_job.pipeline.datetime_keys`) and checked against
    it by tests/test_rig_time.py: the walk costs ~10 ms of a one-asset run's start. Any other release,
    or any other class, is walked.
    """
    from gather_job.pipeline import datetime_keys_known as known

    library = sys.modules.get("aind_data_schema")
    if getattr(library, "__version__", None) == known.LIBRARY:
        found = known.KEYS.get(f"{model_class.__module__}.{model_class.__qualname__}")
        if found is not None:
            return DatetimeKeys(found[0].split(), found[1].split())
    return walk(model_class)


def walk(model_class: Any) -> DatetimeKeys:
    """`datetime_keys` read from the classes themselves.

    Walks the fields' annotations through Optional/Union/List/Dict/Annotated/discriminated unions into
    nested models, each model once. Keys are names only: a key that is a datetime in one model is
    treated as one everywhere in the document, which is safe because `attach` only touches strings
    that already look like a naive datetime; a key is opaque only if no model gives it a datetime below.
    """
    reached = {model_class}
    todo = [model_class]
    while todo:
        new = _held(todo.pop()) - reached
        reached |= new
        todo.extend(new)
    fresh = reached - _DECIDED
    timed = (_TIMED & reached) | {model for model in fresh if any(holds for _, holds, _ in _fields(model))}
    undecided = fresh - timed
    # a model holding a model that holds a datetime holds one: one sweep per level of nesting
    while grown := {model for model in undecided if not timed.isdisjoint(_held(model))}:
        timed |= grown
        undecided -= grown
    _TIMED.update(timed)
    _DECIDED.update(fresh)
    keys, declared, reaching = set[str](), set[str](), set[str]()
    for model in reached:
        own_declared, own_keys, own_reaching = _keys_of(model)
        declared |= own_declared
        keys |= own_keys
        reaching |= own_reaching
    return DatetimeKeys(keys, declared - reaching)


def known_module() -> str:
    """The text of `datetime_keys_known.py` for the installed aind-data-schema: its core models, walked,
    each set as its names joined by spaces (no key holds one), as ruff formats it."""
    import json
    import textwrap

    import aind_data_schema

    from gather_job import schema

    def names(found: frozenset[str]) -> list[str]:
        assert all(part.split() == [part] for part in found), "a key with white space"
        wrapped = textwrap.wrap(" ".join(sorted(found)), 100, break_long_words=False, break_on_hyphens=False)
        if len(wrapped) <= 1:
            return [f"        {json.dumps(''.join(wrapped))},"]
        spaced = [line + " " for line in wrapped[:-1]] + wrapped[-1:]
        return ["        (", *(f"            {json.dumps(line)}" for line in spaced), "        ),"]

    lines = [
        '"""Generated by `python -m gather_job.pipeline.datetime_keys`: the walk\'s answer for the core models of',
        'one aind-data-schema release, as (keys, opaque) joined by spaces. tests/test_rig_time.py checks it."""',
        "",
        f"LIBRARY = {json.dumps(aind_data_schema.__version__)}",
        "KEYS: dict[str, tuple[str, str]] = {",
    ]
    for kind in schema.CORE_FILES:
        model = schema.model_class(kind)
        keys = walk(model)
        lines += [f"    {json.dumps(model.__module__ + '.' + model.__qualname__)}: (", *names(keys)]
        lines += [*names(keys.opaque), "    ),"]
    lines.append("}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    Path(__file__).with_name("datetime_keys_known.py").write_text(known_module(), encoding="utf-8")
