"""The job's settings: the reference GatherMetadataJob's field names, plus gather-job's own.

`JobSettings` is the public settings class: constructing it reads nothing but its arguments (no
argv, no environment; the reference's parses both). A settings JSON of the reference validates
unchanged. Where the CLI's values come from (job_type, file, inline JSON, GATHER_* environment,
flags) is `layers.py`'s business. This module imports pydantic only, so `gather-job --help` lists
every setting cheaply; aind-data-schema-models is imported inside the validators that need it.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gather_job.suggest import did_you_mean

DEFAULT_SERVICE_URL = "http://aind-metadata-service"


def _modality_abbreviation(item: Any) -> str:
    from aind_data_schema_models.modalities import Modality

    if isinstance(item, str):
        abbreviation = item
    elif isinstance(item, dict):
        abbreviation = item.get("abbreviation") or ""
        if not abbreviation and item.get("name"):
            by_name = {m.name: a for a, m in Modality.abbreviation_map.items()}
            abbreviation = str(by_name.get(item["name"], item["name"]))
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


def _institution_abbreviation(value: Any) -> str:
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
    if by_name is not None and by_name.abbreviation:
        return str(by_name.abbreviation)
    known = set(Organization.abbreviation_map)
    raise ValueError(f"unknown institution '{value}'{did_you_mean(value, known)}; use an abbreviation such as 'AIND'")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class DataDescriptionSettings(_Section):
    """What data_description.json is built from when the folder has none."""

    project_name: str | None = Field(
        default=None, description="Project name; also the key for funding and investigators in the service."
    )
    modalities: list[str] = Field(
        default_factory=list,
        description="Modalities of the asset: abbreviations ('ecephys') or {name, abbreviation} objects.",
    )
    tags: list[str] | None = Field(default=None, description="Descriptive strings to help search for the data.")
    group: str | None = Field(default=None, description="Group that collected the data (behavior, ephys, ...).")
    restrictions: str | None = Field(default=None, description="Restrictions on publishing or sharing the data.")
    data_summary: str | None = Field(default=None, description="Semantic summary of the experimental goal.")
    institution: str = Field(default="AIND", description="Abbreviation of the organization that collected the data.")
    funding_source: list[dict[str, Any]] | None = Field(
        default=None,
        description="Funding records (aind-data-schema Funding JSON); when set, the service is not asked.",
    )
    investigators: list[dict[str, Any]] | None = Field(
        default=None,
        description="Investigators (aind-data-schema Person JSON); when set, the service is not asked.",
    )

    @field_validator("modalities", mode="before")
    @classmethod
    def _modalities(cls, value: Any) -> list[str]:
        items = value if isinstance(value, (list, tuple)) else [value]
        return [_modality_abbreviation(item) for item in items]

    @field_validator("institution", mode="before")
    @classmethod
    def _institution(cls, value: Any) -> str:
        return _institution_abbreviation(value)

    @field_validator("group", mode="before")
    @classmethod
    def _group(cls, value: Any) -> Any:
        if value is None:
            return None
        from aind_data_schema_models.data_name_patterns import Group

        raw = value.value if isinstance(value, Group) else value
        known = [g.value for g in Group]
        if raw not in known:
            raise ValueError(f"unknown group {raw!r}{did_you_mean(str(raw), known)}; valid: {', '.join(known)}")
        return raw


class SubjectSettings(_Section):
    """For calibration uploads (subject_id "calibration"): what the built subject.json describes."""

    calibration_object: dict[str, Any] | None = Field(
        default=None,
        description="aind-data-schema CalibrationObject JSON for subject_details; default: an empty one.",
    )


class EnrichmentSettings(_Section):
    """Filling acquisition.json from the service: animal weights and the ethics review (IACUC) id."""

    enabled: bool = Field(default=True, description="Fill subject_details weights and ethics_review_id.")
    replace_existing: bool = Field(default=False, description="Replace values the acquisition already has.")


class InstrumentSettings(_Section):
    """Which instrument record to take from the metadata service."""

    instrument_id: str | None = Field(
        default=None, description="Instrument id to fetch from the service and merge with the folder's parts."
    )


class JobSettings(_Section):
    """Every setting of one run. Defaults are the lowest layer of `sources.compose_settings`."""

    metadata_dir: str | None = Field(
        default=None,
        description="Folder (or s3:// prefix) holding the asset's metadata files; default: output_dir.",
    )
    output_dir: str | None = Field(
        default=None, description="Where the gathered files go: a folder or s3://bucket/prefix/."
    )
    raise_if_invalid: bool = Field(
        default=True, description="Exit 3 and write no core file when any error finding remains."
    )
    subject_id: str | None = Field(
        default=None, description="Subject id; acquisition.json's value wins, a different one is an error."
    )
    acquisition_start_time: datetime | None = Field(
        default=None,
        description="Acquisition start (ISO 8601); naive means the rig's wall-clock. acquisition.json's value wins.",
    )
    data_description_settings: DataDescriptionSettings = Field(
        default_factory=DataDescriptionSettings, description="Fields of the data_description.json to build."
    )
    instrument_settings: InstrumentSettings = Field(
        default_factory=InstrumentSettings, description="Instrument to fetch from the metadata service."
    )
    subject_settings: SubjectSettings | None = Field(
        default=None, description="Calibration uploads: the calibration object the subject describes."
    )
    enrichment_settings: EnrichmentSettings = Field(
        default_factory=EnrichmentSettings, description="Filling acquisition.json from the service."
    )
    raise_if_mapper_errors: bool = Field(
        default=True, description="Fail when a rig mapper (e.g. fip.json) cannot run (the reference's default)."
    )
    offline: bool = Field(default=False, description="Never call the metadata service; use the folder and settings.")
    metadata_service_url: str = Field(default=DEFAULT_SERVICE_URL, description="Base URL of aind-metadata-service.")
    metadata_service_subject_endpoint: str = Field(default="/api/v2/subject", description="Subject endpoint path.")
    metadata_service_procedures_endpoint: str = Field(
        default="/api/v2/procedures", description="Procedures endpoint path."
    )
    metadata_service_instrument_endpoint: str = Field(
        default="/api/v2/instrument", description="Instrument endpoint path."
    )
    metadata_service_funding_endpoint: str = Field(default="/api/v2/funding", description="Funding endpoint path.")
    metadata_service_investigators_endpoint: str = Field(
        default="/api/v2/investigators", description="Investigators endpoint path."
    )
    metadata_service_weights_endpoint: str = Field(
        default="/api/v2/dataverse/mouse_weight_records", description="Waterlog weight records endpoint path."
    )
    metadata_service_labtracks_endpoint: str = Field(
        default="/api/v2/labtracks/subject", description="LabTracks subject endpoint path (IACUC protocol)."
    )
    service_timeout_s: float = Field(
        default=60.0, gt=0, description="Per-request timeout for the service (seconds), as the reference's."
    )
    service_procedures_timeout_s: float = Field(
        default=300.0,
        gt=0,
        description="Per-request timeout for procedures, which fans out to many back ends (the reference's 300 s).",
    )
    service_retries: int = Field(
        default=3, ge=0, le=10, description="Retries after a connection error, timeout, 429 or 5xx."
    )
    service_backoff_s: float = Field(
        default=0.5, ge=0, description="First retry delay; doubles each retry, with jitter."
    )
    service_total_timeout_s: float = Field(
        default=660.0,
        gt=0,
        description="Upper bound on the time spent on one service request, retries included "
        "(above the per-request timeouts, so a slow but healthy procedures answer gets two tries).",
    )
    keep_original_inputs: bool = Field(
        default=True,
        description="Copy the input files (the parts merged, the files read) byte for byte to "
        "original_metadata/uploaded_json/ in the output, as the reference does.",
    )
    if_exists: Literal["overwrite", "skip", "error"] = Field(
        default="overwrite",
        description="When the output already holds an asset: overwrite, skip (exit 0), error (exit 5).",
    )
    report: str | None = Field(
        default=None, description="Also write gather_report.json to this local file (it is always in output_dir)."
    )
    s3_endpoint_url: str | None = Field(
        default=None,
        description="S3 endpoint, for S3-compatible stores and tests (e.g. http://127.0.0.1:5000); "
        "default: boto3's (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, else AWS).",
    )
    ssm_endpoint_url: str | None = Field(
        default=None,
        description="SSM Parameter Store endpoint for job_type presets; "
        "default: boto3's (AWS_ENDPOINT_URL_SSM, AWS_ENDPOINT_URL, else AWS).",
    )
    aws_region: str | None = Field(
        default=None,
        description="AWS region for S3 and SSM; default: boto3's (AWS_DEFAULT_REGION, the profile's region).",
    )
    aws_profile: str | None = Field(
        default=None,
        description="AWS profile (~/.aws/config) for S3 and SSM; default: AWS_PROFILE, else boto3's chain.",
    )
    job_type: str | None = Field(
        default=None,
        description="job_type whose gather_preliminary_metadata job_settings lie under these settings "
        "(falls back to 'default'; 'custom' = no presets).",
    )
    job_type_source: str | None = Field(
        default=None,
        description="Where job_type presets are kept: a JSON file (one Task, or job_type -> Task) "
        "or ssm:/PREFIX (Parameter Store, {PREFIX}/v2/{job_type}/tasks/{task}).",
    )

    @field_validator("s3_endpoint_url", "ssm_endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"{value!r} is not an http:// or https:// URL (e.g. http://127.0.0.1:5000)")
        return value

    @field_validator("report")
    @classmethod
    def _local_report(cls, value: str | None) -> str | None:
        if value is not None and re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", value):
            raise ValueError(f"{value!r} is not a local path; the report is always written into output_dir too")
        return value

    @field_validator("instrument_settings", "enrichment_settings", "data_description_settings", mode="before")
    @classmethod
    def _null_section(cls, value: Any) -> Any:
        return {} if value is None else value  # the reference's JSON may say null for an optional section

    @classmethod
    def from_file(cls, path: str | Path) -> JobSettings:
        """A settings JSON file, checked as the CLI checks one (strict JSON, unknown keys with a did-you-mean).

        Raises UsageError naming the file and the field. Reads no environment.
        """
        from gather_job.settings.layers import Layer, SettingsInput, compose_settings, parse_json_object, read_file

        name = f"settings file {path}"
        data = parse_json_object(read_file(Path(path), "settings file", "Check the path."), name)
        settings, _ = compose_settings(SettingsInput(file=Layer(name, data)))
        return settings

    @property
    def source_dir(self) -> str | None:
        """The folder the inputs are read from (the reference defaults it to output_dir)."""
        return self.metadata_dir or self.output_dir


def known_keys(model: type[BaseModel]) -> dict[str, type[BaseModel] | None]:
    """Field names of a settings section, mapped to their nested section type (or None)."""
    keys: dict[str, type[BaseModel] | None] = {}
    for name, info in model.model_fields.items():
        candidates = [info.annotation, *get_args(info.annotation)]  # a section, or an optional one
        sections = [c for c in candidates if isinstance(c, type) and issubclass(c, _Section)]
        keys[name] = sections[0] if sections else None
    return keys
