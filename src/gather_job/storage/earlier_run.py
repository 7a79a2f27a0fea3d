"""What an earlier run left where this one reads or writes: a complete asset, and the files it wrote.

Two decisions rest on the earlier run's `gather_report.json`, never on its mere presence:

- **Does the output hold an asset?** (`if_exists`, and "an invalid run leaves a complete result
  alone"). Only when the report says the run wrote its files: a report-only run (`"status":
  "invalid"`) left nothing to protect or to skip over. Counting its report as an asset made a fixed
  rerun with `if_exists: skip` exit 0 with no metadata written, and kept the first failure's report
  beside a second failure with other errors. A report that cannot be read counts as an asset: with
  nothing to tell, leaving it alone is the safe side.
- **Which files in the input folder are the earlier run's outputs?** With `metadata_dir` equal to
  `output_dir` (the pipeline's staging folder, and the default), a rerun found its own
  `procedures.json` (the service's, written last time) beside the service's answer, and failed as a
  duplicate; a merged `acquisition.json` turned the parts into ignored ones. A core file the report
  lists as written, with the same SHA-256, is an output to be replaced, not an input. One edited since
  (a person fixed it by hand) has another checksum and is read as an input, as any file is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any, Protocol

from gather_job.errors import GatherError
from gather_job.findings import Findings
from gather_job.storage.folder import InputProblem

REPORT_NAME = "gather_report.json"
# Written, where a run writes into its input folder, before the old report goes; removed after the new
# one lands: a run killed in between leaves it, so its rerun still knows which files were outputs
MARKER = ".gather-job-writing.json"
_MAX_REPORT = 64 * 1024 * 1024


class _Readable(Protocol):
    def read(self, name: str) -> bytes: ...


def parsed(raw: bytes | None) -> Mapping[str, Any] | None:
    """The report as a mapping, None when it cannot be read as one."""
    if raw is None or len(raw) > _MAX_REPORT:
        return None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def holds_asset(raw: bytes | None) -> bool:
    """Does a folder whose report has these bytes hold a complete asset (an unreadable report: yes)."""
    report = parsed(raw)
    return report is None or report.get("status") != "invalid"


def written_by(raw: bytes | None) -> dict[str, str]:
    """Top-level file name -> SHA-256 of the core files the earlier run wrote (kept originals left out)."""
    report = parsed(raw)
    files = report.get("files") if report is not None and report.get("status") != "invalid" else None
    if not isinstance(files, dict):
        return {}
    return {
        name: str(entry["sha256"])
        for name, entry in files.items()
        if isinstance(name, str) and "/" not in name and name != REPORT_NAME
        if isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
    }


def known_outputs(report: bytes | None, marker: bytes | None) -> dict[str, str | None]:
    """Name -> SHA-256 of what earlier runs wrote here (None: a stopped run was writing it, bytes unknown)."""
    known: dict[str, str | None] = dict(written_by(report))
    said = parsed(marker)
    outputs = said.get("outputs") if said is not None else None
    for name, digest in outputs.items() if isinstance(outputs, dict) else ():
        if isinstance(name, str) and "/" not in name and name not in (REPORT_NAME, MARKER):
            known.setdefault(name, digest if isinstance(digest, str) else None)
    return known


def marker_bytes(known: Mapping[str, str | None], writing: Collection[str]) -> bytes:
    """The marker a run writes before touching its input folder: what earlier runs and this one write."""
    outputs: dict[str, str | None] = {**known, **dict.fromkeys(writing)}  # rewritten: its new bytes unknown yet
    return (json.dumps({"outputs": dict(sorted(outputs.items()))}, indent=1) + "\n").encode()


def outputs_in(folder: _Readable, names: Collection[str], findings: Findings) -> frozenset[str]:
    """The names in `folder` that an earlier run here wrote and nobody changed since: not inputs.

    Only called when the run writes where it reads (a rerun in the staging folder); each listed file
    is read once to compare its checksum, so a first run, with no report, reads nothing more.
    """
    raw: dict[str, bytes | None] = {}
    for name in (REPORT_NAME, MARKER):
        try:
            raw[name] = folder.read(name) if name in names else None
        except (InputProblem, GatherError, OSError):  # unreadable: nothing is known from it
            raw[name] = None
    known = known_outputs(raw[REPORT_NAME], raw[MARKER])
    same: list[str] = []
    changed: list[str] = []
    for name in sorted(n for n in known if n in names):
        expected = known[name]
        try:
            digest = hashlib.sha256(folder.read(name)).hexdigest() if expected is not None else None
        except (InputProblem, GatherError, OSError):  # read again as an input, where the problem is reported
            continue
        (same if digest == expected else changed).append(name)
    if same:
        findings.info(
            "gather.resolve.earlier_output",
            f"{', '.join(same)} {'was' if len(same) == 1 else 'were'} written here by an earlier run "
            f"({REPORT_NAME}, or the marker of a run stopped while writing, lists {'it' if len(same) == 1 else 'them'}"
            "): not read as input; this run writes them again from the inputs.",
            files=tuple(same),
        )
    if changed:
        findings.info(
            "gather.resolve.earlier_output_changed",
            f"{', '.join(changed)} {'was' if len(changed) == 1 else 'were'} written here by an earlier run and "
            "changed since: read as input, as any file in the folder.",
            files=tuple(changed),
        )
    return frozenset(same)


def writes_where_it_reads(output_dir: str | None, source_dir: str | None) -> bool:
    """Is the output the input folder itself (the staging folder; metadata_dir unset or equal)?"""
    if not output_dir or not source_dir:
        return False
    from gather_job.storage import s3uri

    out, source = s3uri.location(output_dir, "output_dir"), s3uri.location(source_dir, "metadata_dir")
    if out is not None or source is not None:
        return out == source
    try:
        return Path(output_dir).samefile(source_dir)
    except OSError:  # one of them does not exist yet
        return Path(output_dir).resolve() == Path(source_dir).resolve()


def is_finished(names: Collection[str], label: str, settings: Any) -> bool:
    """Is the folder `check` reads a finished asset, whose files are final (a missing one is missing)?

    One a run wrote into (its report is there), or an S3 prefix holding what only a gathered asset
    holds (data_description.json, or the indexer's metadata.nd.json), checked without the upload's
    data_description settings. A prefix of an upload's inputs (the parts, before the gather) is not:
    what the service or the settings give it stays open offline, as for a folder at a desk.
    """
    if REPORT_NAME in names:
        return True
    described = settings.data_description_settings
    gathered = "data_description.json" in names or "metadata.nd.json" in names
    return label.startswith("s3://") and gathered and not (described.project_name or described.modalities)
