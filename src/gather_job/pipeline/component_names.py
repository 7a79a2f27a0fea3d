"""`Instrument.get_component_names()`, owned: the same names in the same order, a fraction of the time.

The library's `recursive_get_all_names` asks every nested object `hasattr(obj, "object_type")`,
`hasattr(obj, "name")` and `hasattr(obj, "local_coordinate_system")`; on a pydantic model a missing
attribute goes through pydantic's `__getattr__` and an AttributeError, and each level copies its
names into its caller's list: 0.10 s for the two 100x benchmark rigs, 0.03 s here. This walk
visits the same objects in the same order and answers the same questions: an attribute is present
when the instance holds it, when its class holds it as a plain value (looked up once per class), or
when pydantic would find it among the extra or private attributes; a class attribute that is a
descriptor, or a class with its own `__getattr__`, gets the real `hasattr`. tests/test_component_names.py
pins the result to the library's on every fixture instrument and on generated objects.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from enum import Enum
from typing import Any

from pydantic import BaseModel

_MISSING = object()
_LEAVES = frozenset({str, int, float, bool, bytes, datetime, date, time, Decimal})  # no __dict__: no names
_CLASS: dict[tuple[type, str], Any] = {}  # (class, attribute) -> True, False, or None: ask hasattr


def component_names(instrument: Any) -> list[str]:
    """The names `get_component_names()` returns, without the instrument_id it appends last."""
    names: list[str] = []
    for component in instrument.components:
        _walk(component, names)
    return names


def _walk(obj: Any, names: list[str]) -> None:
    if obj is None or type(obj) in _LEAVES or isinstance(obj, Enum):
        return
    if isinstance(obj, list):
        for item in obj:
            _walk(item, names)
        return
    values = getattr(obj, "__dict__", None)
    if values is None or not _has(obj, values, "object_type"):
        return
    if _has(obj, values, "name"):
        name = obj.name
        if isinstance(name, str):
            names.append(name)
    renamed = _has(obj, values, "local_coordinate_system") or _has(obj, values, "global_coordinate_system")
    for field_name, value in list(values.items()):
        if field_name == "coordinate_system" and renamed:
            continue
        _walk(value, names)


def _has(obj: Any, values: dict[str, Any], attribute: str) -> bool:
    """`hasattr(obj, attribute)`, answered without raising where the answer is known."""
    if attribute in values:
        return True
    kind = type(obj)
    known = _CLASS.get((kind, attribute), _MISSING)
    if known is _MISSING:
        known = _CLASS[(kind, attribute)] = _class_answer(kind, attribute)
    if known is None:
        return hasattr(obj, attribute)
    if known:
        return True
    extra = obj.__pydantic_extra__
    private = obj.__pydantic_private__
    return bool((extra and attribute in extra) or (private and attribute in private))


def _class_answer(kind: type, attribute: str) -> bool | None:
    """True: a plain class value; False: pydantic would look only at extra and private attributes;
    None: only the real hasattr can tell (a descriptor, or not a plain pydantic model)."""
    if not issubclass(kind, BaseModel) or kind.__getattr__ is not BaseModel.__getattr__:  # type: ignore[attr-defined]
        return None
    for klass in kind.__mro__:
        if attribute in vars(klass):
            found = vars(klass)[attribute]
            return None if hasattr(type(found), "__get__") else True
    return None if attribute in getattr(kind, "__private_attributes__", {}) else False
