"""A model's `model_dump_json(indent=3)` bytes, in pieces, so a large file is never one buffer.

Serializing a 300x merged acquisition in one call builds ~26 MB of JSON in a growing buffer and then
copies it into a bytes object: the write phase was the run's peak memory. Here a model that holds a
long list is written field by field, and such a list item by item (runs of `chunk` items):

- the model's other fields come from its own serializer with `include` (one call for each run of
  small fields), with the wrapping braces cut away;
- each list item is serialized by its own class's serializer and indented for its depth (JSON
  strings hold no raw line breaks, so indenting is adding spaces after each one). In its list the
  item would be serialized by the list's declared item type; pydantic-core picks the union member of
  exactly the item's class, so the two agree, and that is checked, once per class in each list,
  against the item serialized in its list (`include`); where they differ (a list declared of a base
  class, a serializer on the list) the list is serialized whole. An item that itself holds a long
  list is written in pieces the same way.

`include` is not used to pick list items: for a list of a union type pydantic-core then tries the
union's members one by one for every item, ~30 times slower than the whole list. The pieces, joined,
are byte for byte `to_json(model, indent=3)` (tests/test_streamed_json.py, every fixture, several
chunk sizes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Discriminator
from pydantic.fields import FieldInfo

INDENT = 3
CHUNK = 64  # list items per piece: a piece of a few hundred KB at most
MAX_DEPTH = 8  # below this, models are serialized whole


def chunks(model: BaseModel, chunk: int = CHUNK) -> Iterator[bytes]:
    """The bytes of `type(model).__pydantic_serializer__.to_json(model, indent=3)`, in pieces."""
    yield from _model(model, 0, max(1, chunk))


def _to_json(value: BaseModel, include: Any = None) -> bytes:
    data: bytes = type(value).__pydantic_serializer__.to_json(value, indent=INDENT, include=include)
    return data


def _indented(data: bytes, depth: int) -> bytes:
    return data.replace(b"\n", b"\n" + b" " * (INDENT * depth)) if depth else data


def _fields(model: BaseModel) -> list[str]:
    """The names the dump writes, in its order (a computed field is never read here, only dumped:
    reading one may warn, and none holds a list worth cutting)."""
    cls = type(model)
    return [name for name, info in cls.model_fields.items() if not info.exclude] + list(cls.model_computed_fields)


def _splittable(value: Any) -> bool:
    """A model whose dump is its fields in order: no model serializer, no extra fields."""
    return (
        isinstance(value, BaseModel)
        and not value.model_extra
        and not type(value).__pydantic_decorators__.model_serializers
    )


def _long_lists(model: BaseModel, chunk: int) -> bool:
    """A field (its value in `__dict__`: this runs for every list item) holding a list longer than `chunk`."""
    return any(type(v) is list and len(v) > chunk for v in model.__dict__.values())


def _worth_cutting(value: Any, chunk: int) -> bool:
    """A list field long enough, or holding an item that has one."""
    if not isinstance(value, list) or not value:
        return False
    return len(value) > chunk or any(_splittable(item) and _long_lists(item, chunk) for item in value)


def _key(model: BaseModel, name: str) -> bytes:
    """The field's key as the dump writes it: its alias when the model serializes by alias."""
    cls = type(model)
    info = cls.model_fields.get(name)
    alias = (info.serialization_alias or info.alias) if info is not None else None
    key = alias if alias and cls.model_config.get("serialize_by_alias") else name
    return json.dumps(key, ensure_ascii=False).encode("utf-8")


def _members(model: BaseModel, names: list[str], depth: int) -> bytes:
    """The lines of `names` in the model's dump, without its braces (empty if it leaves them out)."""
    text = _to_json(model, set(names))
    if b"\n" not in text:
        return b""  # "{}"
    return b" " * (INDENT * depth) + _indented(text.split(b"\n", 1)[1].rsplit(b"\n", 1)[0], depth)


def _declared_classes(cls: type[BaseModel], name: str) -> frozenset[type] | None:
    """The model classes a `list[X]` / `list[X | Y | ...]` field declares (a discriminator allowed),
    or None when its items may be serialized otherwise than alone (any other annotation)."""
    info = cls.model_fields.get(name)
    annotation = info.annotation if info is not None else None
    if get_origin(annotation) is not list or len(get_args(annotation)) != 1:  # List[X] too
        return None
    return _classes(get_args(annotation)[0])


def _classes(annotation: Any) -> frozenset[type] | None:
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        plain = all(isinstance(m, Discriminator) or (isinstance(m, FieldInfo) and not m.metadata) for m in metadata)
        return _classes(base) if plain else None
    if get_origin(annotation) in (Union, UnionType):
        found: set[type] = set()
        for member in get_args(annotation):
            classes = _classes(member)
            if classes is None:
                return None
            found |= classes
        return frozenset(found)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return frozenset({annotation})
    return None


def _items_alone(model: BaseModel, name: str, items: list[Any]) -> bool:
    """Whether every item serializes alone as it does in its list.

    Declared as a list of model classes (or a union of them) with each item exactly one of those
    classes: pydantic-core serializes it by that class's own schema (a union's member of exactly the
    value's class, or the one its discriminator names), so yes. Otherwise (a list of a base class
    holding a subclass, an annotated serializer) it is checked, once per class, against the item
    serialized in its list, and only for small items: a large one is not serialized twice.
    """
    declared = _declared_classes(type(model), name)
    if declared is not None and all(type(item) in declared for item in items):
        return True
    checked: set[type] = set()
    for index, item in enumerate(items):
        if not isinstance(item, BaseModel) or _long_lists(item, 0):
            return False
        if type(item) in checked:
            continue
        in_list = _to_json(model, {name: {index}}).split(b"\n", 2)[2].rsplit(b"\n", 2)[0]
        if in_list != b" " * (2 * INDENT) + _indented(_to_json(item), 2):
            return False
        checked.add(type(item))
    return True


def _model(model: BaseModel, depth: int, chunk: int) -> Iterator[bytes]:
    cut = (
        [name for name in _fields(model) if _worth_cutting(model.__dict__.get(name), chunk)]
        if depth < MAX_DEPTH and _splittable(model)
        else []
    )
    cut = [name for name in cut if _items_alone(model, name, model.__dict__[name])]
    if not cut:
        yield _indented(_to_json(model), depth)
        return
    pad = b" " * (INDENT * (depth + 1))
    opened = False
    small: list[str] = []  # consecutive fields not cut, dumped in one call
    for name in [*_fields(model), None]:
        if name is not None and name not in cut:
            small.append(name)
            continue
        part = _members(model, small, depth) if small else b""
        small = []
        if part:
            yield (b",\n" if opened else b"{\n") + part
            opened = True
        if name is None:
            break
        yield (b",\n" if opened else b"{\n") + pad + _key(model, name) + b": "
        opened = True
        yield from _items(model.__dict__[name], depth + 1, chunk)
    yield (b"\n" + b" " * (INDENT * depth) + b"}") if opened else b"{}"


def _items(items: list[BaseModel], depth: int, chunk: int) -> Iterator[bytes]:
    pad = b" " * (INDENT * (depth + 1))
    separator = b",\n" + pad
    run: list[bytes] = []
    opened = False
    for item in items:
        if depth + 1 < MAX_DEPTH and _long_lists(item, chunk) and _splittable(item):
            if run:
                yield (b",\n" if opened else b"[\n") + pad + separator.join(run)
                opened, run = True, []
            yield (b",\n" if opened else b"[\n") + pad
            opened = True
            yield from _model(item, depth + 1, chunk)
            continue
        run.append(_indented(_to_json(item), depth + 1))
        if len(run) >= chunk:
            yield (b",\n" if opened else b"[\n") + pad + separator.join(run)
            opened, run = True, []
    if run:
        yield (b",\n" if opened else b"[\n") + pad + separator.join(run)
    yield b"\n" + b" " * (INDENT * depth) + b"]"
