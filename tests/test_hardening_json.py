"""JSON that is valid on paper but that Python, the schema or a writer cannot hold, from every source.

- an integer past Python's 4,300 digits (json.loads raises a bare ValueError: it was a traceback, exit 1),
  in a metadata file, the settings, a service answer and a results file;
- a huge integer the schema refuses, shown shortened in the finding;
- a value every member of a union refuses, reported once (pydantic reports it once per member);
- an `acquisition_start_tz` the schema accepts but its own `acquisition_start_time_local` fails on;
- a lone surrogate, nesting past the stack, in a service answer (a surrogate in a funding record
  passed and broke the writing of the outputs, exit 1).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job import strict_json
from gather_job.archive import listing, results
from gather_job.cli import main
from gather_job.findings import short_value
from tests.conftest import snapshot
from tests.fixtures import assets
from tests.support.fake_service import Route

LONG = "9" * 5000


def _check(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]], str]:
    before = snapshot(folder)
    code = main(["check", str(folder), "--offline", "--format", "jsonl"], environ={})
    captured = capsys.readouterr()
    assert snapshot(folder) == before
    assert "Traceback" not in captured.err
    records = [json.loads(line) for line in captured.out.splitlines() if line.strip()]
    return code, [r for r in records if r.get("type") == "finding"], captured.err


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


# -- integers too long to read ---------------------------------------------------------------------------


def test_the_decoder_names_an_integer_too_long_and_where_it_is() -> None:
    value, problems = strict_json.decode(b'{\n  "a": 1,\n  "b": -' + LONG.encode() + b"\n}")
    assert value is None and [p.kind for p in problems] == ["too_long"]
    assert problems[0].location == "line 3 column 8"
    assert "5000 digits" in problems[0].text and "5000 digits" in problems[0].values[0]
    assert problems[0].excerpt is not None and problems[0].excerpt.endswith("^")
    # the longest integer Python reads is still read
    value, problems = strict_json.decode(b'{"a": ' + b"9" * 4300 + b"}")
    assert problems == [] and value["a"] == int("9" * 4300)


def test_a_file_with_an_integer_too_long_is_a_finding_not_a_crash(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True)
    _edit(folder / "subject.json", '"subject_id"', f'"weight": {LONG}, "subject_id"')
    code, findings, _ = _check(folder, capsys)
    assert code == 3
    (found,) = [f for f in findings if f["id"] == "gather.file.number_too_long"]
    assert found["files"] == ["subject.json"] and found["location"].startswith("line ")
    assert len(json.dumps(found)) < 1000  # the value is shown shortened


def test_settings_with_an_integer_too_long_exit_2_naming_the_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    settings = tmp_path / "settings.json"
    settings.write_text('{"output_dir": "out", "service_retries": ' + LONG + "}")
    code = main(["run", "--settings-file", str(settings)], environ={})
    err = " ".join(capsys.readouterr().err.split())
    assert code == 2 and "Traceback" not in err
    assert str(settings) in err and "5000 digits" in err and LONG not in err


def test_a_huge_integer_the_schema_refuses_is_shown_shortened(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    name = next(p.name for p in sorted(folder.glob("acquisition*.json")))
    text = (folder / name).read_text()
    data = json.loads(text)
    data["subject_id"] = int("7" * 4000)  # a string field: the schema refuses it
    (folder / name).write_text(json.dumps(data))
    code, findings, _ = _check(folder, capsys)
    assert code == 3
    (found,) = [f for f in findings if f.get("location") == "subject_id" and f["files"] == [name]]
    assert found["value"] == "77777777777777777777... (an integer of 4000 digits)"


def test_short_value_keeps_ordinary_numbers_and_shortens_huge_ones() -> None:
    assert short_value(2**63) == 2**63 and short_value(-5) == -5 and short_value(True) is True
    assert short_value(10**100).endswith("(an integer of 101 digits)")
    assert short_value(-(10**100)).startswith("-1000") and "101 digits" in short_value(-(10**100))
    assert short_value(1 << 20_000) == "an integer of about 6020 digits"  # str() itself would raise here


def test_results_files_with_a_line_python_cannot_read_are_skipped_not_fatal(tmp_path: Path) -> None:
    good = json.dumps({"type": "asset", "asset": "s3://b/a1", "exit_code": 0, "counts": {"error": 0}})
    odd = '{"type": "asset", "asset": "s3://b/a2", "exit_code": ' + LONG + "}"
    deep = "[" * 100_000 + "]" * 100_000
    path = tmp_path / "results.jsonl"
    path.write_text("\n".join([good, odd, deep]) + "\n")
    assert listing.done_assets(str(path)) == {"s3://b/a1"}
    assert results.combine([path.read_text()]).assets == 1


# -- a value every member of a union refuses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "message", "hint"),
    [
        ('"Mars/Olympus"', "Invalid timezone name", None),  # the zone-name member's complaint, not "a valid integer"
        ("7.5", "got a number with a fractional part", "Use a whole number."),
        (
            "[1]",
            "Input should be a valid integer or a valid string",
            "Use a whole number, or write it as a JSON string",
        ),
    ],
)
def test_a_value_every_union_member_refuses_is_one_finding(asset, capsys, written, message, hint) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    name = next(p.name for p in sorted(folder.glob("acquisition*.json")))
    data = json.loads((folder / name).read_text())
    data["acquisition_start_tz"] = json.loads(written)
    (folder / name).write_text(json.dumps(data))
    code, findings, _ = _check(folder, capsys)
    assert code == 3
    (found,) = [f for f in findings if f.get("location") == "acquisition_start_tz"]
    assert message in found["message"]
    assert (found["hint"] or "").startswith(hint or "")


def test_errors_at_different_places_are_all_kept(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    name = next(p.name for p in sorted(folder.glob("acquisition*.json")))
    data = json.loads((folder / name).read_text())
    data["acquisition_start_tz"], data["subject_id"], data["acquisition_type"] = [1], 5, ["x"]
    (folder / name).write_text(json.dumps(data))
    _, findings, _ = _check(folder, capsys)
    places = sorted(f["location"] for f in findings if f["id"] == "gather.schema.invalid" and f["files"] == [name])
    assert places == ["acquisition_start_tz", "acquisition_type", "subject_id"]


# -- acquisition_start_tz the schema accepts but no clock shows ---------------------------------------------


@pytest.mark.parametrize(
    ("written", "severity"),
    [(99, "error"), (-24, "error"), ("+25:00", "error"), (int("9" * 40), "error"), (-13, "warning"), (15, "warning")],
)
def test_an_offset_no_clock_shows_is_named(asset, capsys, written, severity) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    name = next(p.name for p in sorted(folder.glob("acquisition*.json")))
    data = json.loads((folder / name).read_text())
    data["acquisition_start_tz"] = written
    (folder / name).write_text(json.dumps(data))
    code, findings, _ = _check(folder, capsys)
    (found,) = [f for f in findings if f["id"] == "gather.time.zone_offset"]
    assert found["severity"] == severity and found["files"] == [name] and found["location"] == "acquisition_start_tz"
    assert "'America/Los_Angeles'" in found["hint"]
    assert code == (3 if severity == "error" else 0)


def test_the_library_itself_fails_on_the_offsets_called_errors() -> None:
    from aind_data_schema.core.acquisition import Acquisition

    data = assets.acquisition_a().model_dump(mode="json")
    for offset, fails in ((23, False), (24, True), (-24, True), (99, True)):
        model = Acquisition.model_validate({**data, "acquisition_start_tz": offset})  # the schema accepts each
        try:
            _ = model.acquisition_start_time_local
        except ValueError:
            assert fails, offset
        else:
            assert not fails, offset


@pytest.mark.parametrize("written", [-12, 0, 14, -7, "-07:00", "America/Los_Angeles", None])
def test_offsets_in_use_and_zone_names_say_nothing(asset, capsys, written) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    for path in folder.glob("acquisition*.json"):
        data = json.loads(path.read_text())
        data["acquisition_start_tz"] = written
        path.write_text(json.dumps(data))
    _, findings, _ = _check(folder, capsys)
    assert not [f for f in findings if f["id"] == "gather.time.zone_offset"]


# -- service answers no file could hold --------------------------------------------------------------------

FUNDING = f"/api/v2/funding/{assets.PROJECT_NAME}"
SUBJECT = f"/api/v2/subject/{assets.SUBJECT_ID}"


def _funding_with(grant_number: str) -> bytes:
    """The funding answer with the first grant number written as given (raw JSON)."""
    records = assets.funding()
    records[0]["grant_number"] = "GRANT"
    return json.dumps(records).replace('"GRANT"', grant_number, 1).encode()


@pytest.mark.parametrize(
    ("path", "body", "said"),
    [
        (FUNDING, _funding_with('"a\\ud800b"'), "holds \\ud800 at line 1 column"),
        (FUNDING, _funding_with(LONG), "an integer too long to read"),
        (SUBJECT, b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested too deeply"),
    ],
    ids=["lone-surrogate", "long-integer", "too-deep"],
)
def test_an_answer_no_file_could_hold_is_a_service_error_not_a_crash(  # type: ignore[no-untyped-def]
    asset, gather, service, path, body, said
) -> None:
    service.add(path, Route(200, raw=body))
    run = gather(asset(), service_url=service.url)
    err = " ".join(run.err.split())
    assert run.code == 4, err
    assert "Traceback" not in err and said in err
    assert "corrected where the service reads it" in err
    assert not run.output.exists() or not any(run.output.iterdir())  # nothing written


def test_a_paired_surrogate_in_an_answer_is_a_character_not_a_problem(asset, gather, service) -> None:  # type: ignore[no-untyped-def]
    service.add(FUNDING, Route(200, raw=_funding_with('"\\ud83d\\ude00"')))
    run = gather(asset(), service_url=service.url)
    assert run.code == 0, run.err
    funding = run.file("data_description.json")["funding_source"]
    assert any(f.get("grant_number") == "\U0001f600" for f in funding)


def test_an_older_schema_version_is_validated_written_as_the_library_writes_it_and_said(asset, capsys) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True)
    subject = json.loads((folder / "subject.json").read_text())
    subject["schema_version"] = "2.0.6"
    (folder / "subject.json").write_text(json.dumps(subject))
    code, findings, _ = _check(folder, capsys)
    (note,) = [f for f in findings if f["id"] == "gather.file.schema_version_updated"]
    assert code == 0 and note["files"] == ["subject.json"] and "'2.0.6'" in note["message"]
