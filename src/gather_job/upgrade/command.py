"""`gather-job upgrade DIR --output-dir OUT`: a folder of aind-data-schema 1.x files, made 2.x, offline.

This job reads 2.x only, and `check` on a 1.x folder says so (`gather.resolve.legacy_only`,
`gather.file.schema_1x`); this command is the fix it names. It upgrades every 1.x core file of DIR
(rig.json, session.json, or any core file whose schema_version is 0.x or 1.x) in one record with
aind-metadata-upgrader (`upgrader.py`, an optional extra), so the steps that read another file work;
copies DIR's other JSON files as they are, so OUT is the whole metadata folder in 2.x and `gather-job
check OUT` checks the asset, not a part of it; validates every file it writes as `check` reads it; and
lists everything the upgrader filled in or assumed (`changes.py`), since those guesses need a
person before upload. A copied file that `check` reads as a core file (or part of one) is validated
too: a 1.x body under a schema_version that is not "0.x"/"1.x" (`1`, `"2.3.3"`) is written as it is,
but the command names its errors and exits 3 instead of saying that every file validates.

It never writes into DIR, nor a folder inside it (the upload would carry it along), and never replaces
a file OUT already holds unless `--overwrite` says so: a file written by an earlier upgrade may have
been edited since. Each file is written atomically (`storage.atomic`). Files that do not validate are
written too, because the user fixes them there, and the command says so and exits 3; a 1.x file that
needed the network exits 4. Nothing is written until the whole upgrade has run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shlex
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from gather_job.errors import ExitCode, GatherError, ServiceError, UsageError
from gather_job.findings import Findings
from gather_job.progress import Progress
from gather_job.schema import CORE_FILES, file_name, is_legacy_version
from gather_job.storage import atomic
from gather_job.storage.folder import InputProblem, LocalFolder
from gather_job.upgrade import upgrader

_OUTPUT_ONLY = ("gather_report.json", "metadata.nd.json")  # what a run writes; never an input to upgrade
# "1.0.3", "0.6", and the looser "1" and "v1.0.3", which the upgrader reads as 1.x too (packaging's Version)
UPGRADE_TIMEOUT_S = 600


class NotYetValid(GatherError):
    """Upgraded files were written but some do not validate yet, or a 1.x file could not be upgraded (exit 3).

    Defined here rather than in errors.py because only this command raises it; InvalidMetadata carries a
    job Outcome, which an upgrade does not have.
    """

    exit_code = ExitCode.INVALID


@dataclass
class Inputs:
    """DIR's JSON files, sorted into those to upgrade, to copy, and to leave out (with why)."""

    name: str
    legacy: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)  # record key -> (file, document)
    copies: dict[str, bytes] = field(default_factory=dict)
    copied_documents: dict[str, dict[str, Any]] = field(default_factory=dict)  # the copies that are JSON objects
    left_out: dict[str, str] = field(default_factory=dict)


@dataclass
class Output:
    """One file for OUT: its bytes, where they came from, and what still fails validation."""

    name: str
    data: bytes
    source: str
    versions: str = ""
    errors: list[dict[str, Any]] = field(default_factory=list)  # location, message, hint
    kind: str = ""  # a copy validated as this core file ("" for a copy `check` does not read as metadata)


def _source(value: str) -> Path:
    if "://" in value:
        raise UsageError(
            f"upgrade reads a local folder, not {value}.",
            hint="Copy the asset's metadata files to a folder first (e.g. aws s3 cp --recursive).",
        )
    path = Path(value)
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a folder"
        raise UsageError(f"DIR '{value}' {what}.", hint="Give the folder that holds the 1.x JSON files.")
    return path


def _output(value: str, source: Path) -> Path:
    """OUT, refused when it is DIR or inside it, compared by inode where the path exists (bind mounts too)."""
    if "://" in value:
        raise UsageError(f"--output-dir must be a local folder, not {value}.", hint="Upload the checked folder later.")
    out = Path(value)
    probe = out.resolve()
    while True:
        if probe.exists() and probe.samefile(source):
            where = "is" if probe == out.resolve() else "is inside"
            raise UsageError(
                f"--output-dir '{value}' {where} the folder being upgraded ('{source}'): upgrade never writes "
                "into the folder it reads.",
                hint=f"Write beside it, e.g. --output-dir {shlex.quote(str(source.resolve()) + '-v2')}.",
            )
        if probe.parent == probe:
            break
        probe = probe.parent
    if out.exists() and not out.is_dir():
        raise UsageError(f"--output-dir '{value}' is a file, not a folder.", hint="Give a new or empty folder.")
    return out


def _usage(name: str, message: str, hint: str) -> UsageError:
    return UsageError(f"{name} cannot be upgraded: {message}", hint=hint)


def read_inputs(source: Path) -> Inputs:
    """Sort DIR's JSON files: 1.x core files to upgrade, other JSON to copy, the rest left out with why."""
    from gather_job.pipeline.load import decode_json

    folder = LocalFolder(source)
    inputs = Inputs(name=source.resolve().name)
    for name in folder.names():
        if not name.endswith(".json") or name in _OUTPUT_ONLY or atomic.is_temporary(name):
            continue
        stem = name.removesuffix(".json")
        try:
            raw = folder.read(name)
        except InputProblem as problem:
            if stem in upgrader.KINDS:
                raise _usage(name, problem.message, problem.hint) from problem
            inputs.left_out[name] = problem.message
            continue
        findings = Findings()
        data = decode_json(name, raw, findings)
        if not isinstance(data, dict):
            if stem in upgrader.KINDS:
                first = next(iter(findings))
                raise _usage(name, first.message, first.hint or "Fix the JSON, then upgrade again.")
            inputs.copies[name] = raw  # not core metadata: not this command's to judge
            continue
        version = data.get("schema_version")
        if stem not in ("rig", "session") and not is_legacy_version(version):
            inputs.copies[name] = raw  # 2.x, or not metadata; either way validated if `check` reads it (`to_check`)
            inputs.copied_documents[name] = data
        elif stem in upgrader.KINDS:
            inputs.legacy[stem] = (name, data)
        else:
            inputs.left_out[name] = (
                f"aind-data-schema {version} metadata, but the upgrader takes core files by their own names "
                "(rig.json, session.json, subject.json, ...): rename it to upgrade it"
            )
    _settle_names(inputs, source)
    return inputs


def to_check(inputs: Inputs) -> dict[str, tuple[str, dict[str, Any]]]:
    """The copies `check OUT` reads as core files or their parts (name -> kind, document), by its own
    name rules over what OUT will hold: they are validated as the upgraded files are."""
    from gather_job.pipeline.plan import plan_files

    names = [file_name(upgrader.target(kind)) for kind in inputs.legacy] + list(inputs.copies)
    return {
        name: (kind, inputs.copied_documents[name])
        for kind, name in plan_files(names).inputs()
        if name in inputs.copied_documents
    }


def _settle_names(inputs: Inputs, source: Path) -> None:
    """Two inputs for one 2.x name: both 1.x is ambiguous (refused); a 2.x file wins over a 1.x one, as in `run`."""
    for old, new in upgrader.RENAMED.items():
        if old not in inputs.legacy:
            continue
        if new in inputs.legacy:
            raise UsageError(
                f"{source} has both {old}.json and {new}.json in aind-data-schema 1.x; both would become {new}.json.",
                hint="Keep the one that describes this asset, then upgrade again.",
            )
        if f"{new}.json" in inputs.copies:
            inputs.left_out[f"{old}.json"] = f"{new}.json is in the folder and is what the job reads"
            del inputs.legacy[old]
    if not inputs.legacy:
        raise UsageError(
            f"{source} holds no aind-data-schema 1.x file to upgrade (rig.json, session.json, or a core file "
            "whose schema_version is 0.x or 1.x).",
            hint=f"Check it as it is: gather-job check {shlex.quote(str(source))} --offline",
        )
    data_description = inputs.legacy.get("data_description", ("", {}))[1]
    if isinstance(data_description.get("name"), str) and data_description["name"]:
        inputs.name = data_description["name"]


def _run_upgrader(inputs: Inputs, source: Path, environ: Mapping[str, str]) -> upgrader.Result:
    """The upgrade, in the child process `upgrader.main` (a fixed hash seed: the same bytes on every run),
    which also validates the copies `check` reads (this process never imports a model)."""
    if importlib.util.find_spec("aind_metadata_upgrader") is None:
        raise UsageError(
            "gather-job upgrade needs the aind-metadata-upgrader package, which is not installed.",
            hint=upgrader.INSTALL_HINT,
        )
    request = {
        "documents": {kind: document for kind, (_, document) in inputs.legacy.items()},
        "name": inputs.name,
        "location": str(source.resolve()),
        "check": {name: [kind, document] for name, (kind, document) in to_check(inputs).items()},
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "gather_job.upgrade.upgrader"],
            input=json.dumps(request).encode(),
            capture_output=True,
            env={**environ, "PYTHONHASHSEED": "0"},
            timeout=UPGRADE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ServiceError(
            f"aind-metadata-upgrader did not finish in {UPGRADE_TIMEOUT_S} s; nothing was written. It waits without "
            "a time limit when it looks a value up on the web (EMAPA ids of retro-orbital and intraperitoneal "
            "injections) and the network neither answers nor refuses.",
            hint="Run it again where the network is reachable, or where it is cut off entirely (then it fails at once "
            "and says which file needs it).",
        ) from exc
    lines = done.stdout.decode("utf-8", "replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1])
    except (IndexError, ValueError):
        tail = "\n".join(done.stderr.decode("utf-8", "replace").strip().splitlines()[-20:])
        raise RuntimeError(f"the upgrade process ended (exit {done.returncode}) without an answer:\n{tail}") from None
    if "missing" in answer:
        raise UsageError(answer["missing"], hint=upgrader.INSTALL_HINT)
    return upgrader.result_from_json(answer["result"])


def _outputs(inputs: Inputs, result: upgrader.Result) -> list[Output]:
    by_target = {upgrader.target(kind): name_doc for kind, name_doc in inputs.legacy.items()}
    outputs = []
    for kind in CORE_FILES:
        if kind not in result.written:
            continue
        source, document = by_target[kind]
        written = result.written[kind]
        versions = f"{document.get('schema_version') or '?'} -> {result.files[kind].get('schema_version') or '?'}"
        outputs.append(Output(file_name(kind), written.text.encode(), source, versions, written.errors))
    kinds = {name: kind for name, (kind, _) in to_check(inputs).items()}
    outputs += [
        Output(name, data, "", errors=result.checked.get(name, []), kind=kinds.get(name, ""))
        for name, data in sorted(inputs.copies.items())
    ]
    return outputs


def _refuse_existing(out: Path, names: list[str], overwrite: bool) -> None:
    held = sorted(name for name in names if (out / name).exists() or (out / name).is_symlink())
    if held and not overwrite:
        raise UsageError(
            f"--output-dir '{out}' already holds {', '.join(held)}: from an earlier upgrade, maybe edited since.",
            hint="Give a new or empty folder, or add --overwrite to replace these files.",
        )


def _write(out: Path, outputs: list[Output], overwrite: bool) -> None:
    """Every file atomically, under the folder's lock; existing files refused again there (a concurrent run)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with atomic.locked(out):
            _refuse_existing(out, [o.name for o in outputs], overwrite)
            atomic.remove_dead_temporaries(out)
            for output in outputs:
                atomic.replace(out / output.name, output.data)
    except OSError as exc:
        raise UsageError(
            f"--output-dir '{out}' cannot be written: {exc.strerror or exc}.", hint="Choose a folder you can write."
        ) from exc


def command(args: argparse.Namespace, environ: Mapping[str, str], err: IO[str], stdout: IO[str]) -> None:
    """Upgrade, validate, write, tell; exit 0 when every 1.x file was upgraded and every file validates."""
    source = _source(args.dir)
    out = _output(args.output_dir, source)
    inputs = read_inputs(source)
    planned = [file_name(upgrader.target(kind)) for kind in inputs.legacy] + list(inputs.copies)
    _refuse_existing(out, planned, args.overwrite)
    progress = Progress(err)
    try:
        with progress.step(f"upgrading {len(inputs.legacy)} files with aind-metadata-upgrader"):
            result = _run_upgrader(inputs, source, environ)
        outputs = _outputs(inputs, result)
        with progress.step(f"writing {len(outputs)} files"):
            _write(out, outputs, args.overwrite)
    finally:
        progress.close()
    from gather_job.upgrade.report import render

    stdout.write(render(out, inputs, result, outputs))
    stdout.flush()
    _verdict(out, inputs, result, outputs)


def _verdict(out: Path, inputs: Inputs, result: upgrader.Result, outputs: list[Output]) -> None:
    then = f"Then: gather-job check {shlex.quote(str(out))} --offline"
    offline = {kind: f for kind, f in result.failed.items() if f.network}
    if offline:
        names = ", ".join(inputs.legacy[kind][0] for kind in offline)
        raise ServiceError(
            f"{names} could not be upgraded without the network: aind-metadata-upgrader looks some values up on the "
            "web (EMAPA ids of retro-orbital and intraperitoneal injections, a derived asset's parents in DocDB).",
            hint=f"Run the same command where the network is reachable, with --overwrite; the rest is in {out}.",
        )
    invalid = [o.name for o in outputs if o.errors]
    failed = [inputs.legacy[kind][0] for kind in result.failed]
    if invalid or failed:
        parts = []
        if failed:
            parts.append(f"{', '.join(failed)} could not be upgraded")
        if invalid:
            verb = "does" if len(invalid) == 1 else "do"
            parts.append(f"{', '.join(invalid)} {verb} not validate yet (written to {out}, to be fixed there)")
        raise NotYetValid("; ".join(parts) + ": the lines above say why.", hint=f"Fix them. {then}")
