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


@pytest.mark.parametrize("link", ["original_metadata", "original_metadata/uploaded_json"])
@pytest.mark.parametrize("to", ["nowhere", "metadata"])
def test_a_link_in_the_way_of_the_kept_inputs_is_refused(asset, gather, tmp_path: Path, link: str, to: str) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True, with_procedures=True)
    (folder / "notes.txt").write_text("the user's")
    out = tmp_path / "out"
    path = out / link
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(tmp_path / "nowhere" if to == "nowhere" else folder)
    before = snapshot(folder)
    run = gather(folder, output_dir=out)
    err = " ".join(run.err.split())
    said = ("is a symbolic link" in err and "nothing was written" in err) or "where the run keeps copies" in err
    assert run.code == 2 and said, err  # refused as a link, or (the link resolves into the input) as a path
    assert snapshot(folder) == before and not (out / "subject.json").exists()
