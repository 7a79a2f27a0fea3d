"""Something in the way of an output path is found before anything is written (it was found midway:
five core files written, no report, and a message naming only the output folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import snapshot


@pytest.mark.parametrize(
    ("obstacle", "said"),
    [
        ("original_metadata", "is a file, but the run keeps its inputs in a folder"),
        ("original_metadata/uploaded_json", "is a file, but the run keeps its inputs in a folder"),
        ("original_metadata/uploaded_json/acquisition_a.json/", "is a folder, but the run writes a file"),
        ("subject.json/", "is a folder, but the run writes a file"),
        ("gather_report.json/", "is a folder, but the run writes a file"),
    ],
)
def test_an_obstacle_is_refused_before_anything_is_written(asset, gather, tmp_path: Path, obstacle, said) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "out"
    path = out / obstacle.rstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    if obstacle.endswith("/"):
        path.mkdir()
    else:
        path.write_text("in the way")
    before = snapshot(out)
    run = gather(asset(with_subject=True, with_procedures=True), output_dir=out)
    err = " ".join(run.err.split())
    assert run.code == 2 and said in err and str(path) in err and "nothing was written" in err
    assert snapshot(out) == before
