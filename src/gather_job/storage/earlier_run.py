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
from gather_job.schema import CORE_FILES, file_name
from gather_job.storage.folder import InputProblem

REPORT_NAME = "gather_report.json"
KEPT_INPUTS = "original_metadata"  # the folder a gather keeps its input files in (`target.ORIGINALS`)
_CORE_NAMES = frozenset(file_name(kind) for kind in CORE_FILES)
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
    """Does a folder whose report has these bytes hold a complete asset (an unreadable report: yes)?
    Not when the report says nothing was written there: an invalid run's, or a copy of `check`'s."""
    report = parsed(raw)
    return report is None or report.get("status") not in ("invalid", "checked")


def written_by(raw: bytes | None) -> dict[str, str]:
    """Core file name -> SHA-256 of the core files the earlier run wrote (kept originals and any other
    name left out: nothing gather-job writes at the top is anything else, so a forged entry counts for
    nothing)."""
    report = parsed(raw)
    files = report.get("files") if report is not None and report.get("status") == "written" else None
    if not isinstance(files, dict):
        return {}
    return {
        name: str(entry["sha256"])
        for name, entry in files.items()
        if name in _CORE_NAMES and isinstance(entry, dict) and isinstance(entry.get("sha256"), str)
    }


def known_outputs(report: bytes | None, marker: bytes | None) -> dict[str, list[str]]:
    """Core file name -> the SHA-256s an earlier run's output of that name may have: the report's, and
    those a run stopped while writing said it was about to write (old and new bytes both count)."""
    known: dict[str, list[str]] = {name: [digest] for name, digest in written_by(report).items()}
    said = parsed(marker)
    outputs = said.get("outputs") if said is not None else None
    for name, digests in outputs.items() if isinstance(outputs, dict) else ():
        if name in _CORE_NAMES and isinstance(digests, list):
            for digest in digests:
                if isinstance(digest, str) and digest not in known.setdefault(name, []):
                    known[name].append(digest)
    return {name: digests for name, digests in known.items() if digests}


def marker_bytes(known: Mapping[str, list[str]]) -> bytes:
    """The marker: for each output, every checksum it may have (a run adds a file's new one before the
    file lands, so a kill at any moment leaves the file with a listed checksum, or absent)."""
    return (json.dumps({"outputs": {name: known[name] for name in sorted(known)}}, indent=1) + "\n").encode()


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
    for name in _unbuildable(raw[REPORT_NAME], names):
        known.pop(name, None)  # merged from parts no longer there: the file is all that is left of them, an input
    same: list[str] = []
    changed: list[str] = []
    for name in sorted(n for n in known if n in names):
        try:
            digest = hashlib.sha256(folder.read(name)).hexdigest()
        except (InputProblem, GatherError, OSError):  # read again as an input, where the problem is reported
            continue
        (same if digest in known[name] else changed).append(name)
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


def _unbuildable(report: bytes | None, names: Collection[str]) -> list[str]:
    """Outputs the earlier report says were merged from parts that are gone: this run cannot write them
    again, so they are read as inputs (else the file, the only copy of those parts, would be removed)."""
    sources = (parsed(report) or {}).get("sources")
    if not isinstance(sources, dict):
        return []
    gone = []
    for name, source in sources.items():
        parts = source.get("parts") if isinstance(source, dict) and source.get("from") == "merged" else None
        if isinstance(parts, list) and any(part not in names for part in parts if isinstance(part, str)):
            gone.append(str(name))
    return gone


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


def is_finished(folder: _Readable, names: Collection[str], label: str, settings: Any) -> bool:
    """Is the folder `check` reads a finished asset, whose files are final (a missing one is missing)?

    One a run wrote its files into (its report says so: an invalid run's does not), a folder holding
    the indexer's metadata.nd.json or the inputs a gather keeps (original_metadata/), or an S3 prefix
    holding data_description.json, checked without the upload's data_description settings. A prefix of an
    upload's inputs (the parts, before the gather) is not: what the service or the settings give it
    stays open offline, as for a folder at a desk.
    """
    if REPORT_NAME in names:
        try:
            return holds_asset(folder.read(REPORT_NAME))
        except (InputProblem, GatherError, OSError):
            return True  # a report that cannot be read: nothing to tell, the files are taken as they are
    described = settings.data_description_settings
    if described.project_name or described.modalities:
        return False  # the upload's settings are given: what they build is still to come
    if {"metadata.nd.json", KEPT_INPUTS} & set(names):
        return True  # the indexer's file, or the inputs a gather keeps: a gathered asset, local or on S3
    return label.startswith("s3://") and "data_description.json" in names
