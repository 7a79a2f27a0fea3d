"""One many-asset `check`, start to end: the list, where the results go, the run, and how it ends.

Everything that can refuse the run (a shard index, the asset list, an `--output` inside a checked
asset, `--each` pointed at the wrong folder) is decided before the results file is opened, so a
refusal writes nothing. SIGINT and SIGTERM (Ctrl-C; a Batch or Slurm time-out, `docker stop`,
`scancel`) end the run the same way: the records written so far are complete lines, the `summary`
record says the run was interrupted, an `s3://` output is uploaded (or its local copy named), and
the verdict says how to go on (`--resume`), exit 130.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import IO, Any

from gather_job.archive import listing, output, results, sources, workers
from gather_job.archive.sources import identity
from gather_job.errors import GatherError, UsageError
from gather_job.settings.model import JobSettings


class Stop:
    """SIGINT and SIGTERM while a many-asset check runs: both raise KeyboardInterrupt in the main thread,
    but never inside `writing()` (a record half written, or counted and not written), where the stop
    waits until the block ends. After the first, `quiet()` lets the run write its summary and upload
    the results without a second signal cutting them off. The previous handlers come back on exit:
    this is the bulk check's behaviour, not the process's (a one-asset check keeps Python's own)."""

    def __init__(self) -> None:
        self.name: str | None = None
        self._writing = self._pending = self._quiet = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> Stop:
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for number in (signal.SIGINT, signal.SIGTERM):
                self._saved[number] = signal.signal(number, self._handle)
        return self

    def __exit__(self, *_: object) -> None:
        for number, handler in self._saved.items():
            signal.signal(number, handler)

    def _handle(self, number: int, _frame: FrameType | None) -> None:
        self.name = self.name or signal.Signals(number).name
        if self._quiet:
            return
        if self._writing:
            self._pending = True
            return
        raise KeyboardInterrupt

    def quiet(self) -> None:
        self._quiet = True

    @contextmanager
    def writing(self) -> Iterator[None]:
        self._writing = True
        try:
            yield
        finally:
            self._writing = False
            if self._pending and not self._quiet:
                self._pending = False
                raise KeyboardInterrupt


def _given(args: argparse.Namespace, stdin: IO[Any]) -> list[str]:
    """The PATHs and the --from-file list, in order."""
    from gather_job.settings.layers import read_file

    found: list[str] = list(args.paths or [])
    if args.from_file:
        raw = stdin.read() if args.from_file == "-" else read_file(Path(args.from_file), "asset list", "").decode()
        found += [line.strip() for line in raw.splitlines() if line.strip() and not line.startswith("#")]
    return found


def _once(assets: list[str]) -> list[str]:
    """Each asset once (however spelled: `sources.identity`), the first spelling kept, in the order given."""
    unique: dict[str, str] = {}
    for asset in assets:
        unique.setdefault(identity(asset), asset)
    return list(unique.values())


def check_assets(
    args: argparse.Namespace,
    settings: JobSettings,
    notes: list[Any],
    environ: Mapping[str, str],
    stdin: IO[Any],
    err: IO[str],
    refuse_output: Callable[[list[str]], None],
) -> results.BulkOutcome:
    """`check` over many assets (`refuse_output(assets)` raises if `--output` may not be written)."""
    from gather_job.aws import Clients

    shard = listing.parse_shard(args.shard, environ) if args.shard else None
    clients = Clients(settings)
    options = _desk_options(args)
    with Stop() as stop:  # from here SIGTERM ends the run as Ctrl-C does; before the results open, unwritten
        given = _given(args, stdin)
        children = listing.children(args.each, clients) if args.each else []
        if args.each and not children:
            found = listing.no_asset_found(args.each, [], [], clients, options)
            raise found or UsageError(f"--each {args.each}: no folder.")
        assets = _once(given + children)
        if not assets:
            raise UsageError(
                f"The asset list {args.from_file} holds no PATH, so no asset was checked.",
                hint="Write one asset's folder or s3:// prefix a line ('#' starts a comment).",
            )
        refuse_output(assets)
        total = len(assets)
        if shard is not None:
            assets = [a for a in assets if shard.takes(identity(a))]
        in_shard = len(assets)
        append = bool(args.resume) and bool(args.output)  # a resumed run keeps what its output holds
        resumed = results.Tally()
        sources_of: set[str] = set()  # which results the resumed records came from: --resume, --output
        if args.resume:
            done = listing.done_records(args.resume, clients)
            apart = append and not sources.resume_includes(args.resume, args.output)
            held = listing.done_records(args.output, clients) if apart else {}
            for asset in assets:  # the run's list only: a resumed prefix may hold other shards' records
                if (key := identity(asset)) in done or key in held:
                    _, code, counts = held.get(key) or done[key]
                    resumed.add(asset, code, counts)
                    sources_of.add(args.output if key in held else args.resume)
            assets = [a for a in assets if identity(a) not in done and identity(a) not in held]
        named = {identity(a) for a in given}  # paths given by name are checked as given
        kept, skipped = listing.sort_children([a for a in assets if identity(a) not in named], clients)
        keep = {identity(a) for a in kept}
        assets = [a for a in assets if identity(a) in named or identity(a) in keep]
        if args.each and not assets and skipped and not resumed.assets and not given:
            problem = listing.no_asset_found(args.each, children, [name for name, _ in skipped], clients, options)
            if problem is not None:
                raise problem
        if args.format == "text" and not args.output:  # the table says it; the JSON Lines only with --output
            sink = output.Sink.discard()
        else:
            if args.output and not append:
                output.tell_replacing(args.output, clients, err)
            sink = output.Sink.open(args.output, append=append, clients=clients)
        tally = results.Tally(skipped=list(skipped))
        if args.resume:
            tally.resumed, tally.resumed_from = resumed, " and ".join(sorted(sources_of)) or str(args.resume)
        extra = {"listed": total, "other_shards": total - in_shard, "resumed": resumed.assets}
        outcome = _run(args, settings, notes, assets, sink, tally, stop, err, extra)
    if args.format == "text":
        sys.stdout.write(results.table(tally) + "\n")
    return outcome


def _desk_options(args: argparse.Namespace) -> str:
    """The options of this run that a suggested one-asset command needs to run as it would: ` --offline ...`."""
    from gather_job.logs import redact

    words = ["--offline"] if getattr(args, "offline", None) else []
    for flag in ("--settings-file", "--job-settings", "--job-type", "--policy"):
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value:  # a password in a URL, a token in the JSON: masked, as everywhere a setting is shown
            words += [flag, listing.shell_word(redact(str(value)))]
    return "".join(" " + word for word in words)


def _run(
    args: argparse.Namespace,
    settings: JobSettings,
    notes: list[Any],
    assets: list[str],
    sink: output.Sink,
    tally: results.Tally,
    stop: Stop,
    err: IO[str],
    extra: dict[str, int],
) -> results.BulkOutcome:
    """Check the assets into `sink`; interrupted, end it as a finished run ends (see the module)."""
    progress = output.Bar(err, len(assets))

    def emit(lines: list[str]) -> None:
        sink.write(lines)
        progress.advance()

    try:
        with stop.writing():
            sink.write([json.dumps({"type": "skipped", "asset": a, "reason": why}) for a, why in tally.skipped])
        jobs = args.jobs or workers.default_jobs()
        workers.check_many(settings, assets, jobs, emit, notes=notes, tally=tally, guard=stop.writing)
    except KeyboardInterrupt:
        tally.interrupted = stop.name or "SIGINT"
    finally:
        stop.quiet()  # the summary and the upload are not cut off by a second signal
        progress.close()
    try:
        sink.write([json.dumps({**tally.record(), **extra})])
        sink.close()
    except GatherError as exc:  # the upload failed: the error names the local copy of the results
        if tally.interrupted is None:
            raise
        return results.BulkOutcome(tally, sink.local, exc.message + (f" {exc.hint}" if exc.hint else ""))
    where = sink.label
    elsewhere = args.resume and args.output and args.resume in tally.resumed_from.split(" and ")
    if elsewhere and not sources.resume_includes(args.resume, args.output):  # the verdict is over both: say so
        both = f"gather-job summary {args.resume} {args.output}"
        where += f" (the resumed assets' records are in {args.resume}: `{both}` gives this verdict)"
    return results.BulkOutcome(tally, where, _rerun(args, sink) if tally.interrupted else "")


def _rerun(args: argparse.Namespace, sink: output.Sink) -> str:
    """How to go on after an interruption: what `--resume` to give, or how to keep results next time."""
    if not args.output:
        where = "are on standard output" if args.format != "text" else "were not kept"
        return (
            f"Its records {where}: to go on later, give --output R.jsonl now and --resume R.jsonl with the same "
            "--output on the rerun."
        )
    if args.resume:
        return (
            f"Rerun the same command to go on: with --resume, the records {sink.label} holds are skipped and "
            "appended to, so no asset is checked or reported twice."
        )
    return (
        f"Rerun it with --resume {sink.label} (and the same --output) to check the rest: no asset is checked or "
        "reported twice."
    )
