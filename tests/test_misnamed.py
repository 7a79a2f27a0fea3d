"""A file named almost like a core file is not read (names are exact, as the reference's), but it is named.

`Subject.json`, `subject.JSON`, `subject (1).json`, `aquisition_video.json`: the pipeline skips each, so the
scientist's metadata is silently replaced by the service's or left out of a merge. The job keeps reading
exact names only and says which near miss it saw, what it means at upload and what to rename it to.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from gather_job.findings import Findings
from gather_job.pipeline import plan
from gather_job.pipeline.misnamed import intended

MEANT = {
    # letter case, extension, spaces
    "Subject.json": "subject.json",
    "SUBJECT.JSON": "subject.json",
    "subject.JSON": "subject.json",
    "subject.json ": "subject.json",
    " procedures.json": "procedures.json",
    "subject.json.json": "subject.json",
    # copies and versions
    "subject (1).json": "subject.json",
    "subject copy.json": "subject.json",
    "procedures - Copy 2.json": "procedures.json",
    "subject_v2.json": "subject.json",
    "procedures_old.json": "procedures.json",
    "data_description-2024-03-05.json": "data_description.json",
    # separators, plurals, misspellings
    "data-description.json": "data_description.json",
    "DataDescription.json": "data_description.json",
    "data description.json": "data_description.json",
    "procedure.json": "procedures.json",
    "subjects.json": "subject.json",
    "Models.json": "model.json",
    "procedurs.json": "procedures.json",
    "aquisition.json": "acquisition.json",
    "instrumnet.json": "instrument.json",
    "Processing.json": "processing.json",
    "QualityControl.json": "quality_control.json",
    # parts of a merge
    "Acquisition_video.json": "acquisition_video.json",
    "Acquisitions.json": "acquisition.json",
    "aquisition_behavior.json": "acquisition_behavior.json",
    "instrument_ephys.JSON": "instrument_ephys.json",
    "Quality-Control_qc1.json": "quality_control_qc1.json",
}

NOT_MEANT = [
    "._subject.json",  # macOS resource fork
    ".subject.json",
    "~$subject.json",
    "#subject.json#",
    "subject.json.bak",
    "subject.txt",
    "subject",
    "notes.json",
    "mode.json",
    "project.json",
    "description.json",
    "metadata.json",
    "subject_procedures.json",
    "processing_log.json",
    "data_description_ecephys.json",
    "instruction_notes.json",
    "fo\\xffo.json",
    "ecephys",
]


@pytest.mark.parametrize("name", sorted(MEANT))
def test_a_near_miss_is_named_with_the_name_it_meant(name: str) -> None:
    meant = intended(name)
    assert meant is not None and meant[1] == MEANT[name]


@pytest.mark.parametrize("name", NOT_MEANT)
def test_other_names_are_not_guessed_at(name: str) -> None:
    assert intended(name) is None


def test_the_plan_keeps_reading_exact_names_only() -> None:
    found = plan.plan_files(["Subject.json", "acquisition_a.json", "Acquisition_b.json", "session.json", "x.json"])
    assert found.exact == {} and found.parts == {"acquisition": ["acquisition_a.json"]}
    assert found.misnamed == {
        "Subject.json": ("subject", "subject.json"),
        "Acquisition_b.json": ("acquisition", "acquisition_b.json"),
    }
    assert found.legacy == ["session.json"] and found.unused == ["x.json"]


def _report(names: list[str]) -> list[dict[str, Any]]:
    findings = Findings()
    plan.report(plan.plan_files(names), findings)
    return [item.to_json() for item in findings]


def test_a_near_miss_is_a_warning_when_its_content_is_lost_and_a_note_when_the_core_file_is_there() -> None:
    lost = _report(["Subject.json", "acquisition_a.json", "Acquisition_b.json", "DataDescription.json"])
    by_file = {item["files"][0]: item for item in lost}
    assert {item["severity"] for item in lost} == {"warning"}
    assert "from the metadata service" in by_file["Subject.json"]["message"]
    assert "left out of the acquisition.json merged from acquisition_a.json" in by_file["Acquisition_b.json"]["message"]
    assert "built from the upload's settings" in by_file["DataDescription.json"]["message"]
    assert by_file["Subject.json"]["hint"].startswith("Rename Subject.json to subject.json")
    spaced = _report(["subject.json "])  # a trailing space no one sees: the name is shown quoted
    assert spaced[0]["hint"].startswith("Rename 'subject.json ' to subject.json")
    kept = _report(["subject.json", "subject (1).json", "acquisition.json", "Acquisition_b.json"])
    assert [(item["id"], item["severity"]) for item in kept] == [("gather.resolve.unused", "info")] * 2
    assert "subject.json is used" in kept[1]["message"] or "subject.json is used" in kept[0]["message"]


def test_a_misnamed_subject_is_not_read_and_the_service_gives_it(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True)
    (folder / "subject.json").rename(folder / "Subject.json")
    run = gather(folder, service_url=service.url)
    assert run.code == 0, run.err
    subject_id = run.file("subject.json")["subject_id"]
    assert run.report()["sources"]["subject.json"]["url"].endswith(f"/api/v2/subject/{subject_id}")
    warnings = [f for f in run.report()["findings"] if f["id"] == "gather.resolve.misnamed"]
    assert [f["files"] for f in warnings] == [["Subject.json"]]


def test_check_says_which_part_is_left_out_of_the_merge(asset, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True, with_procedures=True)
    (folder / "acquisition_b.json").rename(folder / "Acquisition_b.json")
    code = main(["check", str(folder), "--offline"], environ={})
    shown = " ".join(capsys.readouterr().out.split())
    assert code in (0, 3)  # the one part left may not agree with both instrument parts: an error, said too
    assert "WARNING gather.resolve.misnamed Acquisition_b.json looks like acquisition_b.json but is not read" in shown
    assert "left out of the acquisition.json merged from acquisition_a.json" in shown
    assert "fix: Rename Acquisition_b.json to acquisition_b.json" in shown


def test_each_checks_an_asset_whose_only_metadata_is_misnamed_or_1x(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "archive"
    (root / "misnamed").mkdir(parents=True)
    (root / "misnamed" / "Subject.json").write_text("{}")
    (root / "legacy").mkdir()
    (root / "legacy" / "session.json").write_text("{}")
    (root / "data-only").mkdir()
    (root / "data-only" / "notes.json").write_text("{}")
    code = main(["check", "--each", str(root), "--offline", "--format", "jsonl", "--jobs", "1"], environ={})
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    checked = {Path(r["asset"]).name: r["exit_code"] for r in records if r["type"] == "asset"}
    assert checked == {"legacy": 3, "misnamed": 0}  # 1.x only: an error; misnamed: warned, never skipped unseen
    ids = {(Path(r["asset"]).name, r["id"]) for r in records if r["type"] == "finding"}
    assert ("misnamed", "gather.resolve.misnamed") in ids and ("legacy", "gather.resolve.legacy_only") in ids
    assert code == 3
