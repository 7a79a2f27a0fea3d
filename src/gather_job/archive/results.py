"""What a many-asset `check` reports: JSON Lines per asset, a tally, a table of failures, the verdict.

The exit code of a run and of `summary` is decided here, once (`Tally.exit_code`): errors found
outrank everything, then a run that did not finish (interrupted, or a results file without its
closing `summary` record), then the worst code of the assets not read. A resumed run's is decided
over its whole list: the assets checked now and the resumed ones, by their recorded exit codes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from gather_job.archive.sources import identity
from gather_job.archive.sources import read_results as read_results
from gather_job.errors import ExitCode

ASSET_CODES = frozenset(int(code) for code in ExitCode)
SEVERITIES = ("error", "warning", "info")
MOST_FINDINGS = 2**53  # the largest count any JSON reader holds exactly; sums of such never reach str()'s limit
Record = tuple[str, int, dict[str, int]]


def _whole(value: object) -> bool:
    return type(value) is int and 0 <= value <= MOST_FINDINGS  # `type(...) is int`: true and false are not counts


def asset_record(record: object) -> Record | None:
    """(asset, exit_code, counts) of an `asset` record as this tool writes it; None for anything else.

    Results files are edited, concatenated and passed around: an exit code of 1e400 (a float that
    int() cannot hold), 256 (an exit status no shell sees) or -1 must not decide a summary's exit.
    """
    if not isinstance(record, dict) or record.get("type") != "asset":
        return None
    asset, code, counts = record.get("asset"), record.get("exit_code"), record.get("counts", {})
    if not isinstance(asset, str) or not asset or type(code) is not int or code not in ASSET_CODES:
        return None
    if not isinstance(counts, dict) or not all(k in SEVERITIES and _whole(v) for k, v in counts.items()):
        return None
    return asset, code, dict(counts)


def _lines(text: str) -> Iterator[tuple[str, Any]]:
    """Each non-blank line as (kind, value): `asset` (a Record), `summary` and `skipped` (the dict),
    `finding`, or `bad` (not JSON: a killed run's cut last line; or not a record this tool writes)."""
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except (ValueError, RecursionError):
            yield "bad", None
            continue
        kind = record.get("type") if isinstance(record, dict) else None
        if kind == "finding":
            yield "finding", None
        elif kind == "summary":
            yield "summary", record
        elif kind == "skipped" and isinstance(record.get("asset"), str) and isinstance(record.get("reason"), str):
            yield "skipped", record
        else:
            found = asset_record(record)
            yield ("bad", None) if found is None else ("asset", found)


def asset_records(text: str) -> Iterator[Record | None]:
    """Each `asset` record of JSON Lines results, in order; None for each line skipped.

    Skipped: a line that is not JSON (a killed run's cut last line: --resume runs that asset again)
    or not a record this tool writes. `finding`, `summary` and `skipped` lines and blank lines are
    passed over.
    """
    for kind, value in _lines(text):
        if kind == "asset":
            yield value
        elif kind == "bad":
            yield None


@dataclass
class Tally:
    """What the run saw so far: per exit code how many assets, the assets not clean, and the folders skipped."""

    assets: int = 0
    by_code: dict[int, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=lambda: {"error": 0, "warning": 0, "info": 0})
    failed: list[tuple[str, int, dict[str, int]]] = field(default_factory=list)
    skipped_lines: int = 0  # results lines `summary` could not use (see `asset_records`)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (folder, why): no metadata, so not checked
    unfinished: list[str] = field(default_factory=list)  # results files whose last run did not end (`summary`)
    ended_early: bool = False  # one of them says so itself: see `combine_named`
    interrupted: str | None = None  # the signal that stopped this run (SIGINT, SIGTERM)
    stopped_by: dict[str, str] = field(default_factory=dict)  # unfinished file -> the signal its summary names
    resumed: Tally | None = None  # the assets of this run's list an earlier run's results hold (--resume)
    resumed_from: str = ""  # where those results are, as the verdict names them

    def add(self, asset: str, code: int, counts: Mapping[str, int]) -> None:
        self.assets += 1
        self.by_code[code] = self.by_code.get(code, 0) + 1
        for key, value in counts.items():
            self.counts[key] = self.counts.get(key, 0) + value
        if code != 0:
            self.failed.append((asset, code, dict(counts)))

    @property
    def exit_code(self) -> int:
        """The run's exit (README "Exit codes"), decided here only.

        An interrupted run is 130 whatever it found: the task did not finish, so Batch or Slurm should
        see it as such and the rerun goes on with --resume. For `summary`, errors found (3) outrank a
        results file that did not finish (130: the rest is unknown, as its run would have said), which
        outranks the worst code of the assets not read. Skipped folders are reported, not failed.
        A results file with no `summary` record at all is warned about but does not change the exit:
        it may be records put together by hand or by another tool, summarised by what they say.
        """
        if self.interrupted:
            return ExitCode.INTERRUPTED
        by_code = self.all_by_code()
        if ExitCode.INVALID in by_code:
            return ExitCode.INVALID
        if self.ended_early:
            return ExitCode.INTERRUPTED
        failing = [code for code in by_code if code != 0]
        return max(failing) if failing else ExitCode.OK

    def all_by_code(self) -> dict[int, int]:
        """Per exit code how many assets of this run's list: checked now and resumed (their recorded codes).

        A resumed run decides its exit over both: a Slurm task retried with --resume whose shard had
        errors must still end with 3, not 0 because nothing was left to check.
        """
        found = dict(self.by_code)
        for code, count in (self.resumed.by_code if self.resumed else {}).items():
            found[code] = found.get(code, 0) + count
        return found

    def record(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "type": "summary",
            "assets": self.assets,
            "exit_code": int(self.exit_code),
            "by_exit_code": {str(k): v for k, v in sorted(self.by_code.items())},
            "counts": dict(self.counts),
            "skipped": len(self.skipped),
        }
        if self.resumed is not None:  # `assets`, `by_exit_code` and `counts` are the assets checked now
            found["resumed_by_exit_code"] = {str(k): v for k, v in sorted(self.resumed.by_code.items())}
            found["resumed_counts"] = dict(self.resumed.counts)
        if self.unfinished:
            found["unfinished"] = list(self.unfinished)
        if self.interrupted:
            found["interrupted"] = self.interrupted
        return found


# -- what the run shows ----------------------------------------------------------------------------------


@dataclass
class BulkOutcome:
    """What a many-asset check ends with: the tally (the exit code is its) and where the results went.

    `rerun` is what to do next when the run was interrupted: how to go on from the results so far.
    """

    tally: Tally
    results: str
    rerun: str = ""

    @property
    def exit_code(self) -> int:
        return self.tally.exit_code


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """`1 asset`, `2 assets`, `0 assets`: the counts of many-asset verdicts and tables read as English."""
    return f"{count} {noun if count == 1 else nouns or noun + 's'}"


def _split(by_code: Mapping[int, int]) -> tuple[int, int, int]:
    """(clean, with errors, not read) of a count per exit code."""
    return by_code.get(0, 0), by_code.get(3, 0), sum(v for k, v in by_code.items() if k not in (0, 3))


def _resumed_part(tally: Tally) -> str:
    """`3 resumed from r.jsonl (2 with errors)`; "" when nothing was resumed."""
    if tally.resumed is None or not tally.resumed.assets:
        return ""
    _, errors, not_read = _split(tally.resumed.by_code)
    more = f", {not_read} not read" if not_read else ""
    return f"{tally.resumed.assets} resumed from {tally.resumed_from} ({errors} with errors{more})"


def _not_finished(name: str, tally: Tally) -> str:
    """Why a results file is not finished, as the table's warning says it."""
    shown = printable(name)
    if name in tally.stopped_by:
        return (
            f"WARNING: {shown} is not finished: its last run was interrupted ({printable(tally.stopped_by[name])}) "
            f"before it finished, so some of its assets may be missing. Rerun that task with --resume {shown} (and "
            "the same --output) to check the rest."
        )
    return (
        f"WARNING: {shown} is not finished: its last run wrote no closing summary record (killed, or still "
        f"running), so some of its assets may be missing. Rerun that task with --resume {shown}."
    )


def table(tally: Tally, limit: int = 50, title: str = "gather-job check") -> str:
    """The assets not clean, worst first, the folders skipped, the results not finished, and the totals.

    In a resumed run the totals and the rows are over all the assets of its list, the resumed ones
    (marked) too: they decide the exit code as much as the assets checked now.
    """
    clean, errors, not_read = _split(tally.all_by_code())
    resumed = _resumed_part(tally)
    total = tally.assets + (tally.resumed.assets if tally.resumed else 0)
    how = f"; {tally.assets} checked now, {resumed}" if resumed else ""
    lines = [
        f"{title}: {plural(total, 'asset')}: {clean} clean, {errors} with errors, {not_read} not read{how}."
        + (f" {plural(len(tally.skipped), 'folder')} skipped: no metadata." if tally.skipped else "")
    ]
    lines += [_not_finished(name, tally) for name in tally.unfinished]
    rows = [(*found, "") for found in tally.failed]
    rows += [(*found, "  (resumed)") for found in (tally.resumed.failed if tally.resumed else [])]
    if rows:
        lines.append("")
        lines.append(f"{'exit':>4}  {'errors':>6}  {'warnings':>8}  asset")
        for asset, code, counts, mark in sorted(rows, key=lambda f: (-f[1] if f[1] == 3 else 0, f[0]))[:limit]:
            shown = printable(asset) + mark
            lines.append(f"{code:>4}  {counts.get('error', 0):>6}  {counts.get('warning', 0):>8}  {shown}")
        if len(rows) > limit:
            lines.append(f"... and {len(rows) - limit} more (the JSON Lines results list them all)")
    if tally.skipped:
        lines.append("")
        lines.append("skipped (not checked: no metadata to check; an uploaded asset here lacks its metadata):")
        for name, why in sorted(tally.skipped)[:limit]:
            lines.append(f"  {printable(name)}: {why}")
        if len(tally.skipped) > limit:
            lines.append(f"... and {len(tally.skipped) - limit} more (`skipped` records in the JSON Lines results)")
    return "\n".join(lines)


def printable(name: str) -> str:
    """An asset's name (or a value read from a results file) as a terminal may show it: a prefix named
    `bad\\x1b[31m/` must not colour the table, nor a right-to-left override reverse its line."""
    from gather_job.logs import printable as shown

    return shown(name)


def verdict(outcome: BulkOutcome) -> str:
    """The last line on stderr; after a note when some results lines were not records this tool writes.

    A resumed run says how many assets it resumed and how many of those had errors, and counts them in
    its totals: its exit code is decided over them too (`Tally.all_by_code`).
    """
    tally = outcome.tally
    note = (
        f"gather-job: note: {plural(tally.skipped_lines, 'line')} of the results skipped: cut short (a killed "
        "run's last line) or not a record gather-job writes (an `asset` record's exit_code is one of gather-job's "
        "exit codes, its counts whole numbers of 0 or more).\n"
        if tally.skipped_lines
        else ""
    )
    if tally.unfinished:
        why = [
            f"{printable(name)} (interrupted by {printable(str(tally.stopped_by[name]))})"
            if name in tally.stopped_by
            else f"{printable(name)} (no closing summary record)"
            for name in tally.unfinished
        ]
        note += f"gather-job: warning: not finished: {', '.join(why)}.\n"
    clean, errors, not_read = _split(tally.all_by_code())
    counted = (
        f"{clean} clean, {errors} with errors, {not_read} not read"
        + (f", {plural(len(tally.skipped), 'folder')} skipped (no metadata)" if tally.skipped else "")
        + f" (exit {tally.exit_code})"
    )
    resumed = _resumed_part(tally)
    if tally.interrupted:
        done = f"{plural(tally.assets, 'asset')} checked" + (f" now and {resumed}" if resumed else "")
        return note + (
            f"gather-job: verdict: interrupted by {tally.interrupted} after {done}: {counted}; "
            f"results so far: {outcome.results}. {outcome.rerun}"
        )
    if resumed:
        total = tally.assets + (tally.resumed.assets if tally.resumed else 0)
        return note + (
            f"gather-job: verdict: {plural(total, 'asset')}: {tally.assets} checked now, {resumed}; in all "
            f"{counted}; results: {outcome.results}."
        )
    checked = plural(tally.assets, "asset")
    return note + f"gather-job: verdict: {checked} checked: {counted}; results: {outcome.results}."


def combine(texts: Iterable[str]) -> Tally:
    """One tally from JSON Lines results (see `combine_named`)."""
    return combine_named((f"results {i + 1}", text) for i, text in enumerate(texts))


def combine_named(sources: Iterable[tuple[str, str]]) -> Tally:
    """One tally from named JSON Lines results: every `asset` record, an asset seen twice counted once (the last).

    An asset is one however its PATH is spelled (`sources.identity`); its last record's PATH is shown.
    A folder skipped in one run and checked in another counts as checked. Lines that are not records
    this tool writes are skipped and counted (`Tally.skipped_lines`), so the verdict can say so
    rather than let them change the totals or the exit code. A source whose last run wrote asset
    records and no `summary` record after them (or whose last summary says it was interrupted) is
    named in `Tally.unfinished`: its run was killed, and counting it as complete would call the
    archive clean. When the source itself shows it (an interrupted summary, or records after a
    summary: a resumed run that was killed) the exit says so too (`Tally.ended_early`).
    """
    last: dict[str, Record] = {}
    skipped: dict[str, tuple[str, str]] = {}
    bad = 0
    unfinished: list[str] = []
    stopped_by: dict[str, str] = {}
    ended_early = False
    for name, text in sources:
        open_run, interrupted, closed_before = False, None, False
        for kind, value in _lines(text):
            if kind == "bad":
                bad += 1
            elif kind == "asset":
                last[identity(value[0])] = value
                open_run = True
            elif kind == "summary":
                open_run, interrupted, closed_before = False, value.get("interrupted") or None, True
            elif kind == "skipped":
                skipped[identity(value["asset"])] = (value["asset"], value["reason"])
        if open_run or interrupted:
            unfinished.append(name)
            ended_early = ended_early or bool(interrupted) or closed_before
        if interrupted and not open_run:  # its closing record is there, and says the run was stopped
            stopped_by[name] = interrupted if isinstance(interrupted, str) else "a signal"
    tally = Tally(skipped_lines=bad, unfinished=unfinished, ended_early=ended_early, stopped_by=stopped_by)
    for asset, code, counts in last.values():
        tally.add(asset, code, counts)
    tally.skipped = [found for key, found in skipped.items() if key not in last]
    return tally
