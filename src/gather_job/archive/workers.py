"""Re-checking a whole archive: many assets per process, in warm worker processes.

Each asset is checked exactly as `gather-job check PATH` alone would (the same
`GatherMetadataJob.check`, the same findings), but the models are imported once, then `--jobs`
workers are forked and share them copy-on-write. Each worker reads its next assets (local or S3)
in threads while it validates the current one, so the network overlaps the work. Results stream
out as assets finish; nothing is kept per asset but its exit code and counts, so memory stays flat
however many assets run.
"""

from __future__ import annotations

import json
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

from gather_job.archive.results import Tally
from gather_job.errors import GatherError
from gather_job.settings.model import JobSettings

# -- one asset, in a worker -----------------------------------------------------------------------


@dataclass
class Prefetched:
    """An asset folder read ahead in full (names and bytes), handed to the job as its Folder."""

    label: str
    locations: dict[str, str]
    entries: list[str]
    data: dict[str, bytes | Exception]
    folders: dict[str, bool]  # modality folder -> empty
    below: dict[str, list[str]]  # other subfolder -> its names, listed only when the asset holds no metadata

    def subfolders(self) -> list[str]:
        return sorted({*self.folders, *self.below})

    def is_empty(self, name: str) -> bool:
        return self.folders.get(name, False)

    def names_below(self, name: str) -> list[str]:
        return self.below.get(name, [])

    def location(self, name: str) -> str:
        return self.locations.get(name, name)

    def names(self) -> list[str]:
        return list(self.entries)

    def read(self, name: str) -> bytes:
        value = self.data[name]
        if isinstance(value, Exception):
            raise value
        return value


def prefetch(settings: JobSettings, clients: Any) -> Prefetched | GatherError:
    """Read an asset's listing and every JSON file; an asset that cannot be listed is its error.

    So is an S3 prefix gather-job would read as another one (`s3://b//`, see `literal_problem`).
    """
    from gather_job.archive.listing import literal_problem
    from gather_job.pipeline import nested
    from gather_job.pipeline.modality_folders import present
    from gather_job.pipeline.plan import plan_files
    from gather_job.storage.folder import open_folder

    problem = literal_problem(settings.metadata_dir or "")
    if problem is not None:
        return problem
    try:
        folder = open_folder(settings, clients)
        names = folder.names()
        folders = present(folder)
        below = {name: folder.names_below(name) for name in nested.looked_at(folder, plan_files(names))}
    except GatherError as exc:
        return exc
    data: dict[str, bytes | Exception] = {}
    for name in names:
        if name.endswith(".json"):
            try:
                data[name] = folder.read(name)
            except Exception as exc:
                data[name] = exc
    return Prefetched(folder.label, {n: folder.location(n) for n in data}, names, data, folders, below)


def check_one(asset: str, settings: JobSettings, folder: Prefetched | GatherError, clients: Any) -> list[str]:
    """The asset's JSON Lines: its findings (each with `asset`), then its `asset` record."""
    from gather_job.job import GatherMetadataJob
    from gather_job.render import tally

    if isinstance(folder, GatherError):
        record = {"type": "asset", "asset": asset, "exit_code": int(folder.exit_code), "counts": {}}
        record["error"] = folder.message + (f" {folder.hint}" if folder.hint else "")
        return [json.dumps(record, ensure_ascii=False)]
    try:
        outcome = GatherMetadataJob(settings, notes=_NOTES, clients=clients, folder=folder).check()
    except GatherError as exc:
        record = {"type": "asset", "asset": asset, "exit_code": int(exc.exit_code), "counts": {}}
        record["error"] = exc.message + (f" {exc.hint}" if exc.hint else "")
        return [json.dumps(record, ensure_ascii=False)]
    lines = [
        json.dumps({"type": "finding", "asset": asset, **f.to_json()}, ensure_ascii=False)
        for f in outcome.findings.sorted()
    ]
    counts = tally(outcome.findings)
    lines.append(json.dumps({"type": "asset", "asset": asset, "exit_code": int(outcome.exit_code), "counts": counts}))
    return lines


SettingsFor = Callable[[str], JobSettings]
_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})  # the parent alone reacts to them (`bulk.Stop`)


@contextmanager
def _signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM held back in this thread meanwhile, and in the threads it starts, for good.

    The kernel gives a process's signal to any thread that does not block it; Python runs the handler
    in the main thread only when that thread next runs Python. Delivered to a reading thread, a stop
    would wait while the main thread sleeps in a pipe read (a pool worker between tasks): so the
    reading threads block them, and the main thread is the one woken.
    """
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


S3_AHEAD = 4  # assets read ahead on S3: 20 ms round trips took 361 -> 841 assets/min, +50 MB


def read_ahead(assets: Iterable[str]) -> int:
    """How many assets to read ahead of the one being checked: on S3 an asset costs a few round
    trips (a listing, a GET a file) that, one asset at a time, would set the pace; a local folder
    reads in microseconds, and each reading thread costs memory."""
    return S3_AHEAD if any(asset.startswith("s3://") for asset in assets) else 1


def run_assets(
    assets: Iterable[str], settings_for: SettingsFor, clients_for: Callable[[JobSettings], Any], ahead: int = 1
) -> Iterator[list[str]]:
    """Check assets one after another, in order, while the next `ahead` are read in threads.

    Memory holds at most `ahead` + 1 assets' JSON files, however many assets run.
    """
    reader = ThreadPoolExecutor(max_workers=ahead, thread_name_prefix="gather-prefetch")
    window: deque[tuple[str, JobSettings, Any, Future[Prefetched | GatherError]]] = deque()
    try:
        for asset in assets:
            settings = settings_for(asset)
            clients = clients_for(settings)
            with _signals_blocked():  # a reading thread started here never takes SIGINT/SIGTERM
                read = reader.submit(prefetch, settings, clients)
            window.append((asset, settings, clients, read))
            if len(window) > ahead:
                name, first, its_clients, read = window.popleft()
                yield check_one(name, first, read.result(), its_clients)
        while window:
            name, first, its_clients, read = window.popleft()
            yield check_one(name, first, read.result(), its_clients)
    finally:
        for *_, read in window:
            read.cancel()
        reader.shutdown(wait=True)


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


# -- many assets, in warm worker processes -------------------------------------------------------------

_BASE: JobSettings | None = None  # the run's settings, set before the workers are forked
_NOTES: list[Any] = []  # what composing them said (e.g. the job_type applied), as a single check says it


def _settings_for(asset: str) -> JobSettings:
    assert _BASE is not None
    return _BASE.model_copy(update={"metadata_dir": asset, "output_dir": None})


def _clients_for(settings: JobSettings) -> Any:
    global _CLIENTS
    if _CLIENTS is None:  # one set per process: boto3 clients are made after the fork, never shared
        from gather_job.aws import Clients

        _CLIENTS = Clients(settings)
    return _CLIENTS


_CLIENTS: Any = None


def _work(chunk: list[str]) -> list[list[str]]:
    return list(run_assets(chunk, _settings_for, _clients_for, read_ahead(chunk)))


def _chunks(assets: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for asset in assets:
        chunk.append(asset)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _quiet_worker(stopping: Any) -> None:
    """A pool worker's start: Ctrl-C (sent to the whole process group) and a SIGTERM from outside
    (`scancel`, `kill -- -PGID`) are the parent's to handle, which writes what was checked and ends
    the run; a worker that died of them would print a traceback and take its chunk with it. Only the
    SIGTERM the parent's own `Pool.terminate` sends once `stopping` is set ends a worker (at once)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0) if stopping.value else None)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)


def check_many(
    base: JobSettings,
    assets: list[str],
    jobs: int,
    emit: Callable[[list[str]], None],
    *,
    notes: Iterable[Any] = (),
    tally: Tally | None = None,
    guard: Callable[[], AbstractContextManager[Any]] = nullcontext,
) -> Tally:
    """Check every asset, `jobs` processes at a time; `emit` gets each asset's lines as it finishes.

    `tally` (the caller's, so an interrupted run still has what was counted) is updated and `emit`
    called inside `guard()`: an interruption waits for both, so no record is half written or counted
    without being written, and `--resume` goes on with neither an asset lost nor one twice.
    """
    import gc

    from gather_job import schema

    global _BASE, _CLIENTS, _NOTES
    _BASE, _CLIENTS, _NOTES = base, None, list(notes)
    tally = tally if tally is not None else Tally()

    def take(lines: list[str]) -> None:
        record = json.loads(lines[-1])
        with guard():
            tally.add(record["asset"], record["exit_code"], record.get("counts") or {})
            emit(lines)

    schema.import_models()  # every core model, once, before the fork: the workers share them
    if jobs <= 1 or len(assets) <= 1:
        for lines in run_assets(assets, _settings_for, _clients_for, read_ahead(assets)):
            take(lines)
        return tally
    import multiprocessing

    gc.freeze()  # what exists now is shared copy-on-write; the collector leaves it alone in the workers
    size = max(1, min(16, len(assets) // (jobs * 4) or 1))
    context = multiprocessing.get_context("fork")
    stopping = context.RawValue("b", 0)  # shared memory: set before the pool ends its workers
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)  # forked blocked: quiet before they start
    pool = None
    try:
        pool = context.Pool(jobs, initializer=_quiet_worker, initargs=(stopping,))
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)  # a signal that came meanwhile is handled here
        for results in pool.imap_unordered(_work, _chunks(assets, size)):
            for lines in results:
                take(lines)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        if pool is not None:
            stopping.value = 1
            _end_pool(pool)
    return tally


def _end_pool(pool: Any, grace: float = 1.0) -> None:
    """Terminate the pool's workers, and kill (SIGKILL) any still there each `grace` seconds until it ends.

    Their SIGTERM handler exits once `stopping` is set, but a signal that lands just before a worker
    blocks on the task queue's lock (which `terminate` holds from then on) is never seen by Python:
    that worker would wait, and the run with it, for ever. `Process.kill` never signals a worker
    already reaped, so no other process is hit. A worker killed while it waited for a task held the
    task queue's read lock, which `terminate` then waits for: once every worker is gone, the lock is
    released for it (a semaphore: any process may post it), or the run would wait for ever instead.
    """
    import threading

    done = threading.Event()

    def kill_stragglers() -> None:
        while not done.wait(grace):
            workers = list(getattr(pool, "_pool", []))
            for worker in workers:
                worker.kill()
            lock = getattr(getattr(pool, "_inqueue", None), "_rlock", None)
            if lock is not None and not any(worker.is_alive() for worker in workers):
                lock.acquire(False)  # taken if free; if a gone worker holds it, it stays held
                lock.release()  # either way one release: `terminate` may take it now

    watchdog = threading.Thread(target=kill_stragglers, name="gather-pool-end", daemon=True)
    watchdog.start()
    try:
        pool.terminate()
        pool.join()
    finally:
        done.set()
        watchdog.join()
