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


def test_the_reference_per_file_methods_give_what_run_job_writes(tmp_path: Path) -> None:
    """Scripts written for the reference call `job.get_acquisition()`, `job.get_instrument()` first."""
    import json

    from tests.conftest import base_settings
    from tests.fixtures.assets.writing import write_asset

    folder = write_asset(tmp_path / "asset", "valid", with_subject=True, with_procedures=True)
    settings = JobSettings(**base_settings(folder, tmp_path / "out", None))  # type: ignore[arg-type]
    job = GatherMetadataJob(settings)
    got = {
        "acquisition": job.get_acquisition(),
        "instrument": job.get_instrument(),
        "subject": job.get_subject(),
        "procedures": job.get_procedures("ignored"),
        "data_description": job.build_data_description("2023-01-01T00:00:00Z", "ignored"),
    }
    assert job.get_processing() is None and job.get_quality_control() is None and job.get_model() is None
    assert job.get_funding() == got["data_description"]["funding_source"] != []  # type: ignore[index]
    assert job.get_investigators() == got["data_description"]["investigators"]  # type: ignore[index]
    assert not (tmp_path / "out").exists()  # nothing written by the methods
    GatherMetadataJob(settings).run_job()
    for kind, data in got.items():
        assert data == json.loads((tmp_path / "out" / f"{kind}.json").read_text()), kind
