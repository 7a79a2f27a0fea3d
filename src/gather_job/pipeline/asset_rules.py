"""Metadata's whole-asset validators, owned: the same rules, messages and warnings, without Metadata.

aind-data-schema checks an asset as a whole in `Metadata`'s model validators. Importing
`aind_data_schema.core.metadata` builds the Metadata model, and with it Processing, QualityControl
and Model, whether or not the asset has those files: about a fifth of a one-asset run's CPU time,
for a dozen short functions that read attributes. So the run never imports that module; each
validator below is the library's (2.9.2) rule over the same attributes, in the library's order,
raising the same `ValueError` and warning the same text (which `library_notices.capture` turns into
findings, exactly as it does the library's own). tests/test_asset_rules.py pins every one against
the library's function, case by case, and pins this list to the library's list of validators, so a
new schema release with a new rule fails the tests instead of being skipped.

The three device validators are replaced by `devices.py`, and the base class's unit and coordinate
system scans only repeat the per-file checks; those are not here (`cross_checks.REPLACED`).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gather_job import schema
from gather_job.pipeline import time_constraints

# Metadata.REQUIRED_FILE_SETS: files present must include one of these keys, and then its whole list.
REQUIRED_FILE_SETS = {
    "subject": ["data_description", "procedures", "instrument", "acquisition"],
    "processing": ["data_description"],
    "model": ["data_description"],
}


@dataclass
class Asset:
    """What Metadata's validators read of a `Metadata.model_construct(...)`: the core models or None."""

    name: str
    location: str
    subject: Any = None
    data_description: Any = None
    procedures: Any = None
    instrument: Any = None
    processing: Any = None
    acquisition: Any = None
    quality_control: Any = None
    model: Any = None


def subject_details_if_not_specimen(asset: Asset) -> None:
    if asset.acquisition and not asset.acquisition.specimen_id and not asset.acquisition.subject_details:
        raise ValueError("Acquisition.subject_details are required for in vivo experiments")


def expected_files_by_modality(asset: Asset) -> None:
    for file, required in REQUIRED_FILE_SETS.items():
        if not getattr(asset, file):
            continue
        for required_file in required:
            if getattr(asset, required_file):
                continue
            if required_file == "instrument" and asset.acquisition and _all_external(asset.acquisition):
                continue
            warnings.warn(f"Metadata missing required file: {required_file}", stacklevel=2)


def _all_external(acquisition: Any) -> bool:
    from aind_data_schema.core.acquisition import ExternalDataStream

    return all(isinstance(s, ExternalDataStream) for s in acquisition.data_streams)


def required_files(asset: Asset) -> None:
    if not any(getattr(asset, file) for file in REQUIRED_FILE_SETS):
        raise ValueError(f"Metadata must contain at least one of the following files: {', '.join(REQUIRED_FILE_SETS)}")


def _injection_without_materials(asset: Asset, modality: str) -> bool:
    """A `modality` asset whose procedures hold an Injection in a Surgery with no injection_materials."""
    if not (asset.data_description and asset.procedures):
        return False
    from aind_data_schema_models.modalities import Modality

    wanted = getattr(Modality, modality)
    if not any(m == wanted for m in asset.data_description.modalities):
        return False
    from aind_data_schema.core.procedures import Injection, Surgery

    return any(
        isinstance(surgery, Injection) and getattr(surgery, "injection_materials", None) is None
        for subject_procedure in asset.procedures.subject_procedures
        if isinstance(subject_procedure, Surgery)
        for surgery in subject_procedure.procedures
    )


def smartspim_metadata(asset: Asset) -> None:
    if _injection_without_materials(asset, "SPIM"):
        raise ValueError("Injection is missing injection_materials.")


def ecephys_metadata(asset: Asset) -> None:
    if _injection_without_materials(asset, "ECEPHYS"):
        raise ValueError("Injection is missing injection_materials.")


def calibration_object_tags(asset: Asset) -> None:
    """As the library does, this adds the tag to data_description (the written file has it too)."""
    subject, description = asset.subject, asset.data_description
    if not (subject and subject.subject_details and description):
        return
    from aind_data_schema.components.subjects import CalibrationObject

    if not isinstance(subject.subject_details, CalibrationObject):
        return
    if description.tags is None:
        description.tags = []
    if "calibration" not in description.tags:
        warnings.warn(
            "Subject is a CalibrationObject but 'calibration' tag is missing from data_description.tags. "
            "Adding 'calibration' tag automatically.",
            stacklevel=2,
        )
        description.tags.append("calibration")


def training_protocol_references(asset: Asset) -> None:
    if not (asset.acquisition and asset.procedures):
        return
    from aind_data_schema.components.subject_procedures import TrainingProtocol

    names = [p.training_name for p in asset.procedures.subject_procedures if isinstance(p, TrainingProtocol)]
    for epoch in asset.acquisition.stimulus_epochs:
        if epoch.training_protocol_name and epoch.training_protocol_name not in names:
            warnings.warn(
                f"Training protocol '{epoch.training_protocol_name}' in StimulusEpoch "
                f"not found in Procedures. Available protocols: {names}",
                stacklevel=2,
            )


def data_description_name_time_consistency(asset: Asset) -> None:
    description, acquisition = asset.data_description, asset.acquisition
    if not (description and acquisition and description.name):
        return
    end = getattr(acquisition, "acquisition_end_time", None)
    if end is None:
        return
    parsed = schema.model_class("data_description").parse_name(description.name, description.data_level)
    created = parsed.get("creation_time")
    if not created:
        return
    from aind_data_schema.utils.validators import validate_creation_time_after_midnight

    try:
        validate_creation_time_after_midnight(created, end)
    except ValueError:
        warnings.warn(
            f"Creation time from data_description.name ({created}) should be close to the acquisition end time ({end})",
            stacklevel=2,
        )


# Metadata's model validators this module owns, in the library's order (pinned by a test).
VALIDATORS: tuple[tuple[str, Callable[[Asset], None]], ...] = (
    ("validate_subject_details_if_not_specimen", subject_details_if_not_specimen),
    ("validate_expected_files_by_modality", expected_files_by_modality),
    ("validate_required_files", required_files),
    ("validate_smartspim_metadata", smartspim_metadata),
    ("validate_ecephys_metadata", ecephys_metadata),
    ("validate_calibration_object_tags", calibration_object_tags),
    ("validate_training_protocol_references", training_protocol_references),
    ("validate_time_constraints", time_constraints.check),
    ("validate_data_description_name_time_consistency", data_description_name_time_consistency),
)
