"""The README documents what the code does: every finding id, every setting, both set-up commands."""

from __future__ import annotations

import re
from pathlib import Path

from gather_job.settings.model import JobSettings

README = Path("README.md").read_text()
SOURCES = "\n".join(p.read_text() for p in Path("src/gather_job").rglob("*.py"))
DYNAMIC = [
    "gather.merge.instrument_mismatch",
    "gather.merge.acquisition_mismatch",
    "gather.data_description.no_funding",
    "gather.data_description.no_investigators",
]


def test_every_finding_id_is_in_the_readme_table() -> None:
    ids = set(re.findall(r'"(gather\.[a-z_]+\.[a-z_]+)"', SOURCES)) | set(DYNAMIC)
    table = {row.split("|")[1] for row in README.splitlines() if row.startswith("| `gather.")}
    documented = set(re.findall(r"`(gather\.[a-z_]+\.[a-z_<>]+)`", "".join(table)))
    assert ids - documented == set()


def test_every_setting_is_in_the_readme() -> None:
    for name in JobSettings.model_fields:
        if name.startswith("metadata_service_") and name.endswith("_endpoint"):
            continue  # documented as one row
        assert f"`{name}" in README, name


def test_the_two_setup_commands_are_in_the_readme_and_ci() -> None:
    assert "gather-job run --settings-file job_settings.example.json" in README
    assert "python -m pytest" in README and "python -m pytest" in Path(".ci/run").read_text()
