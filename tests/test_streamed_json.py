"""The core files written in pieces (`streamed_json`) are byte for byte `model_dump_json(indent=3)`.

Every model of every fixture (the variants of tests/fixtures/assets/, the seven modalities' example
assets, the benchmark's two-rig asset and its merged files), cut at several chunk sizes: 1 and 2 cut
every list and every item holding one, 64 is what the job uses.
"""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bench import scenarios
from pydantic import BaseModel

from gather_job import schema, streamed_json
from gather_job.job import CoreFiles
from tests.fixtures import assets, modalities

CHUNKS = (1, 2, 3, streamed_json.CHUNK)


def _kind(name: str) -> str | None:
    stem = Path(name).stem
    return next((kind for kind in schema.CORE_FILES if stem == kind or stem.startswith(f"{kind}_")), None)


def _load(folder: Path) -> Iterator[tuple[str, BaseModel]]:
    for path in sorted(folder.glob("*.json")):
        kind = _kind(path.name)
        if kind is not None:
            yield path.name, schema.model_class(kind).model_validate_json(path.read_bytes())


def _models(tmp: Path) -> Iterator[tuple[str, BaseModel]]:
    for name, content in sorted(assets.asset_files("valid", with_subject=True, with_procedures=True).items()):
        if isinstance(content, BaseModel):
            yield f"assets/{name}", content
    for asset, build in sorted(modalities.ASSETS.items()):
        folder = tmp / asset
        build(folder)
        yield from ((f"{asset}/{name}", model) for name, model in _load(folder))
    bench = scenarios.write(scenarios.build(3), tmp / "bench")
    loaded = dict(_load(bench))
    yield from ((f"bench/{name}", model) for name, model in loaded.items())
    for kind in ("instrument", "acquisition"):
        parts = [model for name, model in sorted(loaded.items()) if name.startswith(kind)]
        yield f"bench/{kind}.json (merged with +)", functools.reduce(operator.add, parts)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, BaseModel]]:
    return list(_models(tmp_path_factory.mktemp("streamed")))


@pytest.mark.parametrize("chunk", CHUNKS)
def test_the_pieces_are_the_dump(models: list[tuple[str, BaseModel]], chunk: int) -> None:
    assert len(models) >= 28
    for name, model in models:
        whole = type(model).__pydantic_serializer__.to_json(model, indent=3)
        assert whole == model.model_dump_json(indent=3).encode("utf-8"), name
        pieces = list(streamed_json.chunks(model, chunk))
        assert b"".join(pieces) == whole, f"{name} at chunk {chunk}"


def test_large_files_are_cut_and_small_ones_are_not(models: list[tuple[str, BaseModel]]) -> None:
    sizes = {name: [len(p) for p in streamed_json.chunks(model, 2)] for name, model in models}
    merged = sizes["bench/acquisition.json (merged with +)"]
    assert len(merged) > 10 and max(merged) < sum(merged) / 4
    small = [len(p) for p in streamed_json.chunks(dict(models)["assets/subject.json"])]
    assert len(small) == 1


class _Base(BaseModel):
    name: str


class _Child(_Base):
    extra: int = 1


class _Holder(BaseModel):
    things: list[_Base]  # a list of a base class serializes a subclass item as the base: not alone
    other: list[int]


def test_a_list_whose_items_would_serialize_otherwise_alone_is_written_whole() -> None:
    holder = _Holder(things=[_Child(name=str(i)) for i in range(5)], other=list(range(5)))
    whole = type(holder).__pydantic_serializer__.to_json(holder, indent=3)
    assert b'"extra"' not in whole  # the declared type decides in the list
    assert b"".join(streamed_json.chunks(holder, 1)) == whole


def test_core_files_give_the_same_bytes_and_checksum_in_pieces() -> None:
    from types import SimpleNamespace

    from gather_job.pipeline.documents import Document

    files = assets.asset_files("valid")
    parts = [model for name, model in sorted(files.items()) if name.startswith("acquisition")]
    merged = functools.reduce(operator.add, parts)  # type: ignore[arg-type]
    gathered: Any = SimpleNamespace(
        documents={"acquisition": Document("acquisition", "acquisition.json", model=merged)}
    )
    streamed_files, whole_files = CoreFiles(gathered), CoreFiles(gathered)
    streamed = b"".join(streamed_files.pieces("acquisition.json"))
    assert streamed == whole_files["acquisition.json"] == merged.model_dump_json(indent=3).encode("utf-8")
    assert streamed_files.sums == whole_files.sums
    assert json.loads(streamed)["object_type"] == "Acquisition"
