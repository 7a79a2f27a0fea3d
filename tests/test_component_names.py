"""The owned name walk gives exactly what aind-data-schema's `get_component_names` gives.

On every fixture instrument (seven modalities, the fixture rigs, the benchmark's two rigs), and on
generated trees of objects that answer `hasattr` in each way the library's walk meets: fields, class
values, properties that raise, pydantic extras, enums, lists, dicts, a `coordinate_system` next to
a renamed one.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict

from gather_job.pipeline import component_names
from tests.fixtures import assets, modalities


def _library(obj: Any) -> list[str]:
    from aind_data_schema.utils.validators import recursive_get_all_names

    return recursive_get_all_names(obj)


def _ours(obj: Any) -> list[str]:
    names: list[str] = []
    component_names._walk(obj, names)
    return names


def _instruments(tmp: Path) -> list[tuple[str, Any]]:
    from aind_data_schema.core.instrument import Instrument

    found = [("instrument_a", assets.instrument_a()), ("instrument_b", assets.instrument_b())]
    found.append(("instrument_c", assets.instrument_c()))
    for name, build in sorted(modalities.ASSETS.items()):
        build(tmp / name)
        for path in sorted((tmp / name).glob("instrument*.json")):
            found.append((f"{name}/{path.name}", Instrument.model_validate_json(path.read_bytes())))
    return found


@pytest.mark.slow
def test_every_fixture_instrument(tmp_path: Path) -> None:
    from bench import scenarios

    instruments = _instruments(tmp_path)
    instruments += [(f"bench {n}", scenarios.FILES[n](2)) for n in scenarios.FILES if n.startswith("instrument")]
    assert len(instruments) >= 10
    for name, instrument in instruments:
        assert component_names.component_names(instrument) == instrument.get_component_names()[:-1], name


class Colour(Enum):
    RED = "red"


class Plain(BaseModel):  # no object_type: the library does not look inside
    name: str = "plain"
    child: Any = None


class Typed(BaseModel):
    object_type: str = "Typed"
    name: Any = None
    child: Any = None
    items: list[Any] = []


class Renamed(BaseModel):
    object_type: str = "Renamed"
    name: str = "renamed"
    coordinate_system: Any = None
    local_coordinate_system: Any = None


class Extra(BaseModel):
    model_config = ConfigDict(extra="allow")


class Raising(BaseModel):
    object_type: str = "Raising"
    child: Any = None

    @property
    def name(self) -> str:
        raise AttributeError("no name here")


def _trees() -> st.SearchStrategy[Any]:
    leaves = st.one_of(
        st.none(),
        st.text(max_size=3),
        st.integers(),
        st.just(Colour.RED),
        st.builds(Plain, name=st.text(max_size=3)),
    )

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.one_of(
            st.lists(children, max_size=3),
            st.dictionaries(st.text(max_size=2), children, max_size=2),
            st.builds(Typed, name=st.one_of(st.none(), st.text(max_size=3), st.integers()), child=children),
            st.builds(Typed, items=st.lists(children, max_size=3)),
            st.builds(Plain, child=children),
            st.builds(Renamed, coordinate_system=children, local_coordinate_system=st.one_of(st.none(), children)),
            st.builds(lambda c, n: Extra(object_type="x", name=n, child=c), children, st.text(max_size=3)),
            st.builds(lambda c: Extra(name="no type", child=c), children),
            st.builds(Raising, child=children),
            st.builds(lambda c: Typed.model_construct(name="built", child=c), children),
        )

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(_trees())
def test_generated_trees(tree: Any) -> None:
    assert _ours(tree) == _library(tree)
    assert _ours([tree, tree]) == _library([tree, tree])
