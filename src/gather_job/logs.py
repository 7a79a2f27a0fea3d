"""Logging on stderr: plain lines, or one JSON object per line (`--log-format json`), never a secret.

Every record passes `Redacting` before it is formatted, at every level: at DEBUG botocore logs its
request headers (Authorization, X-Amz-Security-Token), signed URLs and whole response bodies (an
STS AssumeRole answer carries a SecretAccessKey and a SessionToken), and urllib3 logs the URLs it
opens (with any user:password@). `redact` is the same masking for text that does not go through
logging: error messages built by the service client and the AWS wrapper.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}


# Credentials that libraries put in DEBUG lines (botocore logs its request headers).
SECRET_ENVIRONMENT = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN")
MASK = "***"

# Names of values that are secrets, wherever they appear: key=value, "key": "value", <Key>value</Key>,
# a header line, a query parameter. Kept broad on purpose: masking a harmless value costs little.
_WORDS = (
    r"secret|token|passw(?:or)?d|passwd|credential|signature|api[_-]?key|apikey|"
    r"access[_-]?key(?:[_-]?id)?|private[_-]?key|session[_-]?id"
)
_NAME = rf"[a-z0-9_.-]*?(?:{_WORDS})[a-z0-9_.-]*"
_QUERY_NAME = rf"[a-z0-9_.-]*?(?:{_WORDS}|sig|key|auth|code)[a-z0-9_.-]*"  # ?sig= (SAS), ?key= (API keys)
_QUOTE = r"[\\'\"]*"  # quotes around a key or value, escaped or not: 'k', "k", \"k\"
_BYTES = r"(?:(?-i:b)(?=['\"]))?"  # the b of a bytes repr, b'...'
# key=value, or "key": value / key: "value" (a colon alone is prose: "credentials: AWS_ACCESS_KEY_ID ...")
_SEPARATOR = rf"(?:{_QUOTE}\s*=\s*{_BYTES}{_QUOTE}|[\\'\"]+\s*:\s*{_BYTES}{_QUOTE}|\s*:\s*{_BYTES}[\\'\"]+)"
_SECRET_KEY = re.compile(rf"(?i)^(?:{_NAME}|(?:proxy-)?authorization|(?:set-)?cookie)$")  # a mapping's key
# an http(s) URL's fragment: never sent to a server, so what is there is a slip or a secret (a token
# pasted after '#'); masked whole, like a password. Other schemes are left alone: '#' is legal in S3 keys.
_FRAGMENT = re.compile(r"(?i)(\bhttps?://[^\s'\"<>#]*#)[^\s'\"<>]+")
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_FRAGMENT, r"\1" + MASK),
    # user:password@ (or a token alone as user@) in any URL, up to the last @ of the authority
    (re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://)[^/?#\s'\"<>@]*(?:@[^/?#\s'\"<>@]*)*@"), r"\1" + MASK + "@"),
    # a secret-named query parameter: ?token=, &X-Amz-Signature=, &X-Amz-Credential=, &sig=, ...
    (re.compile(rf"(?i)([?&;]{_QUERY_NAME}=)[^&#\s'\"<>]+"), r"\1" + MASK),
    # an XML element whose name says secret: <SecretAccessKey>, <SessionToken>, <AccessKeyId>
    (
        re.compile(
            r"(?i)(<(?:[a-z0-9]+:)?[a-z0-9]*(?:secret|token|password|accesskey|signature|credential)[a-z0-9]*"
            r"(?:\s[^>]*)?>)[^<]*"
        ),
        r"\1" + MASK,
    ),
    # headers, in a line or a dict repr: Authorization: ..., 'Cookie': b'...', X-Amz-Security-Token: ...
    (
        re.compile(
            r"(?i)((?:proxy-)?authorization|x-amz-security-token|(?:set-)?cookie|x-api-key|x-auth-token)"
            rf"({_QUOTE}\s*[:=]\s*{_BYTES}{_QUOTE})[^'\"\n\\\\]+"
        ),
        r"\1\2" + MASK,
    ),
    # key=value and JSON "key": "value" for secret-named keys (aws_secret_access_key, "SecretAccessKey")
    (re.compile(rf"(?i)\b({_NAME}{_SEPARATOR})[^\\\\'\"\s,;&}}<>)\]]+"), r"\1" + MASK),
    # botocore's signing DEBUG lines: "Signature:\n<hex>"
    (re.compile(r"(?i)(signature:\s*)[0-9a-f]{16,}"), r"\1" + MASK),
    # Credential=AKIA.../date/region in a SigV4 Authorization value or a presigned URL
    (re.compile(r"(?i)(credential=)[^/\s,'\"&]+"), r"\1" + MASK),
    # Bearer <token> outside a header
    (re.compile(r"(?i)\b(bearer)\s+[a-z0-9._~+/=-]{16,}"), r"\1 " + MASK),
    # AWS access key ids by their shape, wherever they are
    (re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA)[A-Z0-9]{12,}\b"), MASK),
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with known secret values and credential-shaped parts replaced by ***."""
    for secret in sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def without_fragments(text: str) -> str:
    """`text` with the fragment (#...) of every http(s) URL in it masked: for text that is shown without
    `redact` (an error paragraph may echo a refused URL as it was given)."""
    return _FRAGMENT.sub(r"\1" + MASK, text)


def printable(text: str) -> str:
    """`text` with what a terminal would act on escaped: control and format characters (an ANSI escape,
    a CR that rewrites a line, a right-to-left override) and lone surrogates (undecodable bytes)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def printable_text(text: str) -> str:
    """`printable`, keeping line breaks and tabs: for a paragraph or a block of lines shown to a person."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in "\n\t" else c.encode("unicode_escape").decode("ascii") for c in text)


def _clean_value(value: Any, secrets: Iterable[str]) -> Any:
    """An `extra=` field with its text masked, keeping its JSON shape (lists, objects, numbers)."""
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_clean_value(item, secrets) for item in value]
    if isinstance(value, dict):
        return {str(k): MASK if _SECRET_KEY.search(str(k)) else _clean_value(v, secrets) for k, v in value.items()}
    return redact(repr(value) if isinstance(value, bytes) else str(value), secrets)


class Redacting(logging.Filter):
    """Masks known secret values and credential-shaped text in every record before it is written.

    The message, the traceback text, the stack and every `extra=` field are cleaned here, so no
    formatter ever sees the raw values.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def clean(self, text: str) -> str:
        return redact(text, self.secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string: show what there is rather than drop the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg = self.clean(message)
        record.args = ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        if record.stack_info:
            record.stack_info = self.clean(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in _STANDARD:
                record.__dict__[key] = _clean_value(value, self.secrets)
        return True


class JsonFormatter(logging.Formatter):
    """timestamp, level, logger, message, plus any `extra=` context fields (file, subject_id, ...)."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text  # the text Redacting cleaned
        if record.stack_info:
            entry["stack"] = record.stack_info
        line = json.dumps(entry, default=lambda value: redact(str(value)), ensure_ascii=False)
        return line.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate as \udcff: valid UTF-8


class _TextFormatter(logging.Formatter):
    """The plain format, with what a terminal would act on (an ANSI escape from a file's key, a
    right-to-left override) and what is not valid text (a lone surrogate) escaped: stderr stays
    readable, valid UTF-8. A traceback keeps its line breaks."""

    def format(self, record: logging.LogRecord) -> str:
        return printable_text(super().format(record))


def configure(level: str, fmt: str, secrets: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler()
    handler.addFilter(Redacting(secrets))
    handler.addFilter(lambda record: not record.name.startswith("gather_job.findings"))  # printed as a report
    handler.setFormatter(JsonFormatter() if fmt == "json" else _TextFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    resolved = logging.getLevelName(level.upper())
    root.setLevel(resolved if isinstance(resolved, int) else logging.WARNING)
