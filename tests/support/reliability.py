"""Collects what the reliability tests saw, for docs/reliability.md (written by `conftest`)."""

from __future__ import annotations

from collections import defaultdict

OUTCOMES: dict[str, list[bool]] = defaultdict(list)


def record(fault: str, ok: bool) -> None:
    OUTCOMES[fault].append(ok)


def table() -> str:
    lines = ["| fault | runs | outcome |", "|---|---|---|"]
    for fault in sorted(OUTCOMES):
        runs = OUTCOMES[fault]
        good = sum(runs)
        outcome = "as specified" if good == len(runs) else f"{len(runs) - good} FAILED"
        lines.append(f"| {fault} | {len(runs)} | {outcome} |")
    return "\n".join(lines)
