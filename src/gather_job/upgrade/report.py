"""The text `gather-job upgrade` prints: which file became which, what the upgrader guessed, what still fails.

Printed on stdout, like `check`'s summary; the one-paragraph error for exit 3 or 4 follows on stderr.
The order is the order of the work a person has left: files that do not validate, then the guesses to
confirm, then what was left out, then the next command.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gather_job.schema import schema_version
from gather_job.upgrade import changes, upgrader

if TYPE_CHECKING:
    from gather_job.upgrade.command import Inputs, Output

_SAID = 40  # lines of the upgrader's own output shown
_WAYS = {
    "record": "the whole record at once",
    "files": "each file on its own in one record, without the upgrader's whole-record step",
    "one by one": "each file alone: the whole record could not be upgraded",
}
_MADE_UP = {
    "procedures": "an empty Procedures, because subject.json came without procedures.json; at upload the job "
    "takes procedures from the metadata service",
}


def _headline(out: Path, inputs: Inputs, result: upgrader.Result, outputs: list[Output]) -> str:
    upgraded = [o for o in outputs if o.source]
    invalid = [o for o in outputs if o.errors]  # a copied file too: "every file validates" must be true
    text = f"gather-job upgrade: {len(upgraded)} of {len(inputs.legacy)} aind-data-schema 1.x files upgraded to 2.x"
    if result.failed:
        text += f", {len(result.failed)} could not be"
    if invalid:
        return text + f"; {len(invalid)} written but not valid yet: fix them in {out}."
    return text + ("; every file written validates." if upgraded else ".")


def _files(out: Path, inputs: Inputs, result: upgrader.Result, outputs: list[Output]) -> list[str]:
    lines = [
        "",
        f"wrote {out} (aind-metadata-upgrader {result.version}, aind-data-schema {schema_version()}; "
        f"{_WAYS[result.way]}):",
    ]
    width = max([len(o.name) for o in outputs] + [20]) + 2
    for output in outputs:
        count = len(output.errors)
        state = "valid" if not count else f"NOT VALID ({count} error{'s' if count > 1 else ''})"
        if not output.source and not output.kind:
            lines.append(f"  {output.name:<{width}} copied as it is (not 1.x, not core metadata)")
            continue
        if not output.source:
            version = _version(inputs.copied_documents[output.name])
            lines.append(f"  {output.name:<{width}} copied as it is ({version}, not upgraded)    {state}")
        else:
            lines.append(f"  {output.name:<{width}} from {output.source:<{width}} {output.versions:<18} {state}")
        for error in output.errors[:8]:
            where = f"{error['location']}: " if error.get("location") else ""
            lines.append(f"      {where}{error['message']}")
            if error.get("hint"):
                lines.append(f"        fix: {error['hint']}")
        if len(output.errors) > 8:
            lines.append(f"      ... and {len(output.errors) - 8} more (gather-job check shows them all)")
        if count and not output.source:
            lines.append(
                "      if it is aind-data-schema 1.x: set its schema_version to the 1.x version it was made with "
                '(e.g. "1.0.3") in the folder read, and upgrade again with --overwrite.'
            )
    return lines


def _version(document: dict[str, Any]) -> str:
    """What a copied file's schema_version says, as the reason it was copied rather than upgraded."""
    if "schema_version" not in document:
        return "no schema_version"
    version = document["schema_version"]
    if isinstance(version, str) and version.startswith("2."):
        return f"schema_version {version}"
    return f"schema_version {json.dumps(version)}: neither 1.x nor 2.x"


def _left_out(inputs: Inputs, result: upgrader.Result) -> list[str]:
    lines = []
    for kind, failure in result.failed.items():
        why = "needs the network, which it could not reach: " if failure.network else ""
        lines.append(f"  {inputs.legacy[kind][0]}: not upgraded: {why}{failure.message}")
    lines += [f"  {name}: not upgraded, not copied: {why}" for name, why in sorted(inputs.left_out.items())]
    lines += [
        f"  {kind}.json: made by the upgrader, not written: {_MADE_UP.get(kind, 'no 1.x file gave it')}"
        for kind in result.made_up
    ]
    return ["", "left out:", *lines] if lines else []


def _guesses(inputs: Inputs, result: upgrader.Result, outputs: list[Output]) -> list[str]:
    by_target = {upgrader.target(kind): name_doc for kind, name_doc in inputs.legacy.items()}
    lines = []
    for output in outputs:
        kind = output.name.removesuffix(".json")
        if not output.source or kind not in result.files:
            continue
        source, document = by_target[kind]
        found = changes.review({source: document}, result.files[kind], result.before_repairs.get(kind))
        if found:
            lines.append(f"  {output.name}")
            lines += [f"    {line}" for line in found]
    if not lines:
        return []
    return ["", "check what the upgrader filled in or assumed (edit the file where it guessed wrong):", *lines]


def _said(result: upgrader.Result) -> list[str]:
    lines = []
    if result.record_problem:
        lines += [
            "",
            "the upgrader's whole-record step did not run, so its repairs (placeholder devices, time zones) were "
            f"not made: {result.record_problem}",
        ]
    if result.said:
        lines += ["", "the upgrader said:", *[f"  {line}" for line in result.said[:_SAID]]]
        if len(result.said) > _SAID:
            lines.append(f"  ... and {len(result.said) - _SAID} more lines")
    if result.library_warnings:
        lines += [
            "",
            f"aind-data-schema warned {result.library_warnings} times while upgrading; `gather-job check` reports "
            "what remains in the files.",
        ]
    return lines


def render(out: Path, inputs: Inputs, result: upgrader.Result, outputs: list[Output]) -> str:
    """The whole report, ending with the command to run next."""
    lines = [_headline(out, inputs, result, outputs)]
    lines += _files(out, inputs, result, outputs)
    lines += _guesses(inputs, result, outputs)
    lines += _left_out(inputs, result)
    lines += _said(result)
    lines += ["", f"next: gather-job check {shlex.quote(str(out))} --offline"]
    return "\n".join(lines) + "\n"
