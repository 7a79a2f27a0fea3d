"""Lazy access to aind-data-schema's core models.

Importing them takes 1-2 s, so nothing imports this module's targets at start-up: the CLI's light
commands never touch them, and a run starts its service requests before the first `model_class` call.
"""

from __future__ import annotations

import gc
import importlib
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

# Metadata's own order of core files; output and reports follow it.
CORE_FILES = (
    "subject",
    "data_description",
    "procedures",
    "instrument",
    "processing",
    "acquisition",
    "quality_control",
    "model",
)
MERGEABLE = ("instrument", "acquisition", "quality_control")

_CLASSES = {
    "subject": ("aind_data_schema.core.subject", "Subject"),
    "data_description": ("aind_data_schema.core.data_description", "DataDescription"),
    "procedures": ("aind_data_schema.core.procedures", "Procedures"),
    "instrument": ("aind_data_schema.core.instrument", "Instrument"),
    "processing": ("aind_data_schema.core.processing", "Processing"),
    "acquisition": ("aind_data_schema.core.acquisition", "Acquisition"),
    "quality_control": ("aind_data_schema.core.quality_control", "QualityControl"),
    "model": ("aind_data_schema.core.model", "Model"),
}


def file_name(kind: str) -> str:
    """The core file's standard name (equal to the model's `default_filename()`, pinned by a test)."""
    return f"{kind}.json"


@cache
def model_class(kind: str) -> Any:
    module, name = _CLASSES[kind]
    return getattr(importlib.import_module(module), name)


# Core files only ever read from an asset's folder: a run imports their models only when it has them.
FOLDER_ONLY = ("processing", "quality_control", "model")


_paused_at_start = False


def pause_collector() -> None:
    """Called first by the console script: no cyclic collection until the models are imported.

    The start-up imports (pydantic, the settings models, this package) only grow a heap of classes
    and schemas, which each collection walks again: ~0.03 s of a one-asset run's ~1.4 s of CPU.
    `import_models` resumes the collector; a command that never imports them is short and leaves
    it paused until it exits.
    """
    global _paused_at_start
    if gc.isenabled():
        gc.disable()
        _paused_at_start = True


def import_models(kinds: Iterable[str] = CORE_FILES) -> None:
    """Import the core models of `kinds`, with the cyclic GC paused: pydantic builds thousands of
    schema objects here and the collector would walk them again and again. Afterwards they are frozen
    out of the collector's view, so the collections of the run itself stay cheap (and the exit skips
    them). Metadata itself is never imported: `pipeline/asset_rules.py` owns its checks."""
    global _paused_at_start
    enabled = gc.isenabled() or _paused_at_start
    gc.disable()
    try:
        for kind in kinds:
            model_class(kind)
    except Exception as exc:
        # pydantic turns a Ctrl-C or SIGTERM that lands while it builds a schema into a SchemaError:
        # an interruption, not a bug (exit 1)
        if _interrupted(exc):
            raise KeyboardInterrupt from exc
        raise
    finally:
        gc.freeze()
        if enabled:
            _paused_at_start = False
            gc.enable()


def _interrupted(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, KeyboardInterrupt) or "KeyboardInterrupt" in str(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def few_full_collections(threshold2: int = 1000) -> Iterator[None]:
    """Hold back the collector's full (oldest-generation) passes while one asset is gathered.

    Validated models are large trees with few cycles, freed by reference counting; each full pass
    walks all of them, and as the heap grows Python runs them again and again: at 300x nine full
    passes took 2.4 s of a 10 s run. Young collections still run, so short-lived cycles (exceptions,
    tracebacks) are collected as before; the old threshold comes back afterwards, so a process that
    checks many assets collects what is left between them.
    """
    before = gc.get_threshold()
    gc.set_threshold(before[0], before[1], max(before[2], threshold2))
    try:
        yield
    finally:
        gc.set_threshold(*before)


_LEGACY_VERSION = re.compile(r"\s*[vV]?[01](?:\.|\s*$)")


def is_legacy_version(version: Any) -> bool:
    """Whether a schema_version says aind-data-schema 0.x or 1.x, read as aind-metadata-upgrader reads it
    ("1.0.3", "1", "v1.0.3"). Only a string can: a number (`1`) is no version the upgrader reads, and such
    a file is validated as 2.x, so its errors are shown. One rule for `check` and `upgrade`."""
    return isinstance(version, str) and _LEGACY_VERSION.match(version) is not None


def object_type(kind: str) -> str:
    """The `object_type` a file of this kind must declare ('Data description', 'Instrument', ...)."""
    return str(model_class(kind).model_fields["object_type"].default)


def schema_version() -> str:
    """The version of the aind-data-schema code imported: its own `__version__` once a run has imported
    it (a distribution lookup scans every installed package's metadata, ~3 ms), else what pip installed
    (`upgrade` never imports the library in its own process)."""
    import sys

    found = getattr(sys.modules.get("aind_data_schema"), "__version__", None)
    if isinstance(found, str):
        return found
    from importlib.metadata import version

    return version("aind-data-schema")
