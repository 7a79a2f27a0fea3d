"""aind-metadata-upgrader, called for `gather-job upgrade`: 1.x documents in, 2.x documents out, offline.

The upgrader is an optional extra (`pip install 'gather-job[upgrade]'`) and is imported only here, only
when the command runs: `--help`, `run` and `check` never load it. It needs no network for a raw asset:
its DocDB client is built at import without I/O and asked only for the parents of a derived asset whose
parent is derived too, and aind-data-schema-models looks EMAPA ids up on the web only for retro-orbital
and intraperitoneal injections. Such a failure is reported as needing the network, never hidden, and
nothing in either library is patched to avoid it.

The upgrade is tried three ways; the first that works is used:

1. the whole record at once (`Upgrade(record)`): cross-file steps work (the session reads the rig) and
   the record-level repairs run (placeholder devices for names no component has, naive times as US
   Pacific, creation_time moved after the acquisition). It fails when the record is invalid as a whole,
   e.g. without subject.json, which the service gives at upload;
2. the same record without the record-level step (`skip_metadata_validation=True`): each file upgraded
   and validated on its own;
3. each file in a record of its own, so that a file the upgrader cannot handle does not stop the others.

When (1) works, (2) runs too and the two are compared: the differences are what the record-level
repairs changed, and the user is shown them. What the upgrader prints and logs is captured and shown;
aind-data-schema's own warnings are only counted (`gather-job check OUT` reports those that concern
the written files).

It runs in a child process (`python -m gather_job.upgrade.upgrader`, documents in on stdin, a JSON result out
on stdout) started with PYTHONHASHSEED=0: the upgrader builds device lists from sets, so under Python's
random string hashing two runs on the same files would order placeholder devices and active_devices
differently, and a re-run must give the same bytes. The child also validates what it made, and the
files the command copies that `check` reads as core files, with the same code `check` uses, so the
command itself never imports a model.
"""

from __future__ import annotations

import copy
import importlib
import io
import json
import logging
import re
import socket
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import asdict, dataclass, field
from typing import Any

from gather_job.errors import UsageError
from gather_job.findings import Findings, Severity

# 1.x file names the upgrader takes (the stem is its record key), in its own order; rig and session
# become instrument and acquisition. `model` has no 1.x upgrader.
KINDS = (
    "subject",
    "data_description",
    "procedures",
    "instrument",
    "processing",
    "acquisition",
    "quality_control",
    "rig",
    "session",
)
RENAMED = {"rig": "instrument", "session": "acquisition"}
INSTALL_HINT = "Install it with: pip install 'gather-job[upgrade]' (or pip install aind-metadata-upgrader)."
_OUTPUTS = ("subject", "data_description", "procedures", "instrument", "processing", "acquisition", "quality_control")
_LINE_CHARS = 240
_ALONE_NOTE = "Procedures core file is missing but subject is present"
_MESSAGE_CHARS = 600


def target(kind: str) -> str:
    """The 2.x core file a 1.x record key becomes."""
    return RENAMED.get(kind, kind)


@dataclass
class Failure:
    """Why one 1.x file could not be upgraded; `network`: it needed the network and had none."""

    message: str
    network: bool


@dataclass
class Written:
    """A 2.x file as it is to be written, and what `check` would report as errors in it (dicts with
    location, message, hint)."""

    text: str
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Result:
    """What the upgrader made. `files`: 2.x kind -> JSON-ready document, for the inputs given only."""

    version: str
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    written: dict[str, Written] = field(default_factory=dict)  # kind -> the file's bytes (text) and errors
    checked: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # a copied file -> its errors
    way: str = "record"  # "record", "files" (way 2) or "one by one" (way 3)
    record_problem: str | None = None  # why the whole-record step (way 1) did not work
    failed: dict[str, Failure] = field(default_factory=dict)  # 1.x record key -> why
    made_up: list[str] = field(default_factory=list)  # 2.x kinds the upgrader added without an input
    before_repairs: dict[str, dict[str, Any]] = field(default_factory=dict)  # kind -> the file before way 1's repairs
    said: list[str] = field(default_factory=list)  # the upgrader's own log lines and prints
    library_warnings: int = 0


class _Heard(logging.Handler):
    """What one attempt printed, logged and warned; collected instead of reaching the user's terminal raw."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self.lines: list[str] = []
        self.library = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "root" or record.name.startswith("aind_metadata_upgrader"):  # the upgrader logs on root
            self.lines.append(f"{record.levelname.lower()}: {record.getMessage()}")
        elif record.levelno >= logging.WARNING:
            self.library += 1

    @contextmanager
    def listening(self) -> Iterator[None]:
        """Route the root logger, stdout, stderr and warnings here for the duration, then restore them."""
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        for handler in handlers:
            root.removeHandler(handler)
        root.addHandler(self)
        root.setLevel(logging.INFO)
        printed = io.StringIO()
        try:
            with redirect_stdout(printed), redirect_stderr(printed), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                yield
        finally:
            root.removeHandler(self)
            for handler in handlers:
                root.addHandler(handler)
            root.setLevel(level)
        self.library += len(caught)
        self.lines.extend(_printed_lines(printed.getvalue()))


def _printed_lines(text: str) -> list[str]:
    """Printed lines, tracebacks left out (the exception they belong to is reported on its own)."""
    lines: list[str] = []
    in_traceback = False
    for line in text.splitlines():
        if line.startswith("Traceback (most recent call last)"):
            in_traceback = True
            continue
        if in_traceback:
            in_traceback = line.startswith((" ", "\t")) or not line.strip()
            continue
        if line.strip():
            lines.append(line.strip())
    return lines


@dataclass
class _Attempt:
    metadata: dict[str, dict[str, Any]] | None
    error: BaseException | None
    heard: _Heard


def load() -> tuple[Any, str]:
    """The upgrader's `Upgrade` class and version; a UsageError (exit 2) saying how to install it if missing."""
    try:
        module = importlib.import_module("aind_metadata_upgrader.upgrade")
        version = str(getattr(importlib.import_module("aind_metadata_upgrader"), "__version__", "?"))
    except ImportError as exc:
        raise UsageError(
            f"gather-job upgrade needs the aind-metadata-upgrader package, which cannot be imported ({exc}).",
            hint=INSTALL_HINT,
        ) from exc
    return module.Upgrade, version


def _jsonable(value: Any) -> dict[str, Any] | None:
    """A core file as plain JSON data, whether the upgrader left a model (maybe built without validation) or a dict."""
    if value is None:
        return None
    if hasattr(value, "model_dump"):
        dumped: dict[str, Any] = value.model_dump(mode="json", warnings=False)
        return dumped
    from pydantic_core import to_jsonable_python

    plain: dict[str, Any] = to_jsonable_python(value)
    return plain


def _attempt(upgrade_class: Any, record: dict[str, Any], *, skip: bool) -> _Attempt:
    """One call of the upgrader on a deep copy of `record` (it edits what it is given)."""
    heard = _Heard()
    with heard.listening():
        try:
            metadata = upgrade_class(copy.deepcopy(record), skip_metadata_validation=skip).metadata
            files = {kind: _jsonable(getattr(metadata, kind, None)) for kind in _OUTPUTS}
        except Exception as exc:  # the upgrader's code on the user's data: whatever it raises is about the data
            return _Attempt(None, exc, heard)
    return _Attempt({k: v for k, v in files.items() if v is not None}, None, heard)


def describe(error: BaseException) -> str:
    """An exception as one line: pydantic's input echoes and links left out, long text cut."""
    lines = []
    for line in str(error).splitlines():
        if line.strip().startswith("For further information"):
            continue
        lines.append(line.split(" [type=")[0].strip())
    text = re.sub(r"\s+", " ", " ".join(lines)).strip() or type(error).__name__
    text = f"{type(error).__name__}: {text}"
    return text if len(text) <= _MESSAGE_CHARS else text[: _MESSAGE_CHARS - 3] + "..."


def needs_network(error: BaseException | None) -> bool:
    """Whether the error (or one it came from) is a failed connection: the upgrader tried the network."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, (ConnectionError, TimeoutError, socket.gaierror)):
            return True
        if type(error).__module__.split(".")[0] in ("requests", "urllib3"):
            return True
        error = error.__cause__ or error.__context__
    return False


def upgrade(documents: dict[str, dict[str, Any]], name: str, location: str) -> Result:
    """Upgrade the 1.x `documents` (record key -> decoded JSON) of one asset named `name`."""
    upgrade_class, version = load()
    result = Result(version=version)
    wanted = {target(kind) for kind in documents}
    record = {"name": name, "location": location, **documents}
    whole = _attempt(upgrade_class, record, skip=False)
    if whole.metadata is not None:
        result.files = {k: v for k, v in whole.metadata.items() if k in wanted}
        result.made_up = [k for k in whole.metadata if k not in wanted]
        _finish(result, [whole])
        unrepaired = _attempt(upgrade_class, record, skip=True)
        if unrepaired.metadata is not None:
            result.before_repairs = {
                k: v for k, v in unrepaired.metadata.items() if k in result.files and v != result.files[k]
            }
        return result
    result.record_problem = describe(whole.error or RuntimeError("no result"))
    together = _attempt(upgrade_class, record, skip=True)
    if together.metadata is not None:
        result.way = "files"
        result.files = {k: v for k, v in together.metadata.items() if k in wanted}
        result.made_up = [k for k in together.metadata if k not in wanted]
        _finish(result, [together])
        return result
    result.way = "one by one"
    attempts = []
    for kind, document in documents.items():
        alone = _attempt(upgrade_class, {"name": name, "location": location, kind: document}, skip=True)
        attempts.append(alone)
        made = (alone.metadata or {}).get(target(kind))
        if made is None:
            error = alone.error or RuntimeError("the upgrader returned nothing for it")
            result.failed[kind] = Failure(describe(error), needs_network(error))
        else:
            result.files[target(kind)] = made
    if needs_network(whole.error) or result.record_problem in {f.message for f in result.failed.values()}:
        result.record_problem = None  # the same cause, said with the file it is about instead
    # alone, subject.json always comes without procedures.json: the upgrader's note about that is ours, not news
    _finish(result, attempts, drop=_ALONE_NOTE)
    return result


def _finish(result: Result, attempts: list[_Attempt], drop: str | None = None) -> None:
    """Keep what the attempts whose output is used said: each line once, in order, cut to a readable length."""
    for attempt in attempts:
        result.library_warnings += attempt.heard.library
        for line in attempt.heard.lines:
            if drop and drop in line:
                continue
            shown = line if len(line) <= _LINE_CHARS else line[: _LINE_CHARS - 3] + "..."
            if shown not in result.said:
                result.said.append(shown)


def _validated(kind: str, document: dict[str, Any]) -> Written:
    """The text to write (the library's own form when valid) and the errors `check` would report in it."""
    from gather_job.pipeline.load import validate
    from gather_job.schema import file_name

    name = file_name(kind)
    first = Findings()
    model = validate(kind, name, document, first)
    if model is None:
        return Written(json.dumps(document, indent=3, ensure_ascii=False), _errors(first))
    text = model.model_dump_json(indent=3)
    found = Findings()  # the file as written, read back as `check` reads it
    validate(kind, name, json.loads(text), found)
    return Written(text, _errors(found))


def checked(kind: str, name: str, document: dict[str, Any]) -> list[dict[str, Any]]:
    """The errors `check` reports in a copied file `name`, read as the core file `kind`."""
    from gather_job.pipeline.load import validate

    found = Findings()
    validate(kind, name, document, found)
    return _errors(found)


def _errors(found: Findings) -> list[dict[str, Any]]:
    """The error findings as plain data for the parent: location, message, hint."""
    return [
        {"location": f.location, "message": f.message, "hint": f.hint} for f in found if f.severity is Severity.error
    ]


def result_from_json(data: dict[str, Any]) -> Result:
    """The child's answer, back into a Result."""
    result = Result(**{k: v for k, v in data.items() if k not in ("failed", "written")})
    result.failed = {k: Failure(**v) for k, v in data["failed"].items()}
    result.written = {k: Written(**v) for k, v in data["written"].items()}
    return result


def main() -> int:
    """The child: a request on stdin, the Result (or why the upgrader is missing) as the last line of stdout."""
    request = json.loads(sys.stdin.buffer.read())
    try:
        result = upgrade(request["documents"], request["name"], request["location"])
    except UsageError as missing:
        answer: dict[str, Any] = {"missing": missing.message}
    else:
        quiet = _Heard()
        with quiet.listening():  # validation may warn; `check OUT` reports what matters
            result.written = {kind: _validated(kind, document) for kind, document in result.files.items()}
            # the files copied as they are: validated alike, or a 1.x body under a 2.x schema_version passes unseen
            result.checked = {name: checked(kind, name, doc) for name, (kind, doc) in request["check"].items()}
        answer = {"result": asdict(result)}
    sys.stdout.buffer.write(b"\n" + json.dumps(answer, ensure_ascii=True).encode() + b"\n")
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
