"""The job's settings: the reference GatherMetadataJob's field names, plus gather-job's own.

`JobSettings` is the public settings class: constructing it reads nothing but its arguments (no
argv, no environment; the reference's parses both). A settings JSON of the reference validates
unchanged. Where the CLI's values come from (job_type, file, inline JSON, GATHER_* environment,
flags) is `layers.py`'s business. This module imports pydantic only, so `gather-job --help` lists
every setting cheaply; aind-data-schema-models is imported inside the validators that need it.
"""

from __future__ import annotations

import json
import math
import os
import re
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from gather_job.settings.values import (
    RefusedUrl,
    endpoint_problem,
    escaped,
    group_value,
    institution_abbreviation,
    modality_abbreviation,
    path_problem,
    shown_url,
    url_problem,
)

DEFAULT_SERVICE_URL = "http://aind-metadata-service"
_SECONDS = ("service_timeout_s", "service_procedures_timeout_s", "service_backoff_s", "service_total_timeout_s")
MAX_SECONDS = 24 * 3600.0  # above this, a time setting is a typo (ms for s, an extra digit)
_SERVICE = ("subject", "procedures", "instrument", "funding", "investigators", "weights", "labtracks")
_ENDPOINTS = tuple(f"metadata_service_{name}_endpoint" for name in _SERVICE)  # `endpoint_problem` checks them
_PATHS = ("metadata_dir", "output_dir", "report", "job_type_source")  # `_usable_path` names their problems


def _surrogate(value: Any) -> str | None:
    """The first string (a key or a value, at any depth) holding a lone surrogate, else None."""
    if isinstance(value, str):
        return value if any(0xD800 <= ord(c) <= 0xDFFF for c in value) else None
    if isinstance(value, dict):
        return next((f for item in value.items() for part in item if (f := _surrogate(part)) is not None), None)
    if isinstance(value, (list, tuple)):
        return next((f for part in value if (f := _surrogate(part)) is not None), None)
    return None


class _Section(BaseModel):
    # Settings changed after they were made (`s.output_dir = Path(...)`, `s.data_description_settings.
    # modalities = [Modality.ECEPHYS]`, a nested section from `model_copy(update=...)`) are checked as
    # given ones are: the pipeline's code assumes checked values and would fail far from the cause.
    model_config = ConfigDict(
        extra="forbid", coerce_numbers_to_str=True, validate_assignment=True, revalidate_instances="always"
    )

    @model_validator(mode="before")
    @classmethod
    def _from_another_model(cls, data: Any) -> Any:
        """A settings object of another class (the reference's own `DataDescriptionSettings(...)`, code written
        for aind-metadata-mapper) is taken as what it was given: its set fields, checked as ours are."""
        if isinstance(data, BaseModel) and not isinstance(data, cls):
            return data.model_dump(mode="json", include=data.model_fields_set)  # nested values whole
        return data


class DataDescriptionSettings(_Section):
    """What data_description.json is built from when the folder has none."""

    project_name: str | None = Field(
        default=None, description="Project name; also the key for funding and investigators in the service."
    )
    modalities: list[str] = Field(
        default=[],  # copied for each settings object; a factory costs start-up a signature parse
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
        return [modality_abbreviation(item) for item in items]

    @field_validator("funding_source", "investigators", mode="before")
    @classmethod
    def _models_as_json(cls, value: Any) -> Any:
        """`Funding(...)` and `Person(...)` objects, as the reference's code builds them, are taken as their JSON."""
        if isinstance(value, (list, tuple)):
            return [item.model_dump(mode="json") if isinstance(item, BaseModel) else item for item in value]
        return value

    @field_validator("institution", mode="before")
    @classmethod
    def _institution(cls, value: Any) -> str:
        return institution_abbreviation(value)

    @field_validator("group", mode="before")
    @classmethod
    def _group(cls, value: Any) -> Any:
        return None if value is None else group_value(value)


class SubjectSettings(_Section):
    """For calibration uploads (subject_id "calibration"): what the built subject.json describes."""

    calibration_object: dict[str, Any] | None = Field(
        default=None,
        description="aind-data-schema CalibrationObject JSON for subject_details; default: an empty one.",
    )

    @field_validator("calibration_object", mode="before")
    @classmethod
    def _model_as_json(cls, value: Any) -> Any:
        """A `CalibrationObject(...)` itself, as the reference's docs pass it, is taken as its JSON."""
        return value.model_dump(mode="json") if isinstance(value, BaseModel) else value


class EnrichmentSettings(_Section):
    """Filling acquisition.json from the service: animal weights and the ethics review (IACUC) id."""

    enabled: bool = Field(default=True, description="Fill subject_details weights and ethics_review_id.")
    replace_existing: bool = Field(default=False, description="Replace values the acquisition already has.")


class PolicyRule(_Section):
    """One rule of a findings policy: findings whose id (and file) match get this severity, or are dropped."""

    id: str = Field(description="Glob matched against the finding id, e.g. 'gather.library.*'.")
    file: str | None = Field(default=None, description="Glob matched against the finding's files (any of them).")
    severity: Literal["error", "warning", "info", "ignore"] = Field(
        description="What matching findings become; 'ignore' drops them."
    )


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
        default=DataDescriptionSettings(), description="Fields of the data_description.json to build."
    )
    instrument_settings: InstrumentSettings = Field(
        default=InstrumentSettings(), description="Instrument to fetch from the metadata service."
    )
    subject_settings: SubjectSettings | None = Field(
        default=None, description="Calibration uploads: the calibration object the subject describes."
    )
    enrichment_settings: EnrichmentSettings = Field(
        default=EnrichmentSettings(), description="Filling acquisition.json from the service."
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
    findings_policy: list[PolicyRule] = Field(
        default=[],  # copied for each settings object; a factory costs start-up a signature parse
        description="Rules that ignore, demote or promote findings before the exit code is decided; "
        "the first matching rule wins (also --policy FILE).",
    )
    modality_folders: list[str] | None = Field(
        default=None,
        description="The upload's modality folders (e.g. ['ecephys', 'behavior-videos']) when the checked "
        "folder does not hold them; checked against the modalities the metadata describes.",
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

    @field_validator("metadata_service_url", "s3_endpoint_url", "ssm_endpoint_url", mode="before")
    @classmethod
    def _url_refused(cls, value: Any) -> Any:
        if isinstance(value, RefusedUrl):  # see _url_checked
            raise ValueError(value.problem)  # noqa: TRY004  (pydantic turns only ValueError into a located error)
        return value

    @field_validator("metadata_service_url", "s3_endpoint_url", "ssm_endpoint_url", mode="before")
    @classmethod
    def _url_checked(cls, value: Any, info: ValidationInfo) -> Any:
        """Runs first (last defined); a refused URL goes on redacted, as pydantic's error shows the raiser's input."""
        if not isinstance(value, str) or not (problem := url_problem(value, aws="endpoint" in str(info.field_name))):
            return value
        refused = RefusedUrl(shown_url(value))
        refused.problem = problem
        return refused

    @field_validator(*_ENDPOINTS)
    @classmethod
    def _endpoint_path(cls, value: str, info: ValidationInfo) -> str:
        if problem := endpoint_problem(value, str(info.field_name), cls.model_fields[str(info.field_name)].default):
            raise ValueError(problem)
        return value

    @field_validator(*_PATHS, mode="before")
    @classmethod
    def _path_object(cls, value: Any) -> Any:
        """A `pathlib.Path` (or any os.PathLike) is taken as the path it names."""
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator(*_PATHS)
    @classmethod
    def _usable_path(cls, value: str | None) -> str | None:
        """NUL or undecodable bytes in a path: os calls would fail with a traceback, reports with invalid UTF-8.
        Then the slips `values.path_problem` names (empty, spaces at the ends, control characters, `~`)."""
        if value is not None and ("\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value)):
            what = "a NUL character" if "\x00" in value else "bytes that are not UTF-8 text"
            raise ValueError(f"holds {what} ({escaped(value)}); rename it, or give a path without them")
        if value is not None and (problem := path_problem(value)):
            raise ValueError(problem)
        return value

    @field_validator("*", mode="before")
    @classmethod
    def _utf8_text(cls, value: Any, info: ValidationInfo) -> Any:
        """A lone surrogate (undecodable bytes from argv or the environment, or a JSON escape such as
        \\ud800) in any setting: it would pass validation and then fail as the report is encoded (exit 1)."""
        if info.field_name not in _PATHS and (found := _surrogate(value)) is not None:
            raise ValueError(
                f"holds {escaped(found)}, which is not UTF-8 text (undecodable bytes, or a lone "
                "\\uD800-\\uDFFF escape); give the text itself"
            )
        return value

    @field_validator(*_SECONDS, mode="before")
    @classmethod
    def _seconds(cls, value: Any, info: ValidationInfo) -> Any:
        """Refuses "inf", "nan", "1e999" and true, which pydantic's float parsing accepts, and absurd values."""
        try:
            number = float(value.strip() if isinstance(value, str) else value)
        except (TypeError, ValueError, OverflowError):
            return value  # pydantic says what it is not
        least = 0.0 if info.field_name == "service_backoff_s" else 0.001
        if isinstance(value, bool) or not math.isfinite(number) or number > MAX_SECONDS or 0 < number < least:
            raise ValueError(
                f"{json.dumps(value)} is not a number of seconds from {least:g} to {MAX_SECONDS:g} (a day)"
            )
        return value

    @field_validator("report")
    @classmethod
    def _local_report(cls, value: str | None) -> str | None:
        if value is not None and re.match(r"^[A-Za-z][A-Za-z0-9+.-]+:/", value):
            raise ValueError(f"{value!r} is not a local path; the report is always written into output_dir too")
        return value

    @field_validator("modality_folders")
    @classmethod
    def _modality_folders(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else [modality_abbreviation(name.strip().strip("/")) for name in value]

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
