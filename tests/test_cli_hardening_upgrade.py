"""`gather-job upgrade`: a file copied as it is is validated like an upgraded one.

The review's repro: subject.json with a 1.x body but schema_version 1, "1", "v1.0.3" or "2.3.3" was
"copied as it is (not 1.x)" without validation, the command said "every file written validates" and
exited 0, and `gather-job check OUT --offline` then found 13 errors. A schema_version the upgrader
reads as 1.x ("1", "v1.0.3", as packaging's Version does) is upgraded; any other copy `check` reads as
a core file is validated, and its errors name the file and make the exit code 3.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from gather_job import schema
from gather_job.cli import main
from gather_job.upgrade import command
from tests.fixtures import assets

LEGACY = Path(__file__).parent / "fixtures" / "legacy_1x"
needs_upgrader = pytest.mark.skipif(
    importlib.util.find_spec("aind_metadata_upgrader") is None,
    reason="the `upgrade` extra (aind-metadata-upgrader) is not installed",
)


@pytest.mark.parametrize(
    ("version", "legacy"),
    [
        ("1.0.3", True),
        ("0.6.2", True),
        ("1", True),
        ("v1.0.3", True),
        (" 1.2", True),
        ("2.3.3", False),
        ("10.1", False),
        ("", False),
        (1, False),
        (1.0, False),
        (None, False),
        (["1.0"], False),
    ],
)
def test_only_a_version_string_of_0x_or_1x_is_legacy(version: Any, legacy: bool) -> None:
    assert schema.is_legacy_version(version) is legacy


def test_the_copies_validated_are_those_check_reads() -> None:
    inputs = command.Inputs(name="a", legacy={"session": ("session.json", {})})
    for name in ("subject.json", "instrument_a.json", "acquisition_x.json", "notes.json", "model.json"):
        inputs.copies[name] = b"{}"
        inputs.copied_documents[name] = {"name": name}
    kinds = {name: kind for name, (kind, _) in command.to_check(inputs).items()}
    # acquisition.json comes from session.json, so check ignores the acquisition parts beside it
    assert kinds == {"subject.json": "subject", "instrument_a.json": "instrument", "model.json": "model"}


def _folder(tmp_path: Path, subject: dict[str, Any]) -> Path:
    folder = tmp_path / "legacy"
    shutil.copytree(LEGACY, folder)
    (folder / "subject.json").write_text(json.dumps(subject, indent=2))
    return folder


def _upgrade(folder: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["upgrade", str(folder), "--output-dir", str(out)], environ={})
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


@needs_upgrader
@pytest.mark.slow
@pytest.mark.parametrize("version", [1, "2.3.3"])
def test_a_1x_body_under_another_schema_version_is_named_and_exit_3(
    version: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subject = {**json.loads((LEGACY / "subject.json").read_text()), "schema_version": version}
    out = tmp_path / "out"
    code, stdout, err = _upgrade(_folder(tmp_path, subject), out, capsys)
    assert code == 3, stdout + err
    assert "every file written validates" not in stdout and "1 written but not valid yet" in stdout
    shown = json.dumps(version) if not isinstance(version, str) else version
    assert re.search(rf"subject.json\s+copied as it is \(schema_version {re.escape(shown)}.*NOT VALID", stdout)
    assert "subject_details" in stdout  # the errors themselves
    assert "set its schema_version to the 1.x version" in stdout
    assert "subject.json does not validate yet" in err
    assert json.loads((out / "subject.json").read_text()) == subject  # written as it is, to be fixed there
    assert main(["check", str(out), "--offline"], environ={}) == 3  # what the upgrade said
    capsys.readouterr()


@needs_upgrader
@pytest.mark.slow
@pytest.mark.parametrize("version", ["1", "v1.0.3"])
def test_a_loose_1x_version_string_is_upgraded(
    version: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subject = {**json.loads((LEGACY / "subject.json").read_text()), "schema_version": version}
    code, stdout, err = _upgrade(_folder(tmp_path, subject), tmp_path / "out", capsys)
    assert code == 0, stdout + err
    assert re.search(rf"subject.json\s+from subject.json\s+{re.escape(version)} -> \S+\s+valid", stdout)


@needs_upgrader
@pytest.mark.slow
def test_a_valid_2x_copy_is_validated_and_said_valid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    v2 = assets.write_asset(tmp_path / "v2", "valid", with_subject=True)
    subject = json.loads((v2 / "subject.json").read_text())
    folder = _folder(tmp_path, subject)
    (folder / "notes.json").write_text('{"note": "not metadata"}')
    code, stdout, err = _upgrade(folder, tmp_path / "out", capsys)
    assert code == 0, stdout + err
    assert "every file written validates" in stdout
    version = subject["schema_version"]
    assert re.search(
        rf"subject.json\s+copied as it is \(schema_version {re.escape(version)}, not upgraded\)\s+valid", stdout
    )
    assert re.search(r"notes.json\s+copied as it is \(not 1.x, not core metadata\)", stdout)


@pytest.mark.parametrize("version", ["1", "v1.0.3", " 1.2.0"])
def test_check_reads_a_1x_version_as_upgrade_does(asset, capsys, version: str) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True)
    subject = json.loads((folder / "subject.json").read_text())
    subject["schema_version"] = version
    (folder / "subject.json").write_text(json.dumps(subject))
    code = main(["check", str(folder), "--offline", "--format", "jsonl"], environ={})
    ids = [json.loads(line).get("id") for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert code == 3 and "gather.file.schema_1x" in ids and "gather.schema.invalid" not in ids
