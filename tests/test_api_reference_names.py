"""Code written for the reference keeps working: its names, its settings classes, its exception type.

The reference is `GatherMetadataJob(settings=JobSettings(...))`, with `job.settings`, nested settings
from `aind_metadata_mapper.models`, a `CalibrationObject(...)` in `SubjectSettings`, and a ValueError
when the metadata is invalid. Each is taken here, with the reference's own classes (the test extra
installs aind-metadata-mapper).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gather_job import (
    DataDescriptionSettings,
    GatherMetadataJob,
    InvalidMetadata,
    JobSettings,
    SubjectSettings,
)
from tests.conftest import base_settings
from tests.fixtures import assets

reference = pytest.importorskip("aind_metadata_mapper.models")


def _settings(folder: Path, out: Path) -> dict[str, Any]:
    values = base_settings(folder, out, None)
    values["raise_if_invalid"] = True
    return values


def test_the_reference_keyword_and_attribute(asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = JobSettings(**_settings(asset(with_subject=True, with_procedures=True), tmp_path / "out"))
    job = GatherMetadataJob(settings=settings)
    assert job.settings is job.job_settings is settings
    assert job.run_job().exit_code == 0


def test_the_references_settings_objects_are_taken_as_given(asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    values = base_settings(asset(), tmp_path / "out", service.url)
    described = values.pop("data_description_settings")
    theirs = reference.DataDescriptionSettings(
        project_name=described["project_name"], modalities=described["modalities"]
    )
    settings = JobSettings(**values, data_description_settings=theirs)
    assert isinstance(settings.data_description_settings, DataDescriptionSettings)
    assert settings.data_description_settings.project_name == assets.PROJECT_NAME
    # and a whole JobSettings of the reference's
    theirs_only = {k: v for k, v in values.items() if k in reference.JobSettings.model_fields}  # not our own keys
    whole = reference.JobSettings(**{**theirs_only, "data_description_settings": theirs})
    assert GatherMetadataJob(whole).run_job().exit_code == 0


def test_a_calibration_object_model_is_taken_as_its_json() -> None:
    from aind_data_schema.components.subjects import CalibrationObject

    made = CalibrationObject(description="A phantom", empty=False)  # type: ignore[call-arg]
    subject = SubjectSettings(calibration_object=made)
    assert subject.calibration_object == made.model_dump(mode="json")


def test_invalid_metadata_is_a_value_error_as_the_references_is(asset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = JobSettings(**_settings(asset("mismatched_subject_file", with_subject=True), tmp_path / "out"))
    with pytest.raises(ValueError) as raised:
        GatherMetadataJob(settings).run_job()
    assert isinstance(raised.value, InvalidMetadata)
