"""Every broken input of the corpus: exit 2 or 3, never 1, no traceback, the file named,
the input folder unchanged, and no core file written (raise_if_invalid=true)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from gather_job.cli import main
from tests.conftest import base_settings, snapshot
from tests.support import corpus
from tests.support.reliability import record

CASES = corpus.all_cases()


def _params() -> list[object]:
    """Every case; all but the first of each category are `slow` (the inner loop keeps one of each)."""
    seen: set[str] = set()
    params: list[object] = []
    for case in CASES:
        category = corpus.category(case)
        marks = [pytest.mark.slow] if category in seen else []
        seen.add(category)
        params.append(pytest.param(case, id=case.name, marks=marks))
    return params


def test_the_corpus_is_large_and_varied() -> None:
    assert len(CASES) >= 500
    assert len({corpus.category(c) for c in CASES}) >= 20


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("template") / "asset"
    folder.mkdir()
    for name, raw in corpus.valid_files().items():
        (folder / name).write_bytes(raw)
    yield folder


def _run(
    case: corpus.Case, template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, Path]:
    folder = tmp_path / "asset"
    shutil.copytree(template, folder)
    output = tmp_path / "out"
    settings = base_settings(folder, output, None)
    settings_file = tmp_path / "settings.json"
    if case.kind == "file":
        corpus.apply(case, folder, tmp_path / "outside")
        settings_file.write_text(json.dumps(settings))
    elif isinstance(case.content, bytes):
        settings_file.write_bytes(case.content)
    else:
        settings_file.write_text(case.content(settings))
    before = snapshot(folder)
    code = main(["run", "--settings-file", str(settings_file)], environ={})
    err = capsys.readouterr().err
    assert snapshot(folder) == before, "the input folder changed"
    return code, err, output


@pytest.mark.parametrize("case", _params())
def test_broken_input(case: corpus.Case, template: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err, output = _run(case, template, tmp_path, capsys)
    expected = 2 if case.kind == "settings" else 3
    record(corpus.category(case), code == expected and "Traceback" not in err)
    assert code == expected, err
    assert "Traceback" not in err
    assert (case.target if case.kind == "file" else "settings") in err
    written = sorted(p.name for p in output.iterdir()) if output.exists() else []
    assert written in ([], ["gather_report.json"])
