"""What `check` says at a desk points at the right file and the right fix (the desk probe's M4-M6, L2, L7, L8).

The asset is the behavior example (tests/fixtures/modalities), gathered offline into a folder as the
pipeline uploads it (its gather_report.json is there, so its files are final); each test changes one
thing in a copy of it.
"""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from gather_job.storage.folder import InputProblem, LocalFolder
from tests.fixtures import modalities

FUNDING = [
    {
        "object_type": "Funding",
        "funder": {
            "name": "Allen Institute",
            "abbreviation": "AI",
            "registry": "Research Organization Registry (ROR)",
            "registry_identifier": "03cpe7c52",
        },
    }
]
PEOPLE = [{"object_type": "Person", "name": "Ada Example"}]


@pytest.fixture(scope="module")
def gathered_once(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("probe_desk")
    source, out = root / "source", root / "gathered"
    settings = modalities.behavior(source)
    modalities.write_subject_and_procedures(source, settings["subject_id"])
    settings.update(metadata_dir=str(source), output_dir=str(out), offline=True)
    settings["data_description_settings"].update(funding_source=FUNDING, investigators=PEOPLE)
    assert main(["run", "--job-settings", json.dumps(settings)], environ={}) == 0
    return out


@pytest.fixture
def gathered(gathered_once: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "behavior_765432"
    shutil.copytree(gathered_once, folder)
    return folder


def _edit(folder: Path, name: str, change: Any) -> None:
    data = json.loads((folder / name).read_text())
    change(data)
    (folder / name).write_text(json.dumps(data))


def _check(folder: Path | str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
    code = main(["check", str(folder), "--offline", "--format", "jsonl", "-v"], environ={})
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    return code, [r for r in records if r.get("type") == "finding"]


def _shift(text: str, **delta: float) -> str:
    return (datetime.fromisoformat(text) + timedelta(**delta)).isoformat()


def test_the_gathered_asset_is_clean(gathered: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, found = _check(gathered, capsys)
    assert code == 0 and [f for f in found if f["severity"] != "info"] == []


# -- M4: the fix names what changes something here ---------------------------------------------------


def test_a_modality_missing_from_a_data_description_file_is_added_in_the_file(
    gathered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _edit(gathered, "data_description.json", lambda d: d.update(modalities=[d["modalities"][0]]))
    _, found = _check(gathered, capsys)
    hints = [f["hint"] for f in found if f["id"] == "gather.modalities.not_covered"]
    assert hints and all("`modalities` in data_description.json" in h for h in hints)
    assert not any("data_description_settings" in h.split("(")[0] for h in hints)


def test_an_undescribed_folder_of_an_uploaded_asset_is_not_told_to_leave_the_upload(
    gathered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (gathered / "pophys").mkdir()
    (gathered / "pophys" / "data.bin").write_bytes(b"\0")
    _, found = _check(gathered, capsys)
    (undescribed,) = [f for f in found if f["id"] == "gather.data.undescribed_folder"]
    assert "out of the upload" not in undescribed["hint"] and "already uploaded" in undescribed["hint"]
    assert "`modalities` in data_description.json" in undescribed["hint"]


# -- M5: filed under the file that holds the problem, once -------------------------------------------


def test_a_missing_subject_of_an_uploaded_asset_is_one_error(
    gathered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (gathered / "subject.json").unlink()
    code, found = _check(gathered, capsys)
    errors = [(f["id"], f["files"]) for f in found if f["severity"] == "error"]
    assert code == 3 and errors == [("gather.resolve.missing", ["subject.json"])]


def test_the_name_and_end_time_warning_is_filed_under_data_description(
    gathered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    day = modalities.BEHAVIOR_START.date()
    earlier = (day - timedelta(days=1)).isoformat()
    _edit(gathered, "data_description.json", lambda d: d.update(name=d["name"].replace(day.isoformat(), earlier)))
    _, found = _check(gathered, capsys)
    (warning,) = [f for f in found if "Creation time from data_description.name" in f["message"]]
    assert warning["files"] == ["data_description.json", "acquisition.json"]


def test_a_time_outside_the_acquisition_names_its_file_and_the_acquisition_only(
    gathered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def late(data: dict[str, Any]) -> None:
        stream = data["data_streams"][0]
        stream["stream_end_time"] = _shift(data["acquisition_end_time"], hours=1)

    _edit(gathered, "acquisition.json", late)
    _, found = _check(gathered, capsys)
    (error,) = [f for f in found if f["id"] == "gather.metadata.time_constraints"]
    assert error["files"] == ["acquisition.json"] and error["location"] == "data_streams[0].stream_end_time"


# -- M6: the field, and what is wrong with it ----------------------------------------------------------


def test_a_missing_instrument_id_is_named_with_its_fix(gathered: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(gathered, "acquisition.json", lambda d: d.pop("instrument_id"))
    _, found = _check(gathered, capsys)
    (error,) = [f for f in found if f["id"] == "gather.schema.invalid"]
    assert error["location"] == "instrument_id" and error["value"] is None
    assert error["hint"].startswith("Add 'instrument_id' to acquisition.json") and "instrument.json" in error["hint"]


def test_an_acquisition_ending_before_it_starts_is_said_so(gathered: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _edit(
        gathered,
        "acquisition.json",
        lambda d: d.update(acquisition_end_time=_shift(d["acquisition_start_time"], hours=-1)),
    )
    code, found = _check(gathered, capsys)
    errors = [f for f in found if f["severity"] == "error"]
    assert code == 3 and [(f["id"], f["location"]) for f in errors] == [
        ("gather.time.end_before_start", "acquisition_end_time")
    ]
    assert "is before acquisition_start_time" in errors[0]["message"]


@pytest.mark.parametrize(
    ("holder", "start", "end"),
    [
        ("data_streams", "stream_start_time", "stream_end_time"),
        ("stimulus_epochs", "stimulus_start_time", "stimulus_end_time"),
    ],
)
def test_a_stream_or_epoch_ending_before_it_starts_is_one_finding(
    gathered: Path, capsys: pytest.CaptureFixture[str], holder: str, start: str, end: str
) -> None:
    def swap(data: dict[str, Any]) -> None:
        item = data[holder][0]
        item[start], item[end] = item[end], item[start]

    data = json.loads((gathered / "acquisition.json").read_text())
    if not data.get(holder) or data[holder][0][start] == data[holder][0][end]:
        pytest.skip(f"the behavior asset has no {holder} with a time range")
    _edit(gathered, "acquisition.json", swap)
    _, found = _check(gathered, capsys)
    errors = [(f["id"], f["location"]) for f in found if f["severity"] == "error"]
    assert errors == [("gather.time.end_before_start", f"{holder}[0].{end}")]


# -- L2: a broken link is called one -------------------------------------------------------------------


def test_a_broken_link_is_called_broken(tmp_path: Path) -> None:
    (tmp_path / "instrument_video.json").symlink_to(tmp_path / "gone" / "instrument_video.json")
    (tmp_path / "acquisition_x.json").symlink_to("acquisition_x.json")  # loops back on itself
    folder = LocalFolder(tmp_path)
    with pytest.raises(InputProblem) as broken:
        folder.read("instrument_video.json")
    assert broken.value.id == "gather.file.broken_link" and "does not exist" in broken.value.message
    assert "outside" not in broken.value.message and "link" in broken.value.hint
    with pytest.raises(InputProblem) as loop:
        folder.read("acquisition_x.json")
    assert loop.value.id == "gather.file.broken_link" and "loops" in loop.value.message
    assert folder.location("acquisition_x.json").endswith("acquisition_x.json")  # no RuntimeError (exit 1)


def test_a_core_file_linking_to_itself_is_a_finding_not_a_crash(
    gathered: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (gathered / "procedures.json").unlink()
    (gathered / "procedures.json").symlink_to("procedures.json")
    code, found = _check(gathered, capsys)
    assert code == 3 and "gather.file.broken_link" in {f["id"] for f in found}


# -- L7: a near miss of a modality folder -------------------------------------------------------------


def test_a_missing_modality_folder_names_a_near_miss(gathered: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("behavior", "behavior_videos"):
        (gathered / name).mkdir()
        (gathered / name / "data.bin").write_bytes(b"\0")
    _, found = _check(gathered, capsys)
    (missing,) = [f for f in found if f["id"] == "gather.data.missing_folder"]
    assert "did you mean 'behavior_videos'?" in missing["message"]
    assert "rename it to behavior-videos/" in missing["hint"]


# -- L8: the upgrade, with the path, once --------------------------------------------------------------


def test_the_upgrade_fix_names_the_folder_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "legacy asset"
    folder.mkdir()
    for name, data in {
        "rig.json": {"schema_version": "1.0.1", "rig_id": "428_FIP1_20231003", "modalities": []},
        "session.json": {"schema_version": "1.0.1", "subject_id": "123456"},
        "subject.json": {"schema_version": "1.0.3", "subject_id": "123456"},
    }.items():
        (folder / name).write_text(json.dumps(data))
    _, found = _check(folder, capsys)
    hints = [f["hint"] for f in found if f["id"] in ("gather.resolve.legacy_only", "gather.file.schema_1x")]
    full = [h for h in hints if "gather-job upgrade" in h]
    assert len(hints) == 3 and len(full) == 1
    assert f"gather-job upgrade '{folder}' --output-dir '{folder}-v2'" in full[0] and " DIR" not in full[0]
    assert all("aind-metadata-upgrader" in h for h in hints)


def test_the_sources_table_says_what_was_not_read_or_merged(tmp_path: Path) -> None:
    """A part that could not be read was listed as if merged ("merged from a + b")."""
    from gather_job.pipeline.documents import Document
    from gather_job.render import sources

    documents = {
        "instrument": Document("instrument", "instrument.json", origin={"from": "merged", "parts": ["a", "b"]}),
        "subject": Document("subject", "subject.json", origin={"from": "file", "file": "subject.json"}),
        "procedures": Document(
            "procedures", "procedures.json", data={"x": 1}, origin={"from": "file", "file": "procedures.json"}
        ),
    }
    text = sources(documents, [], "asset")
    assert "merged from a + b  (not merged: see the errors)" in text
    assert "from subject.json  (not read: see the errors)" in text
    assert "from procedures.json  (not valid: see the errors)" in text
