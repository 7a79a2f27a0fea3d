"""No unbounded wait: a service that never finishes its answer, and special files named like metadata.

requests' read timeout applies to each socket read, so a server that sends a header line every half
second keeps a request alive forever; the job's own deadline (min of the per-request timeout and what
is left of service_total_timeout_s) must end every attempt, and the run, in time. Opening a FIFO
blocks until a writer comes: the folder must never open anything but a regular file.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gather_job.errors import ServiceError
from gather_job.service import MetadataService, RetryPolicy
from tests.conftest import base_settings
from tests.support.reliability import record
from tests.support.slow_server import TricklingServer, wait_until

MARGIN_S = 2.0  # job start-up (imports) and scheduling, on top of the budget


def _attempt_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "gather-service-attempt")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["headers", "status", "chunked"])
def test_a_trickling_answer_ends_the_run_within_the_total_budget(gather, asset, mode: str) -> None:  # type: ignore[no-untyped-def]
    with TricklingServer(mode, interval=0.5) as server:
        started = time.monotonic()
        run = gather(
            asset(),
            service_url=server.url,
            service_timeout_s=2,
            service_total_timeout_s=4,
            service_retries=10,
            service_backoff_s=0.05,
        )
        elapsed = time.monotonic() - started
        shut = wait_until(lambda: server.closed_by_client == server.connections, 3)
    ok = run.code == 4 and elapsed < 4 + MARGIN_S and "service_total_timeout_s=4" in run.err and shut
    record(f"service trickles {mode} (never completes): run ends within service_total_timeout_s", ok)
    assert ok, (run.code, elapsed, server.connections, server.closed_by_client, run.err[-1500:])
    subject = [path for path in server.paths if path.startswith("/api/v2/subject/")]
    assert "Traceback" not in run.err and 2 <= len(subject) <= 3  # retried after each 2 s attempt


def _client(url: str, timeout: float, total: float, retries: int) -> MetadataService:
    return MetadataService(
        url,
        {"subject": "/s", "procedures": "/p"},
        timeouts={"procedures": timeout},
        default_timeout=timeout,
        policy=RetryPolicy(retries=retries, backoff_s=0.01, backoff_max_s=0.02, total_s=total),
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("kind", "setting"), [("subject", "service_timeout_s"), ("procedures", "service_procedures_timeout_s")]
)
def test_each_attempt_ends_at_the_per_request_timeout_and_says_so(kind: str, setting: str) -> None:
    with TricklingServer("headers", interval=0.1) as server:
        svc = _client(server.url, timeout=0.4, total=30, retries=1)
        started = time.monotonic()
        with pytest.raises(ServiceError) as caught:
            svc.get(kind, "1")
        elapsed = time.monotonic() - started
        svc.close()
        shut = wait_until(lambda: server.closed_by_client == server.connections == 2, 2)
    message = str(caught.value)
    ok = 0.8 <= elapsed < 1.5 and f"{setting}=0.4" in message and "after 2 attempts" in message and shut
    record(f"service trickles headers: each attempt ends at {setting}", ok)
    assert ok, (elapsed, message, server.connections, server.closed_by_client)
    assert wait_until(lambda: _attempt_threads() == 0, 2), "an attempt's thread outlived its deadline"


@pytest.mark.slow
def test_the_total_budget_ends_an_attempt_midway() -> None:
    with TricklingServer("headers", interval=0.1) as server:
        svc = _client(server.url, timeout=0.7, total=1.0, retries=5)
        started = time.monotonic()
        with pytest.raises(ServiceError) as caught:
            svc.get("subject", "1")
        elapsed = time.monotonic() - started
        svc.close()
    message = str(caught.value)
    ok = 0.95 <= elapsed < 1.4 and "service_total_timeout_s=1" in message and server.connections == 2
    record("service trickles headers: the total budget ends the last attempt midway", ok)
    assert ok, (elapsed, message, server.connections)


# -- special files in the folder ---------------------------------------------------------------
def _make_fifo(folder: Path, name: str) -> None:
    os.mkfifo(folder / name)


def _make_fifo_link(folder: Path, name: str) -> None:
    os.mkfifo(folder / ".pipe")
    (folder / name).symlink_to(folder / ".pipe")


def _make_socket(folder: Path, name: str) -> None:
    here = Path.cwd()
    os.chdir(folder)  # AF_UNIX paths are short: bind the bare name
    try:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(name)
        listener.listen()  # listening: a connect would succeed, and a read wait
        _SOCKETS.append(listener)
    finally:
        os.chdir(here)


def _make_device(folder: Path, name: str) -> None:
    try:
        os.mknod(folder / name, stat.S_IFCHR | 0o600, os.makedev(1, 5))  # /dev/zero: a read never ends
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")


_SOCKETS: list[socket.socket] = []
SPECIAL = {
    "fifo": (_make_fifo, "a FIFO"),
    "symlink to a fifo": (_make_fifo_link, "a FIFO"),
    "socket": (_make_socket, "a socket"),
    "character device": (_make_device, "a character device"),
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", list(SPECIAL))
@pytest.mark.parametrize("command", ["run", "check"])
def test_special_files_named_like_metadata_are_findings_not_hangs(  # type: ignore[no-untyped-def]
    asset, tmp_path: Path, kind: str, command: str
) -> None:
    folder = asset()
    make, said = SPECIAL[kind]
    name = "acquisition_x.json" if kind != "socket" else "instrument_s.json"
    make(folder, name)
    settings = base_settings(folder, tmp_path / "out", None)
    argv = ["run", "--job-settings", json.dumps(settings)]
    if command == "check":
        argv = ["check", str(folder), "--offline", "--json"]
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "gather_job", *argv],
            capture_output=True,
            timeout=60,
            env={"PATH": os.environ["PATH"]},
        )
    finally:
        for listener in _SOCKETS:
            listener.close()
        _SOCKETS.clear()
    elapsed = time.monotonic() - started
    out, err = done.stdout.decode(), done.stderr.decode()
    findings = [json.loads(line) for line in out.splitlines() if line.startswith("{")] if command == "check" else []
    if command == "run":
        findings = json.loads((tmp_path / "out" / "gather_report.json").read_text())["findings"]
    named = [f for f in findings if f.get("id") == "gather.file.not_a_file" and f["files"] == [name]]
    ok = done.returncode == 3 and len(named) == 1 and said in named[0]["message"] and "Traceback" not in err
    record(f"{kind} named like a metadata file ({command})", ok and elapsed < 30)
    assert ok, (done.returncode, elapsed, err[-1500:])


def test_a_file_swapped_for_a_fifo_after_the_listing_is_still_not_opened(tmp_path: Path) -> None:
    """names() saw a regular file; read() finds a FIFO there: stat first, then O_NONBLOCK + fstat."""
    code = (
        "import os, sys\n"
        "from pathlib import Path\n"
        "from gather_job.storage.folder import InputProblem, LocalFolder\n"
        "folder = LocalFolder(Path(sys.argv[1]))\n"
        "(folder.path / 'acquisition_x.json').write_text('{}')\n"
        "names = folder.names()\n"
        "os.remove(folder.path / 'acquisition_x.json')\n"
        "os.mkfifo(folder.path / 'acquisition_x.json')\n"
        "try:\n"
        "    folder.read('acquisition_x.json')\n"
        "except InputProblem as problem:\n"
        "    print(problem.id, problem.message)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=30)
    ok = done.stdout.startswith("gather.file.not_a_file") and "FIFO" in done.stdout
    record("a file swapped for a FIFO between listing and reading", ok)
    assert ok, done.stdout + done.stderr
