"""Inputs are never written, and no special file is replaced: `report`, `check --output` and output_dir
that would touch the metadata folder, a file read from it, a settings file, a folder, a socket or a device
are refused (exit 2) before any work; /dev/stdout, /dev/null and FIFOs are written into, never renamed over.
Path slips (empty, spaces at the ends, control characters, an unexpanded `~`) are refused too."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from gather_job.cli import main
from gather_job.settings.model import JobSettings
from tests.conftest import base_settings, snapshot, tree_hash
from tests.support.reliability import record


def _run(settings: dict[str, Any], capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["run", "--job-settings", json.dumps(settings), *argv], environ={})
    return code, " ".join(capsys.readouterr().err.split())


@pytest.fixture
def folder(asset) -> Path:  # type: ignore[no-untyped-def]
    return asset(with_subject=True, with_procedures=True)  # type: ignore[no-any-return]


def _temporaries(root: Path) -> list[Path]:
    return list(root.rglob("*gather-tmp*"))


REFUSED_REPORTS = {
    "an input file": lambda folder, out, tmp: folder / "subject.json",
    "a new file in the metadata folder": lambda folder, out, tmp: folder / "notes.json",
    "a symlink to an input file": lambda folder, out, tmp: _link(tmp / "link.json", folder / "subject.json"),
    "a file under a symlink to the metadata folder": lambda folder, out, tmp: _link(tmp / "alias", folder) / "r.json",
    "the metadata folder itself": lambda folder, out, tmp: folder,
    "the output's gather_report.json": lambda folder, out, tmp: out / "gather_report.json",
    "another file in output_dir": lambda folder, out, tmp: out / "copy.json",
    "an existing folder": lambda folder, out, tmp: _mkdir(tmp / "reports"),
    "a path ending in a slash": lambda folder, out, tmp: f"{tmp / 'reports'}/",
    "a socket": lambda folder, out, tmp: _socket(tmp / "s.sock"),
    "a file under a regular file": lambda folder, out, tmp: folder / "subject.json" / "r.json",
}


def _link(path: Path, target: Path) -> Path:
    path.symlink_to(target)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _socket(path: Path) -> Path:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    server.close()  # the socket file stays
    return path


@pytest.mark.parametrize("case", sorted(REFUSED_REPORTS))
@pytest.mark.parametrize("option", ["report", "--output"])
def test_a_report_that_would_touch_an_input_or_replace_a_special_file_is_refused_before_any_work(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, option: str
) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("the pipeline's")
    target = REFUSED_REPORTS[case](folder, output, tmp_path)
    before, out_before = snapshot(folder), tree_hash(output)
    settings = base_settings(folder, output, None)
    if option == "report":
        code, err = _run({**settings, "report": str(target)}, capsys)
    else:
        code = main(
            ["check", str(folder), "--offline", "--output", str(target), "--job-settings", json.dumps(settings)]
        )
        err = " ".join(capsys.readouterr().err.split())
    ok = code == 2 and option in err and "Traceback" not in err
    ok = ok and snapshot(folder) == before and tree_hash(output) == out_before and not _temporaries(tmp_path)
    record(f"{option} naming {case}: exit 2 before any work, nothing written", ok)
    assert ok, (code, err)
    if case == "a socket":
        assert stat.S_ISSOCK(os.lstat(target).st_mode)


OUTPUT_DIRS = {
    "a file": lambda folder, tmp: folder / "subject.json",
    "a character device": lambda folder, tmp: Path("/dev/null"),
    "a sub-folder of metadata_dir": lambda folder, tmp: folder / "out",
    "a sub-folder of metadata_dir through a symlink": lambda folder, tmp: _link(tmp / "alias", folder) / "out",
}


@pytest.mark.parametrize("case", sorted(OUTPUT_DIRS))
def test_an_output_dir_that_is_no_folder_or_lies_inside_the_input_is_refused_before_any_work(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    output = OUTPUT_DIRS[case](folder, tmp_path)
    before = snapshot(folder)
    code, err = _run(base_settings(folder, output, None), capsys)
    ok = code == 2 and "output_dir" in err and snapshot(folder) == before and not (folder / "out").exists()
    record(f"output_dir {case}: exit 2 before any work", ok and "Traceback" not in err)
    assert ok, err


def test_metadata_dir_where_the_output_keeps_its_originals_is_refused(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "out"
    kept = output / "original_metadata" / "uploaded_json"
    kept.mkdir(parents=True)
    for name, data in snapshot(folder).items():
        (kept / name).write_bytes(data)
    (kept / "notes.txt").write_text("not an input the job reads, and not the job's to remove")
    before = snapshot(kept)
    code, err = _run(base_settings(kept, output, None), capsys)
    ok = code == 2 and "metadata_dir" in err and "original_metadata" in err and snapshot(kept) == before
    record("metadata_dir = output_dir/original_metadata/uploaded_json: exit 2, the folder untouched", ok)
    assert ok, err


def test_output_dir_equal_to_the_metadata_folder_keeps_working(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = snapshot(folder)
    settings = {**base_settings(folder, folder, None), "metadata_dir": None}
    code, err = _run(settings, capsys)
    after = snapshot(folder)
    assert code == 0, err
    assert {name: after[name] for name in parts} == parts and "gather_report.json" in after


SLIPS = ["", "   ", "out ", " out", "out\n", "~/out", "~", "~someone/out", "a\tb", "o\x1bu"]


@pytest.mark.parametrize("setting", ["metadata_dir", "output_dir", "report"])
@pytest.mark.parametrize("value", SLIPS, ids=[json.dumps(v) for v in SLIPS])
def test_path_slips_are_usage_errors_and_create_nothing(
    folder: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    setting: str,
    value: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = {**base_settings(folder, tmp_path / "out", None), setting: value}
    code, err = _run(settings, capsys)
    with pytest.raises(ValidationError):
        JobSettings(**{setting: value})
    created = sorted(p.name for p in tmp_path.iterdir() if p.name not in (folder.name, "out"))
    ok = code == 2 and setting in err and "Traceback" not in err and not created and not (tmp_path / "out").exists()
    record(f"{setting} with a slip (empty, spaces at an end, control character, unexpanded ~)", ok)
    assert ok, (err, created)
    if value.startswith("~"):
        assert "full path" in err


def _devices_present() -> bool:
    return all(stat.S_ISCHR(os.stat(p).st_mode) for p in ("/dev/null", "/dev/full"))


@pytest.mark.skipif(not sys.platform.startswith("linux") or not _devices_present(), reason="/dev/null, /dev/full")
def test_character_devices_are_written_into_never_replaced(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Through symlinks in tmp_path, so a regression would replace the link, never the real device."""
    settings = base_settings(folder, tmp_path / "out", None)
    null, full = _link(tmp_path / "null", Path("/dev/null")), _link(tmp_path / "full", Path("/dev/full"))
    code_null, err_null = _run({**settings, "report": str(null)}, capsys)
    code_full, err_full = _run({**settings, "report": str(full)}, capsys)
    kept = null.is_symlink() and full.is_symlink() and _devices_present()
    ok = code_null == 0 and code_full == 2 and "No space left on device" in err_full and kept
    ok = ok and (tmp_path / "out" / "gather_report.json").is_file() and not _temporaries(Path("/dev"))
    record("report into /dev/null and /dev/full: written into (ENOSPC is exit 2), the nodes stay devices", ok)
    assert ok, (code_null, err_null, code_full, err_full)


@pytest.mark.skipif(sys.platform == "win32", reason="FIFOs")
def test_a_fifo_gets_the_report_when_read_and_exit_2_when_nobody_reads(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "report.fifo"
    os.mkfifo(fifo)
    settings = {**base_settings(folder, tmp_path / "out", None), "report": str(fifo)}
    code_alone, err_alone = _run(settings, capsys)  # no reader: exit 2 at once, never a wait
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    code, err = _run(settings, capsys)
    reader.join(30)
    report = json.loads(received[0]) if received else {}
    ok = code_alone == 2 and "no process is reading" in err_alone and code == 0 and report.get("status") == "written"
    ok = ok and stat.S_ISFIFO(os.lstat(fifo).st_mode)
    record("report into a FIFO: written when read, exit 2 (no hang) when nobody reads, still a FIFO", ok)
    assert ok, (code_alone, err_alone, code, err)


def _check(folder: Path, tmp_path: Path, output: str, stdout: Any) -> subprocess.CompletedProcess[bytes]:
    settings = json.dumps(base_settings(folder, tmp_path / "out", None))
    argv = [sys.executable, "-m", "gather_job", "check", str(folder), "--offline", "--output", output]
    env = {"PATH": os.environ["PATH"]}
    return subprocess.run(
        [*argv, "--job-settings", settings], stdout=stdout, stderr=subprocess.PIPE, env=env, timeout=120
    )


@pytest.mark.slow
def test_check_output_to_dev_stdout_goes_to_stdout_as_a_pipe_or_a_redirected_file(folder: Path, tmp_path: Path) -> None:
    piped = _check(folder, tmp_path, "/dev/stdout", subprocess.PIPE)
    redirected = tmp_path / "check.txt"
    with redirected.open("wb") as handle:
        inode = os.fstat(handle.fileno()).st_ino
        to_file = _check(folder, tmp_path, "/dev/stdout", handle)
    text = redirected.read_bytes().decode("utf-8")
    decoder = json.JSONDecoder()
    ok = piped.returncode == 0 and decoder.raw_decode(piped.stdout.decode("utf-8"))[0]["command"] == "check"
    ok = ok and to_file.returncode == 0 and decoder.raw_decode(text)[0]["command"] == "check"
    ok = ok and "gather-job check:" in text and redirected.stat().st_ino == inode  # the summary after it; same file
    record("check --output /dev/stdout (a pipe, or redirected to a file): the report then the summary", ok)
    assert ok, (piped.stderr[-800:], to_file.stderr[-800:], text[:300])


def test_a_symlinked_report_path_keeps_its_link_and_writes_its_target(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "reports" / "run-1.json"
    target.parent.mkdir()
    link = _link(tmp_path / "latest.json", target)
    code, err = _run({**base_settings(folder, tmp_path / "out", None), "report": str(link)}, capsys)
    ok = code == 0 and link.is_symlink() and json.loads(target.read_bytes())["status"] == "written"
    record("report through a symlink: the link stays, its target gets the report", ok)
    assert ok, err


def test_a_report_copy_in_another_folder_takes_its_lock_and_leaves_no_temporary(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = tmp_path / "copies" / "deep" / "report.json"
    code, err = _run({**base_settings(folder, tmp_path / "out", None), "report": str(copy)}, capsys)
    assert code == 0, err
    assert json.loads(copy.read_bytes())["status"] == "written" and not _temporaries(tmp_path)


def test_a_report_or_results_file_never_replaces_a_file_the_command_was_given(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = base_settings(folder, tmp_path / "out", None)
    settings["offline"] = True
    given = tmp_path / "settings.json"
    policy = tmp_path / "policy.json"
    given.write_text(json.dumps({**settings, "report": str(given)}))
    policy.write_text("[]")
    before = {p: p.read_bytes() for p in (given, policy)}
    ok = main(["run", "--settings-file", str(given)]) == 2
    ok &= main(["run", "--settings-file", str(given), "--report", str(policy), "--policy", str(policy)]) == 2
    listing = tmp_path / "assets.txt"
    listing.write_text(f"{folder}\n{folder}\n")
    argv = ["check", "--from-file", str(listing), "--offline", "--format", "jsonl", "--output", str(listing)]
    ok &= main(argv) == 2
    err = " ".join(capsys.readouterr().err.split())
    ok &= "is the settings file" in err and "is the policy file" in err and "is the asset list" in err
    ok &= all(p.read_bytes() == data for p, data in before.items()) and not (tmp_path / "out").exists()
    record("report / results path naming the settings, policy or asset-list file", ok)
    assert ok, err


def _as_another_user(cmd: list[str]) -> list[str]:
    """Permissions bind everyone but root: as root the command runs as nobody (setpriv), else as is."""
    if os.geteuid() != 0:
        return cmd
    import shutil

    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be tested")
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("folder_mode", "file_mode", "code", "says"),
    [
        (0o755, 0o000, 3, "gather.file.unreadable"),  # one file: a finding, the rest still checked
        (0o644, 0o644, 2, "can be listed but not entered"),  # `chmod -R 644`: no file of it can be opened
    ],
)
def test_permissions_that_stop_reading_are_one_paragraph_never_a_traceback(
    folder_mode: int, file_mode: int, code: int, says: str
) -> None:
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="gather-perm-"))
    try:
        os.chmod(root, 0o755)  # noqa: S103 - the other user must reach the folder
        folder = root / "in"
        shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "asset", folder)
        os.chmod(folder / "subject.json", file_mode)
        os.chmod(folder, folder_mode)
        done = subprocess.run(
            _as_another_user([sys.executable, "-m", "gather_job", "check", str(folder), "--offline"]),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == code, done.stderr
        said = done.stdout + done.stderr  # check's findings go to standard output
        assert says in said and "Traceback" not in said
        assert done.stderr.rstrip().splitlines()[-1].startswith("gather-job: verdict:")
    finally:
        os.chmod(root / "in", 0o755)  # noqa: S103
        shutil.rmtree(root)


@pytest.mark.slow
def test_a_full_disk_names_the_file_says_so_and_a_rerun_completes_the_output(tmp_path: Path) -> None:
    """A file-size limit stands in for a full disk (both fail the write, not the open): the paragraph names
    the file being written, says the output is incomplete, and the next run finishes it."""
    import resource

    root = Path(__file__).resolve().parent.parent
    settings = json.loads((root / "job_settings.example.json").read_text())  # the bundled offline example
    settings |= {"metadata_dir": str(root / "examples" / "asset"), "output_dir": str(tmp_path / "out")}
    cmd = [sys.executable, "-m", "gather_job", "--job-settings", f" {json.dumps(settings)} "]

    def small_files() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))

    full = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False, preexec_fn=small_files)
    assert full.returncode == 2, full.stderr
    said = " ".join(full.stderr.split())  # the paragraph is wrapped to the terminal's width
    assert "Traceback" not in said and "the disk is full" in said
    assert f"Cannot write {tmp_path / 'out'}/" in said  # a file in it, not the folder
    assert not (tmp_path / "out" / "gather_report.json").exists()
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "out" / "gather_report.json").is_file()
