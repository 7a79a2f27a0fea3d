"""gather_report.json: what a run used, found and wrote, versioned and safe to publish.

The report travels with the asset, possibly to an open bucket: no secret in any form, no absolute
local path (a local folder is named by its last part), no host beyond the configured metadata
service (S3/SSM endpoints and the AWS profile show only that they were set). Where each file came
from stays readable: file names relative to the metadata folder, and the service's URLs.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from gather_job.findings import Findings, Severity
from gather_job.service import redact_url

REPORT_VERSION = 1
_SECRET_KEY = re.compile(r"secret|token|password|passwd|credential|access_key|api_key", re.IGNORECASE)
_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)


def redact(value: Any, key: str = "") -> Any:
    """Settings as they may be shown: secret-looking keys masked, credentials cut out of URLs."""
    if isinstance(value, Mapping):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(item, key) for item in value]
    if key and _SECRET_KEY.search(key) and value not in (None, ""):
        return "***"
    if isinstance(value, str) and _URL.match(value):
        return redact_url(value)
    return value


LOCAL_PATHS = ("metadata_dir", "output_dir", "report", "job_type_source")
PRIVATE = ("s3_endpoint_url", "ssm_endpoint_url", "aws_profile")
_NOT_LOCAL = re.compile(r"^(s3://|ssm:)", re.IGNORECASE)


def published(settings: Mapping[str, Any]) -> dict[str, Any]:
    """The settings as the report shows them: redacted, local paths cut to their last part, endpoints hidden."""
    shown: dict[str, Any] = dict(redact(settings))
    for key in LOCAL_PATHS:
        value = shown.get(key)
        if isinstance(value, str) and value and not _NOT_LOCAL.match(value):
            name = value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
            shown[key] = f".../{name}" if name else "..."
    for key in PRIVATE:
        if shown.get(key):
            shown[key] = "(set)"
    return shown


def _local_forms(settings: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Each local path setting's absolute forms (as given, absolute, resolved), longest first, with
    what the report shows instead. A finding may name its folder (an upgrade command, a link's
    target); relative forms are left alone, since they could be any word of a message."""
    from pathlib import Path

    pairs: dict[str, str] = {}
    for key in LOCAL_PATHS:
        value = settings.get(key)
        if isinstance(value, str) and value and not _NOT_LOCAL.match(value):
            shown = str(published({key: value})[key])
            for path in (value, str(Path(value).absolute()), str(Path(value).resolve())):
                form = path.rstrip("/")
                if form.startswith("/") and len(form) > 1:
                    pairs.setdefault(form, shown)
                    quoted = shlex.quote(form)  # in a command a hint gives: the opening quote on, the end open
                    if quoted != form:  # ('/a/it'"'"'s dir-v2' starts with it too)
                        pairs.setdefault(quoted[:-1], "'" + shown.replace("'", "'\"'\"'"))
    return sorted(pairs.items(), key=lambda pair: -len(pair[0]))


def _without_local(value: Any, forms: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for form, shown in forms:
            value = value.replace(form, shown)
        return value
    if isinstance(value, Mapping):
        return {k: _without_local(v, forms) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_local(item, forms) for item in value]
    return value


def build_report(
    *,
    command: str,
    status: str,
    exit_code: int,
    tool_version: str,
    schema_version: str,
    settings: Mapping[str, Any],
    sources: Mapping[str, Any],
    findings: Findings,
    files: Mapping[str, Any],
    service_calls: list[str],
    timings: Mapping[str, float],
    policy: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "report_version": REPORT_VERSION,
        "tool": {"name": "gather-job", "version": tool_version, "aind_data_schema": schema_version},
        "command": command,
        "status": status,
        "exit_code": exit_code,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "summary": {s.value: findings.count(s) for s in Severity},
        "settings": published(settings),
        "sources": dict(sources),
        "findings": _without_local([f.to_json() for f in findings.sorted()], _local_forms(settings)),
        "files": dict(files),
        "service_calls": [redact_url(url) for url in service_calls],
        "timings_s": dict(timings),
        "policy": list(policy or []),
    }


def dumps(report: Mapping[str, Any]) -> bytes:
    return (json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")
