"""Checks of single setting values: modality and institution names, URLs, paths, seconds.

Kept apart from the settings model so the model reads as the list of settings; every check here
raises ValueError (which pydantic turns into an error located at the field) or says what is wrong.
aind-data-schema-models is imported inside the checks that need it, never at import time.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from gather_job.suggest import did_you_mean


def modality_abbreviation(item: Any) -> str:
    from aind_data_schema_models.modalities import Modality

    if isinstance(item, str):
        abbreviation = item
    elif isinstance(item, dict):
        abbreviation = item.get("abbreviation") or ""
        if not abbreviation and item.get("name"):
            by_name = {m.name: a for a, m in Modality.abbreviation_map.items()}
            abbreviation = str(by_name.get(item["name"], item["name"]))
        known_as = Modality.from_abbreviation(abbreviation) if isinstance(abbreviation, str) else None
        if known_as is not None and item.get("name") not in (None, known_as.name):
            # {name, abbreviation} that disagree: one of them is a slip, and which one cannot be known
            raise ValueError(
                f"the modality {{name: {item['name']!r}, abbreviation: {abbreviation!r}}} names two things: "
                f"{abbreviation!r} is {known_as.name!r}; give the abbreviation alone, or both as the schema spells them"
            )
    elif hasattr(item, "abbreviation"):
        abbreviation = item.abbreviation
    else:
        raise ValueError(f"a modality must be an abbreviation or a {{name, abbreviation}} object, not {item!r}")
    if Modality.from_abbreviation(abbreviation) is None:
        known = sorted(Modality.abbreviation_map)
        raise ValueError(
            f"unknown modality '{abbreviation}'{did_you_mean(abbreviation, known)}; valid: {', '.join(known)}"
        )
    return str(abbreviation)


def group_value(value: Any) -> str:
    """A data_description `group` (an enum member or its value) as its value."""
    from aind_data_schema_models.data_name_patterns import Group

    raw = value.value if isinstance(value, Group) else value
    known = [g.value for g in Group]
    if raw not in known:
        raise ValueError(f"unknown group {raw!r}{did_you_mean(str(raw), known)}; valid: {', '.join(known)}")
    return str(raw)


def institution_abbreviation(value: Any) -> str:
    from aind_data_schema_models.organizations import Organization

    if isinstance(value, dict):
        value = value.get("abbreviation") or value.get("name") or ""
    elif hasattr(value, "abbreviation"):
        value = value.abbreviation or value.name
    if not isinstance(value, str):
        # pydantic turns only ValueError into a located ValidationError
        raise ValueError(f"institution must be an abbreviation such as 'AIND', not {value!r}")  # noqa: TRY004
    if Organization.from_abbreviation(value) is not None:
        return value
    by_name = Organization.from_name(value)
    if by_name is not None:  # 94 organizations have no abbreviation (Stanford University): kept by name
        return str(by_name.abbreviation or by_name.name)
    known = {*Organization.abbreviation_map, *Organization.name_map}
    raise ValueError(
        f"unknown institution '{value}'{did_you_mean(value, known)}; use an abbreviation such as 'AIND', "
        "or the organization's full name as aind-data-schema-models lists it"
    )


def endpoint_problem(value: str, field: str, default: str) -> str | None:
    """Why an endpoint setting is not a path on metadata_service_url, or None. A whole URL there would be
    glued onto it; which host is asked is what metadata_service_url alone decides."""
    if "://" in value or value.startswith("//") or any(c in value for c in "?#"):
        return f"{value!r} is not a path: {field} is a path on metadata_service_url such as {default!r}; " + (
            "to ask another service, set metadata_service_url"
        )
    return None


class RefusedUrl(str):
    """A refused URL's shown text (all an error may print); `problem` says why it was refused."""

    problem = ""


def escaped(text: str) -> str:
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def shown_url(value: str, limit: int = 200) -> str:
    """A URL as a message may show it: no user:password@, no query values, no #fragment, what is not printable
    escaped."""
    scheme = re.match(r"[A-Za-z][A-Za-z0-9+.-]*:/+", value)
    at = value.partition("?")[0].rfind("@")  # a password may hold '/', so all before the last '@' goes
    text = value if at < 0 else value[: scheme.end() if scheme and scheme.end() <= at else 0] + "***" + value[at:]
    text = re.sub(r"#.+", "#***", text) if value[:3].lower() != "s3:" else text  # '#' is legal in an S3 key
    return escaped(re.sub(r"([?&;][^=&#/]*=)[^&#]*", r"\1***", text))[:limit]


def url_problem(value: str, *, aws: bool = False) -> str | None:
    """Why `value` cannot be a base URL (an S3/SSM endpoint if `aws`): "is not ...", "has ..."; None if it can."""
    odd = next((i for i, c in enumerate(value) if c.isspace() or not c.isprintable()), None)
    if odd is not None:
        what = "a space" if value[odd] == " " else f"the character {escaped(value[odd])}"
        return f"contains {what} at position {odd + 1}; a URL has none (percent-encode it, or remove it)"
    try:
        port = (parts := urlsplit(value)).port
    except ValueError:
        port = 0
    if port == 0:
        return "is not a valid URL: an IPv6 address's '[' is not closed, or the port is not a number from 1 to 65535"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "is not an http:// or https:// URL with a host, such as http://aind-metadata-service"
    if parts.query or parts.fragment or "?" in value or "#" in value:
        return "has a query or a fragment (?... or #...), which a base URL cannot have"
    if aws and "@" in parts.netloc:  # boto3 signs with its own credentials, never these
        return "has a user:password@, which AWS clients never use; give credentials as AWS_* variables or a profile"
    return None


def path_problem(value: str) -> str | None:
    """Why `value` cannot be a local path or S3 URI as typed ("is empty", "starts with '~' ..."); None if it can.

    Each of these is a slip, never a name someone meant: an empty value (a template variable that expanded
    to nothing) would silently fall back to another folder; a space at either end or a control character
    comes from copying; and `~` is expanded only by a shell, so in JSON or the environment it would make a
    folder literally named `~` in the working directory. Expanding it here instead would depend on the
    HOME of whatever user the container runs as; asking for the full path is predictable.
    """
    if not value.strip():
        return "is empty: leave the setting out (or null) to use its default, or give a path"
    if value != value.strip():
        end = "begins" if value[0].isspace() else "ends"
        return (
            f"{end} with a space or a line break ({escaped(value)}); remove it (rename the folder if its name has one)"
        )
    odd = next((c for c in value if not c.isprintable() and c != " "), None)
    if odd is not None:
        return f"holds the control character {escaped(odd)}; give a path without it"
    if value.startswith("~"):
        return (
            "starts with '~', which only a shell expands: here it would be a folder literally named "
            f"'{value.split('/')[0]}' in the folder the job runs in; write the full path (e.g. /home/me/out) "
            "or one relative to where the job runs"
        )
    return None
