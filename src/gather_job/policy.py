"""A findings policy: rules that ignore, demote or promote findings before the exit code is decided.

A policy is a list of rules `{"id": "<glob>", "file": "<glob>" (optional), "severity": "error" |
"warning" | "info" | "ignore"}`; for each finding the first rule whose id glob matches its id (and
whose file glob, if any, matches one of its files) decides its severity, or drops it. It comes from
`--policy FILE` or the settings key `findings_policy` (so a job_type can carry one). What each rule
changed goes into the report; a rule that matched nothing is a warning (a typo would otherwise
silently leave a policy without effect).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

from gather_job.findings import Finding, Findings, Severity
from gather_job.settings.model import PolicyRule


def _matches(rule: PolicyRule, finding: Finding) -> bool:
    if not fnmatchcase(finding.id, rule.id):
        return False
    return rule.file is None or any(fnmatchcase(name, rule.file) for name in finding.files)


def apply(findings: Findings, rules: Sequence[PolicyRule]) -> tuple[Findings, list[dict[str, Any]]]:
    """The findings as the policy has them, and per rule: how many it matched and what it changed."""
    if not rules:
        return findings, []
    kept = Findings()
    effects: list[dict[str, Any]] = [
        {"rule": rule.model_dump(exclude_none=True), "matched": 0, "changed": []} for rule in rules
    ]
    for finding in findings:
        for rule, effect in zip(rules, effects, strict=True):
            if not _matches(rule, finding):
                continue
            effect["matched"] += 1
            if rule.severity != finding.severity.value:
                effect["changed"].append({"id": finding.id, "from": finding.severity.value, "to": rule.severity})
            if rule.severity != "ignore":
                kept.extend([replace(finding, severity=Severity(rule.severity))])
            break
        else:
            kept.extend([finding])
    for index, (rule, effect) in enumerate(zip(rules, effects, strict=True)):
        if effect["matched"] == 0:
            where = f" in {rule.file!r}" if rule.file else ""
            kept.warning(
                "gather.policy.unused_rule",
                f"Findings policy rule {index + 1} (id {rule.id!r}{where} -> {rule.severity}) matched no finding.",
                location=f"findings_policy[{index}]",
                value=rule.id,
                hint="Check the glob against the finding ids in the README's table (a typo leaves a rule "
                "without effect); remove the rule if it is no longer needed.",
            )
    return kept, effects
