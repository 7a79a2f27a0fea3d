"""Findings for people: grouped by file, errors first, each with its id, location, value and fix.

`run`'s stderr summary and `check`'s report use the same rendering, so a finding reads the same
wherever it is seen; `gather_report.json` and `check --json` carry the same data as JSON.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gather_job.findings import Finding, Findings, Severity
from gather_job.logs import printable, printable_text

if TYPE_CHECKING:
    from gather_job.job import Outcome

WIDTH = 100
REPORT = "gather_report.json"
VERDICTS = {
    1: "a bug in gather-job (exit 1)",
    2: "unusable settings or input (exit 2)",
    3: "invalid metadata (exit 3)",
    4: "a service failed; retry later (exit 4)",
    5: "output refused (exit 5)",
    130: "interrupted (exit 130)",
    141: "stopped: standard output was closed by its reader (exit 141)",
}
LABELS = {Severity.error: "ERROR", Severity.warning: "WARNING", Severity.info: "note"}
COLOURS = {Severity.error: "\033[1;31m", Severity.warning: "\033[33m", Severity.info: "\033[2m"}
RESET = "\033[0m"


@dataclass(frozen=True)
class View:
    """How findings are shown: from which severity on (notes only with -v) and in colour or not."""

    min_severity: Severity = Severity.warning
    colour: bool = False

    def shows(self, finding: Finding) -> bool:
        return finding.severity.rank <= self.min_severity.rank


def _group(finding: Finding) -> str:
    return printable(finding.files[0]) if finding.files else "(settings and asset)"


def _wrap(text: str, indent: str) -> str:
    """Wrapped, with what a terminal would act on escaped: a finding quotes the files' keys and values,
    and an ANSI escape or a right-to-left override there must show as text, not act."""
    return textwrap.fill(
        printable_text(text), WIDTH, initial_indent=indent, subsequent_indent=indent, break_on_hyphens=False
    )


def _escaped_context(context: str) -> list[str]:
    """A file's line and the caret under it, the line escaped (`printable`) and the caret moved with it."""
    shown: list[str] = []
    raw: list[str] = context.splitlines()
    for i, line in enumerate(raw):
        if i and line.strip() == "^":
            column = line.index("^")
            shown.append(" " * len(printable(raw[i - 1][:column])) + "^")
        else:
            shown.append(printable(line))
    return shown


def render_finding(finding: Finding, view: View = View()) -> str:
    label = f"{LABELS[finding.severity]:<7}"
    if view.colour:
        label = f"{COLOURS[finding.severity]}{label}{RESET}"
    head = f"  {label} {printable(finding.id)}"
    if finding.location:
        head += f"  at {printable(finding.location)}"
    lines = [head, _wrap(finding.message, " " * 10)]
    if finding.context:
        lines += [" " * 12 + line for line in _escaped_context(finding.context)]
    if finding.value is not None and str(finding.value) not in finding.message:
        lines.append(_wrap(f"value: {json.dumps(finding.value, ensure_ascii=False)}", " " * 10))
    if len(finding.files) > 1:
        lines.append(_wrap("files: " + ", ".join(finding.files), " " * 10))
    if finding.hint:
        lines.append(_wrap(f"fix: {finding.hint}", " " * 10))
    return "\n".join(lines)


def render(findings: Findings | Iterable[Finding], view: View = View()) -> str:
    """The findings grouped by file (the group with the worst finding first)."""
    items = findings.sorted() if isinstance(findings, Findings) else list(findings)
    groups: dict[str, list[Finding]] = {}
    for finding in items:
        if view.shows(finding):
            groups.setdefault(_group(finding), []).append(finding)
    blocks = []
    for name, group in groups.items():
        blocks.append(name + "\n" + "\n".join(render_finding(f, view) for f in group))
    return "\n\n".join(blocks)


def counts(findings: Findings) -> str:
    e, w, i = (findings.count(s) for s in (Severity.error, Severity.warning, Severity.info))
    return f"{e} error{'s' * (e != 1)}, {w} warning{'s' * (w != 1)}, {i} note{'s' * (i != 1)}"


_NOUNS = {"error": "error", "warning": "warning", "info": "note"}


def _many(count: int, severity: str) -> str:
    return f"{count} {_NOUNS.get(severity, severity)}{'s' * (count != 1)}"


def policy_effect(outcome: Outcome | None) -> str:
    """What the findings policy changed, for the headline and the verdict ("" when nothing).

    The counts people read are the counts after the policy: a policy that ignores every error turns an
    invalid asset into "0 errors", so the text must say that a policy did it (the report lists each rule).
    """
    if outcome is None or outcome.gathered is None:
        return ""
    ignored: dict[str, int] = {}
    moved: dict[tuple[str, str], int] = {}
    for effect in outcome.gathered.policy:
        for change in effect.get("changed", []):
            if change["to"] == "ignore":
                ignored[change["from"]] = ignored.get(change["from"], 0) + 1
            else:
                moved[change["from"], change["to"]] = moved.get((change["from"], change["to"]), 0) + 1
    order = list(_NOUNS)
    parts = []
    if ignored:
        total = sum(ignored.values())
        detail = ", ".join(_many(ignored[s], s) for s in order if s in ignored)
        parts.append(f"{total} finding{'s' * (total != 1)} ignored ({detail})")
    for (old, new), count in sorted(moved.items(), key=lambda item: (order.index(item[0][0]), order.index(item[0][1]))):
        verb = "demoted" if order.index(new) > order.index(old) else "promoted"
        parts.append(f"{_many(count, old)} {verb} to {_NOUNS[new]}")
    return "policy: " + ", ".join(parts) if parts else ""


def tally(findings: Findings) -> dict[str, int]:
    return {s.value: findings.count(s) for s in Severity}


def json_lines(outcome: Outcome, view: View = View(Severity.info), extra: Mapping[str, Any] | None = None) -> str:
    """JSON Lines: one `finding` record a line, then one `summary` record with the verdict and counts."""
    more = dict(extra or {})
    lines = [
        json.dumps({"type": "finding", **more, **f.to_json()}, ensure_ascii=False)
        for f in outcome.findings.sorted()
        if view.shows(f)
    ]
    lines.append(json.dumps({"type": "summary", **more, **summary_record(outcome)}, ensure_ascii=False))
    return "".join(line + "\n" for line in lines)


def summary_record(outcome: Outcome) -> dict[str, Any]:
    """The verdict as data: status, exit code, counts, and what `check` could not settle here."""
    gathered = outcome.gathered
    return {
        "status": outcome.status,
        "exit_code": int(outcome.exit_code),
        "verdict": verdict_words(outcome, int(outcome.exit_code)),
        "counts": tally(outcome.findings),
        "open": open_items(gathered) if gathered is not None else "",
    }


def _origin(origin: Mapping[str, Any]) -> str:
    kind = origin.get("from")
    if kind == "merged":
        text = "merged from " + " + ".join(origin.get("parts", []))
        return text + (" (incl. the service's record)" if origin.get("service") else "")
    if kind == "service":
        return f"from the metadata service ({origin.get('url')})"
    if kind == "file":
        return f"from {origin.get('file')}"
    if origin.get("built_from"):
        return f"built from the {origin['built_from']}"
    return "?"


def _state(doc: Any) -> str:
    """What became of a file that gave no valid model: not read, not merged, or passed on invalid."""
    if getattr(doc, "model", None) is not None:
        return ""
    if doc.origin.get("from") == "merged":
        return "  (not merged: see the errors)"
    if doc.origin.get("built_from"):
        return "  (not built: see the errors)" if doc.data is None else "  (not valid: see the errors)"
    return "  (not valid: see the errors)" if doc.data is not None else "  (not read: see the errors)"


def sources(documents: Mapping[str, Any], service_calls: list[str], folder: str) -> str:
    """A few lines: which file came from where, and which services were asked."""
    width = max((len(f"{kind}.json") for kind in documents), default=0)
    lines = [f"checked {folder}:"]
    lines += [f"  {kind + '.json':<{width}}  {_origin(doc.origin)}{_state(doc)}" for kind, doc in documents.items()]
    lines.append("  metadata service: " + (", ".join(service_calls) if service_calls else "not asked"))
    return "\n".join(lines)


def why_nothing_written(raise_if_invalid: bool) -> str:
    """Why an invalid run wrote no core file: the setting, or a core file it could not make."""
    if raise_if_invalid:
        return "raise_if_invalid=true"
    return "a core file could not be made: gather.output.missing_core_file"


def summary(outcome: Outcome, view: View = View()) -> str:
    """The human summary of a run or check: a headline, where files came from, the findings."""
    if outcome.status == "skipped" or outcome.gathered is None:
        return f"gather-job: {outcome.target} already holds a gathered asset; skipped (if_exists=skip)."
    gathered = outcome.gathered
    tally = "; ".join(filter(None, [counts(outcome.findings), policy_effect(outcome)]))
    if outcome.status == "invalid":
        where = f"Report: {outcome.target}/{REPORT}"
        if REPORT not in outcome.files:
            where = f"{outcome.target} holds a complete earlier result, which was left as it was (no report there)"
        head = (
            f"gather-job: the metadata is invalid ({tally}); no core file was written "
            f"({why_nothing_written(gathered.settings.raise_if_invalid)}). {where}"
        )
    elif outcome.status == "checked":
        verdict = "errors must be fixed before upload" if outcome.exit_code else _ready(gathered)
        still_open = open_items(gathered)
        if still_open and not outcome.exit_code:
            verdict = f"no error in what could be checked here; still open until upload: {still_open}"
        head = f"gather-job check: {tally}; {verdict}."
    else:
        cores = [n for n in outcome.written if n != REPORT and "/" not in n]
        kept = len([n for n in outcome.written if "/" in n])
        also = f", and kept {kept} input file(s) under original_metadata/uploaded_json/" if kept else ""
        head = f"gather-job: wrote {len(cores)} files and {REPORT} to {outcome.target}{also} ({tally})"
    from gather_job.schema import CORE_FILES

    ordered = {kind: gathered.documents[kind] for kind in CORE_FILES if kind in gathered.documents}
    parts = [head, sources(ordered, gathered.service_calls, gathered.folder_label)]
    body = render(outcome.findings, view)
    return "\n\n".join(parts + ([body] if body else []))


def _ready(gathered: Any) -> str:
    """A clean check: of files still to upload, or of a gathered or uploaded asset, whose files are final."""
    return "valid as it is (a gathered asset)" if getattr(gathered, "final", False) else "ready for upload"


def open_items(gathered: Any) -> str:
    """What `check` could not see (offline, or without the upload's settings) and the checks left open."""
    names = {
        "subject": "subject.json",
        "procedures": "procedures.json",
        "service_procedures": "the service's procedures",
        "data_description": "data_description.json",
        "funding": "funding",
        "investigators": "investigators",
    }
    unseen = [names.get(kind, kind) for kind in sorted(gathered.unchecked)]
    checks = f"{len(gathered.open_checks)} whole-asset check(s)" if gathered.open_checks else ""
    return ", ".join([*unseen, *([checks] if checks else [])])


def verdict_words(outcome: Outcome, code: int) -> str:
    if outcome.status == "skipped":
        return "skipped"
    ready = _ready(outcome.gathered)
    if outcome.status == "checked" and outcome.gathered is not None and open_items(outcome.gathered):
        ready = f"no error found here, open until upload: {open_items(outcome.gathered)}"
    what = {"written": "written", "checked": ready if code == 0 else "errors to fix before upload"}
    head = what.get(outcome.status) or VERDICTS.get(code, outcome.status)
    return f"{head} (exit {code})" if outcome.status in ("written", "checked") else head


def verdict(outcome: Outcome | None, code: int, report_path: str | None = None) -> str:
    """The last stderr line of every run: what happened, the exit code, the counts, where the report is.

    The pipeline shows only the tail of stderr and calls any non-zero exit FAILED; this line says why.
    """
    if outcome is None:
        return f"gather-job: verdict: {VERDICTS.get(code, f'exit {code}')}; no report written."
    if outcome.status == "skipped":
        return f"gather-job: verdict: skipped (exit 0): {outcome.target} already holds a gathered asset."
    places = [f"{outcome.target}/{REPORT}"] if REPORT in outcome.files else []
    places += [report_path] if report_path else []
    where = f"report: {', '.join(places)}" if places else "no report written"
    found = "; ".join(filter(None, [counts(outcome.findings), policy_effect(outcome)]))
    return f"gather-job: verdict: {verdict_words(outcome, code)}: {found}; {where}."
