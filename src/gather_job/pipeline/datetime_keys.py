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
