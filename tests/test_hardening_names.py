"""Odd names and odd settings: never a traceback, never invalid UTF-8 out, always the setting named.

File names come from the file system as bytes; the job shows them to people, writes them to JSON and
matches them against core file names. Settings come from JSON, the environment and argv, where a
NUL, a lone surrogate (undecodable argv bytes), a broken URL or "inf" can all be typed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gather_job.cli import main
from gather_job.settings.model import JobSettings
from tests.conftest import base_settings
from tests.support.aws_fixtures import Aws
from tests.support.reliability import record

ODD_NAMES = {
    b"acquisition_\xff.json": ("gather.file.bad_name", "acquisition_\\xff.json"),
    b"instrument_\xc3(.json": ("gather.file.bad_name", "instrument_\\xc3(.json"),
    b"quality_control_\x1b[31mred.json": ("gather.file.bad_name", "quality_control_\\x1b[31mred.json"),
    b"acquisition_line\nbreak.json": ("gather.file.bad_name", "acquisition_line\\nbreak.json"),
    b"acquisition_\xe2\x80\xaeevil.json": ("gather.file.bad_name", "acquisition_\\u202eevil.json"),
    b"fo\xffo.json": ("gather.resolve.unused", "fo\\xffo.json"),
}


def _add_odd_files(folder: Path) -> None:
    base = os.fsencode(folder)
    for name in [*ODD_NAMES, b"notes\xfe.txt"]:
        with open(base + b"/" + name, "wb") as handle:
            handle.write(b"{}")


def _job(argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "gather_job", *argv], capture_output=True, timeout=120, env={"PATH": os.environ["PATH"]}
    )


def _found(findings: list[dict[str, Any]]) -> dict[str, set[str]]:
    """File name -> the ids of the findings that name it."""
    found: dict[str, set[str]] = {}
    for finding in findings:
        for name in finding.get("files") or ():
            found.setdefault(name, set()).add(finding["id"])
    return found


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "check"])
def test_undecodable_and_control_character_names_are_findings_in_valid_utf8(  # type: ignore[no-untyped-def]
    asset, tmp_path: Path, command: str
) -> None:
    folder = asset()
    _add_odd_files(folder)
    settings = base_settings(folder, tmp_path / "out", None)
    argv = ["run", "--job-settings", json.dumps(settings)]
    if command == "check":
        argv = ["check", str(folder), "--offline", "--json", "--job-settings", json.dumps(settings)]
    done = _job(argv)
    out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")  # strict: must be valid UTF-8
    if command == "run":
        report = (tmp_path / "out" / "gather_report.json").read_bytes().decode("utf-8")
        findings = json.loads(report)["findings"]
    else:
        findings = [json.loads(line) for line in out.splitlines() if '"id"' in line]
    found = _found(findings)
    expected = {shown: finding for finding, shown in ODD_NAMES.values()}
    missing = {shown: finding for shown, finding in expected.items() if finding not in found.get(shown, set())}
    ok = done.returncode == 3 and not missing and "Traceback" not in err and "\x1b" not in out + err
    record(f"file names with undecodable bytes or control characters ({command})", ok)
    assert ok, (done.returncode, missing, err[-1500:])


def test_the_folder_reads_no_escaped_name_and_keeps_the_real_one(tmp_path: Path) -> None:
    from gather_job.storage.folder import InputProblem, LocalFolder

    (tmp_path / "a.json").write_text("{}")
    with open(os.fsencode(tmp_path) + b"/acquisition_\xff.json", "wb") as handle:
        handle.write(b"{}")
    folder = LocalFolder(tmp_path)
    names = folder.names()
    assert names == ["a.json", "acquisition_\\xff.json"] and all(n.encode("utf-8") for n in names)
    with pytest.raises(InputProblem) as caught:
        folder.read("acquisition_\\xff.json")
    assert caught.value.id == "gather.file.bad_name" and "acquisition_\\xff.json" in caught.value.message
    assert os.fsencode(folder.location("acquisition_\\xff.json")).endswith(b"acquisition_\xff.json")


PATHS = [
    ("metadata_dir", "/tmp/a\x00b"),
    ("output_dir", "out\x00"),
    ("report", "/tmp/report\x00.json"),
    ("job_type_source", "types\x00.json"),
    ("metadata_dir", "/tmp/\udcff"),
    ("output_dir", "/tmp/\ud800x"),
    ("report", "r\udc80.json"),
]


@pytest.mark.parametrize(("setting", "value"), PATHS)
def test_nul_or_undecodable_paths_are_usage_errors(
    setting: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = {"metadata_dir": str(tmp_path), "output_dir": str(tmp_path / "out"), "offline": True, setting: value}
    code = main(["run", "--job-settings", json.dumps(settings)], environ={})
    err = capsys.readouterr().err
    with pytest.raises(ValidationError):
        JobSettings(**{setting: value})
    ok = code == 2 and setting in err and "Traceback" not in err
    record(f"{setting} with a NUL or undecodable bytes", ok)
    assert ok, err


@pytest.mark.slow
def test_an_undecodable_folder_on_the_command_line_is_a_usage_error(tmp_path: Path) -> None:
    """argv bytes that are not UTF-8 arrive as lone surrogates (PEP 383)."""
    folder = os.fsencode(tmp_path) + b"/asset-\xff"
    os.mkdir(folder)
    done = subprocess.run(
        [os.fsencode(sys.executable), b"-m", b"gather_job", b"check", folder, b"--offline"],
        capture_output=True,
        timeout=60,
        env={"PATH": os.environ["PATH"]},
    )
    err = done.stderr.decode("utf-8")
    ok = done.returncode == 2 and "metadata_dir" in err and ("\\xff" in err or "\\udcff" in err)
    record("metadata_dir from argv with bytes that are not UTF-8", ok and "Traceback" not in err)
    assert ok and "Traceback" not in err, err


@pytest.mark.parametrize("path", ["settings\x00.json", "settings-\ud800.json"])
def test_a_settings_file_path_with_nul_or_a_surrogate_is_a_usage_error(
    path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", "--settings-file", path], environ={})
    err = capsys.readouterr().err
    shown = path.encode("unicode_escape").decode("ascii")
    ok = code == 2 and "Traceback" not in err and shown in err and "settings file" in err
    err.encode("utf-8")  # strict: the message itself is valid UTF-8
    record("--settings-file path with a NUL or a lone surrogate", ok)
    assert ok, err


URLS = [
    ("metadata_service_url", "http://[::1"),
    ("metadata_service_url", "http://host:99999"),
    ("metadata_service_url", "http://host:abc"),
    ("metadata_service_url", "http://host:0"),
    ("metadata_service_url", "http://host/api\r\nX-Injected: 1"),
    ("metadata_service_url", "http://host /api"),
    ("metadata_service_url", "http://ho\tst"),
    ("metadata_service_url", "http://host/\x7f"),
    ("metadata_service_url", "http://host/?q=1"),
    ("metadata_service_url", "aind-metadata-service"),
    ("metadata_service_url", "http://"),
    ("s3_endpoint_url", "http://[::1"),
    ("s3_endpoint_url", "http://127.0.0.1:70000"),
    ("s3_endpoint_url", "http://127.0.0.1:5000\n"),
    ("s3_endpoint_url", "ftp://127.0.0.1"),
    ("ssm_endpoint_url", "http://h:-1"),
    ("ssm_endpoint_url", "https://h h"),
    ("ssm_endpoint_url", "127.0.0.1:5000"),
]


@pytest.mark.parametrize(("setting", "value"), URLS)
def test_broken_urls_are_usage_errors_naming_the_setting(
    setting: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = {setting: value, "offline": False}
    code = main(["check", str(tmp_path), "--job-settings", json.dumps(settings)], environ={})
    err = capsys.readouterr().err
    with pytest.raises(ValidationError):
        JobSettings(**{setting: value})
    ok = code == 2 and setting in err and "Traceback" not in err and "\r" not in err.replace("\r\n", "\n")
    record(f"{setting} {value!r}", ok)
    assert ok, err


def test_the_service_client_refuses_broken_urls_itself() -> None:
    """The Python API can build a MetadataService without JobSettings: the same checks hold."""
    from gather_job.errors import UsageError
    from gather_job.service import MetadataService

    for value in ("http://[::1", "http://host:99999", "http://host/\r\n", "http://h h", "http://host/?q=1"):
        with pytest.raises(UsageError, match="metadata_service_url"):
            MetadataService(value, {"subject": "/s"})


SECONDS = ["inf", "Infinity", "-inf", "nan", "NaN", " 1e999 ", "1e400", True, 86401, 1e300, "100000", 1e-9]


@pytest.mark.parametrize("value", SECONDS, ids=[repr(v) for v in SECONDS])
@pytest.mark.parametrize(
    "setting", ["service_timeout_s", "service_procedures_timeout_s", "service_backoff_s", "service_total_timeout_s"]
)
def test_non_finite_or_absurd_seconds_are_refused(
    setting: str, value: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if setting == "service_backoff_s" and value == 1e-9:
        assert JobSettings(service_backoff_s=1e-9).service_backoff_s == 1e-9  # a tiny backoff is fine
        return
    code = main(["check", str(tmp_path), "--offline", "--job-settings", json.dumps({setting: value})], environ={})
    err = capsys.readouterr().err
    env_code = main(["check", str(tmp_path), "--offline"], environ={f"GATHER_{setting.upper()}": str(value)})
    env_err = capsys.readouterr().err
    with pytest.raises(ValidationError):
        JobSettings(**{setting: value})
    ok = code == 2 and env_code == 2 and setting in err and setting in env_err and "Traceback" not in err + env_err
    record(f"{setting} = {value!r} (JSON string, environment, Python)", ok)
    assert ok, err + env_err


def test_ordinary_values_still_pass() -> None:
    settings = JobSettings(
        service_timeout_s="60",  # type: ignore[arg-type]
        service_procedures_timeout_s=300,
        service_backoff_s=0,
        service_total_timeout_s=86400,
        metadata_service_url="https://user:pw@aind-metadata-service.example:8443/prefix/",
        s3_endpoint_url="http://[::1]:9000",
        ssm_endpoint_url="HTTPS://ssm.us-west-2.amazonaws.com",
        metadata_dir="données/asset",
    )
    assert settings.service_timeout_s == 60 and settings.metadata_dir == "données/asset"


@pytest.mark.slow
def test_s3_keys_with_control_or_format_characters_are_shown_escaped_and_not_read(aws: Aws) -> None:
    from gather_job.storage.folder import InputProblem
    from gather_job.storage.s3_folder import S3Folder
    from gather_job.storage.s3uri import parse

    bucket = aws.bucket()
    for key in ("a/acquisition_\u202eevil.json", "a/instrument_\u200bzero.json", "a/plain.json"):
        aws.s3.put_object(Bucket=bucket, Key=key, Body=b"{}")
    folder = S3Folder(parse(f"s3://{bucket}/a/", "metadata_dir"), aws.s3)
    names = folder.names()
    refused = []
    for name in names:
        try:
            folder.read(name)
        except InputProblem as problem:
            refused.append((name, problem.id))
    expected = [
        ("acquisition_\\u202eevil.json", "gather.file.bad_name"),
        ("instrument_\\u200bzero.json", "gather.file.bad_name"),
    ]
    ok = names == ["acquisition_\\u202eevil.json", "instrument_\\u200bzero.json", "plain.json"] and refused == expected
    record("S3 keys with format characters (right-to-left override, zero width)", ok)
    assert ok, (names, refused)


LONE = '"\\ud800"'  # the JSON escape of a lone surrogate, as a file holds it


@pytest.mark.slow
@pytest.mark.parametrize("command", ["run", "check"])
def test_a_lone_surrogate_escape_in_a_metadata_file_is_an_encoding_finding(  # type: ignore[no-untyped-def]
    asset, tmp_path: Path, command: str
) -> None:
    """JSON allows `\\ud800` alone; decoded it is a str no UTF-8 writer takes, so it must be a finding
    (located at the escape), not a crash when the outputs are encoded."""
    folder = asset(with_subject=True, with_procedures=True)
    part = folder / "acquisition_a.json"
    text = part.read_text()
    assert '"notes": null' in text
    part.write_text(text.replace('"notes": null', f'"notes": {LONE}', 1))
    settings = json.dumps(base_settings(folder, tmp_path / "out", None))
    argv = ["run", "--job-settings", settings]
    if command == "check":
        argv = ["check", str(folder), "--offline", "--format", "jsonl", "--job-settings", settings]
    done = _job(argv)
    out, err = done.stdout.decode("utf-8"), done.stderr.decode("utf-8")  # strict: valid UTF-8
    if command == "run":
        findings = json.loads((tmp_path / "out" / "gather_report.json").read_bytes().decode("utf-8"))["findings"]
    else:
        findings = [json.loads(line) for line in out.splitlines() if '"id"' in line]
    found = [f for f in findings if f["id"] == "gather.file.encoding" and f["files"] == ["acquisition_a.json"]]
    ok = done.returncode == 3 and len(found) == 1 and "Traceback" not in err
    ok = ok and "\\ud800" in found[0]["message"] and "line" in found[0]["message"] and "replace" in found[0]["message"]
    record(f"a lone surrogate escape (\\ud800) in a metadata file ({command})", ok)
    assert ok, (done.returncode, found, err[-1500:])


@pytest.mark.slow
@pytest.mark.parametrize(
    "where", ["settings file", "--job-settings", "environment (undecodable bytes)", "flag (undecodable bytes)"]
)
def test_a_lone_surrogate_in_settings_is_a_usage_error(tmp_path: Path, where: str) -> None:
    env = {"PATH": os.environ["PATH"]}
    argv: list[bytes] = [os.fsencode(sys.executable), b"-m", b"gather_job", b"run", b"--output-dir", b"out"]
    if where == "settings file":
        (tmp_path / "s.json").write_text('{"subject_id": "\\ud800", "offline": true}')
        argv += [b"--settings-file", b"s.json"]
    elif where == "--job-settings":
        argv += [b"--job-settings", b'{"subject_id": "\\udfff"}']
    elif where.startswith("environment"):
        env["GATHER_SUBJECT_ID"] = "12\udcff"  # os.fsencode gives the byte 0xff back
    else:
        argv += [b"--subject-id", b"12\xff"]
    done = subprocess.run(
        argv, capture_output=True, timeout=60, cwd=tmp_path, env={k: os.fsencode(v) for k, v in env.items()}
    )
    err = done.stderr.decode("utf-8")  # strict
    ok = done.returncode == 2 and "subject_id" in err and "Traceback" not in err and not (tmp_path / "out").exists()
    record(f"a lone surrogate in the settings ({where})", ok)
    assert ok, err


@pytest.mark.parametrize(
    ("raw", "lone"),
    [
        (b'{"a": "\\ud800"}', True),
        (b'{"a": "\\uDFFF"}', True),  # upper-case hex is the same escape
        (b'{"\\udc00": 1}', True),  # in a key
        (b'{"a": ["x", {"b": "\\ud83d"}]}', True),  # a high half without its low half, deep inside
        (b'{"a": "\\ude00\\ud83d"}', True),  # halves in the wrong order
        (b'{"a": "\\ud83d\\ude00"}', False),  # a pair: one character
        (b'{"a": "\\\\ud800"}', False),  # an escaped backslash, then text
        (b'{"a": "\\u00e9 \\uD7FF \\uE000"}', False),  # escapes just outside the surrogate range
        ('{"a": "x\udc80"}', True),  # a str handed in (argv, environment) may hold the character itself
    ],
)
def test_lone_surrogates_are_found_without_walking_clean_files(raw: bytes | str, lone: bool) -> None:
    """The decoded tree is walked only when the text holds a surrogate escape (or, given as a str, a
    surrogate character): clean files pay a search in C, not a walk in Python."""
    from gather_job import strict_json

    value, problems = strict_json.decode(raw)
    assert [p.kind for p in problems] == (["encoding"] if lone else [])
    assert (value is None) == lone
    clean = '{"a": "caf\u00e9", "b": ["\\\\n", 1.5, {"c": null}]}'  # no \\u escape at all: no walk
    assert not strict_json._may_hold_surrogate(clean, str_given=False)
    assert not strict_json._may_hold_surrogate(clean, str_given=True)
