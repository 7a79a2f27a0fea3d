"""Settings: the reference's JSON works unchanged, sources compose in one pinned order."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gather_job.errors import UsageError
from gather_job.settings.layers import Layer, SettingsInput, compose_settings, parse_json_object
from gather_job.settings.model import JobSettings, PolicyRule

REFERENCE_SETTINGS = {
    "metadata_dir": "/data/asset/metadata",
    "output_dir": "/staging/asset",
    "subject_id": "664484",
    "acquisition_start_time": "2023-04-03T18:17:07",
    "raise_if_invalid": False,
    "raise_if_mapper_errors": True,
    "data_description_settings": {
        "project_name": "Example project",
        "modalities": [{"name": "Extracellular electrophysiology", "abbreviation": "ecephys"}, "behavior"],
        "tags": ["a"],
        "group": "ephys",
        "institution": {"name": "Allen Institute for Neural Dynamics", "abbreviation": "AIND"},
    },
    "instrument_settings": {"instrument_id": "EPHYS1"},
    "metadata_service_url": "http://aind-metadata-service",
    "metadata_service_subject_endpoint": "/api/v2/subject",
}


def compose(**layers: object) -> object:
    return compose_settings(SettingsInput(**layers))[0]  # type: ignore[arg-type]


def test_the_reference_settings_json_works_unchanged() -> None:
    settings, notes = compose_settings(SettingsInput(inline=Layer("--job-settings", REFERENCE_SETTINGS)))
    assert settings.data_description_settings.modalities == ["ecephys", "behavior"]
    assert settings.data_description_settings.institution == "AIND"
    assert settings.acquisition_start_time == datetime(2023, 4, 3, 18, 17, 7)  # naive stays naive
    assert settings.instrument_settings.instrument_id == "EPHYS1"
    assert settings.raise_if_mapper_errors is True
    assert notes == []
    assert type(settings) is JobSettings


def test_the_reference_json_validates_as_job_settings_directly() -> None:
    """`JobSettings.model_validate_json` takes what the reference's takes, optional sections as null too."""
    text = json.dumps(
        {
            **REFERENCE_SETTINGS,
            "instrument_settings": None,
            "subject_settings": {"calibration_object": {"description": "a target", "empty": False}},
            "enrichment_settings": {"enabled": False, "replace_existing": True},
        }
    )
    settings = JobSettings.model_validate_json(text)
    assert settings.instrument_settings.instrument_id is None
    assert settings.enrichment_settings.enabled is False and settings.enrichment_settings.replace_existing is True
    assert settings.subject_settings is not None
    assert settings.subject_settings.calibration_object == {"description": "a target", "empty": False}


def test_job_settings_read_no_argv_and_no_unprefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUBJECT_ID", "999")
    monkeypatch.setenv("OUTPUT_DIR", "/elsewhere")
    monkeypatch.setenv("GATHER_SUBJECT_ID", "888")
    monkeypatch.setattr("sys.argv", ["prog", "--subject_id", "777"])
    settings = JobSettings(output_dir="out")
    assert settings.subject_id is None and settings.output_dir == "out"


def test_from_file_checks_like_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(REFERENCE_SETTINGS))
    assert JobSettings.from_file(path).subject_id == "664484"
    path.write_text('{"subjct_id": "1"}')
    with pytest.raises(UsageError, match="did you mean 'subject_id'"):
        JobSettings.from_file(path)
    with pytest.raises(UsageError, match="does not exist"):
        JobSettings.from_file(tmp_path / "missing.json")


def test_defaults() -> None:
    settings = compose()
    assert settings.raise_if_invalid is True  # the reference defaults to false
    assert settings.metadata_service_url == "http://aind-metadata-service"
    assert settings.if_exists == "overwrite"


def test_aware_times_keep_their_offset() -> None:
    settings = compose(file=Layer("f", {"acquisition_start_time": "2023-04-25T02:35:00-07:00"}))
    assert settings.acquisition_start_time.utcoffset() == timedelta(hours=-7)
    settings = compose(file=Layer("f", {"acquisition_start_time": "2023-04-25T09:35:00Z"}))
    assert settings.acquisition_start_time.tzinfo == UTC


def test_precedence_of_every_source_is_pinned() -> None:
    """defaults < job_type < settings file < --job-settings < GATHER_ environment < CLI flags."""
    layers = {
        "job_type": Layer(
            "job_type",
            {
                "subject_id": "jobtype",
                "metadata_dir": "jobtype",
                "output_dir": "jobtype",
                "report": "jobtype",
                "metadata_service_url": "http://jobtype",
                "if_exists": "skip",
            },
        ),
        "file": Layer(
            "file",
            {
                "subject_id": "file",
                "metadata_dir": "file",
                "output_dir": "file",
                "report": "file",
                "metadata_service_url": "http://file",
            },
        ),
        "inline": Layer(
            "inline",
            {
                "subject_id": "inline",
                "metadata_dir": "inline",
                "output_dir": "inline",
                "metadata_service_url": "http://inline",
            },
        ),
        "environ": {"GATHER_SUBJECT_ID": "env", "GATHER_METADATA_DIR": "env"},
        "flags": {"subject_id": "flag"},
    }
    settings = compose(**layers)
    assert settings.subject_id == "flag"
    assert settings.metadata_dir == "env"
    assert settings.output_dir == "inline"
    assert settings.report == "file"
    assert settings.if_exists == "skip"
    assert settings.service_retries == 3  # default


def test_nested_objects_merge_key_by_key_and_lists_are_replaced() -> None:
    settings = compose(
        job_type=Layer("job_type", {"data_description_settings": {"project_name": "P", "tags": ["a", "b"]}}),
        file=Layer("file", {"data_description_settings": {"tags": ["c"], "modalities": ["ecephys"]}}),
        environ={"GATHER_DATA_DESCRIPTION_SETTINGS__DATA_SUMMARY": "from env"},
    )
    dd = settings.data_description_settings
    assert (dd.project_name, dd.tags, dd.modalities, dd.data_summary) == ("P", ["c"], ["ecephys"], "from env")


def test_unprefixed_environment_is_ignored() -> None:
    assert compose(environ={"SUBJECT_ID": "999", "OUTPUT_DIR": "x"}).subject_id is None


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"subjct_id": "1"}, r"Unknown setting 'subjct_id' in settings file f \(did you mean 'subject_id'\?\)"),
        (
            {"data_description_settings": {"projct_name": "x"}},
            r"'data_description_settings.projct_name'.*'project_name'",
        ),
        ({"data_description_settings": {"modalities": ["ecephy"]}}, r"unknown modality 'ecephy'.*'ecephys'"),
        ({"data_description_settings": {"institution": "AINDD"}}, r"unknown institution 'AINDD'.*'AIND'"),
        ({"data_description_settings": {"group": "ephyz"}}, r"unknown group 'ephyz'"),
        ({"acquisition_start_time": "yesterday"}, r"settings file f: 'acquisition_start_time'.*ISO 8601"),
        ({"raise_if_invalid": "maybe"}, r"'raise_if_invalid'.*true or false"),
        ({"if_exists": "replace"}, r"'if_exists'"),
        ({"service_retries": -1}, r"'service_retries'"),
    ],
)
def test_bad_settings_name_the_field_the_source_and_the_fix(data: dict[str, object], match: str) -> None:
    with pytest.raises(UsageError, match=match):
        compose(file=Layer("settings file f", data))


def test_a_bad_environment_value_names_the_environment() -> None:
    with pytest.raises(UsageError, match=r"environment \(GATHER_\*\).*service_retries"):
        compose(environ={"GATHER_SERVICE_RETRIES": "many"})


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('{"a": 1,}', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"a": 1, "a": 2}', "key 'a' twice"),
        ('{"a": NaN}', "NaN"),
        (b"\xff\xfe{}", "UTF-8"),
        ("", "is empty"),
        ("[" * 100000, "nested too deeply|not valid JSON"),
    ],
)
def test_settings_json_is_parsed_strictly(text: str | bytes, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        parse_json_object(text, "settings file f")


def test_surrounding_spaces_of_the_pipeline_call_are_fine() -> None:
    assert parse_json_object(' {"subject_id": "1"} ', "--job-settings") == {"subject_id": "1"}


def test_environment_values_of_lists_and_objects_are_json_and_merge_with_their_parts() -> None:
    settings = compose(
        environ={
            "GATHER_DATA_DESCRIPTION_SETTINGS": '{"project_name": "J", "tags": ["t"]}',
            "GATHER_DATA_DESCRIPTION_SETTINGS__MODALITIES": '["ecephys"]',
            "GATHER_FINDINGS_POLICY": '[{"id": "gather.library.*", "severity": "info"}]',
            "gather_subject_id": "664484",  # names are not case-sensitive
            "GATHER_ENRICHMENT_SETTINGS__ENABLED": "false",
            "GATHER_TEST_FULL": "1",  # no setting of that name: left alone
        },
        file=Layer("file", {"data_description_settings": {"project_name": "F", "data_summary": "S"}}),
    )
    dd = settings.data_description_settings
    assert (dd.project_name, dd.tags, dd.modalities, dd.data_summary) == ("J", ["t"], ["ecephys"], "S")
    assert [rule.id for rule in settings.findings_policy] == ["gather.library.*"]
    assert (settings.subject_id, settings.enrichment_settings.enabled) == ("664484", False)
    assert settings.model_fields_set == {
        "data_description_settings",
        "findings_policy",
        "subject_id",
        "enrichment_settings",
    }


@pytest.mark.parametrize(
    ("environ", "match"),
    [
        (
            {"GATHER_DATA_DESCRIPTION_SETTINGS__MODALITIES": "ecephys"},
            r"GATHER_DATA_DESCRIPTION_SETTINGS__MODALITIES must hold JSON",
        ),
        (
            {"GATHER_DATA_DESCRIPTION_SETTINGS__PROJECT_NAM": "P"},
            r"GATHER_DATA_DESCRIPTION_SETTINGS__PROJECT_NAM names no setting.*"
            r"did you mean 'GATHER_DATA_DESCRIPTION_SETTINGS__PROJECT_NAME'",
        ),
        ({"GATHER_OUTPUT_DRI": "x"}, r"GATHER_OUTPUT_DRI names no setting.*did you mean 'GATHER_OUTPUT_DIR'"),
        ({"GATHER_SUBJECT_ID__X": "1"}, r"GATHER_SUBJECT_ID__X names no setting"),
        ({"GATHER_DATA_DESCRIPTION_SETTINGS__": "1"}, r"GATHER_DATA_DESCRIPTION_SETTINGS__ has an empty part"),
        ({"GATHER_IF_EXISTS": "never"}, r"environment \(GATHER_\*\).*if_exists"),
        (  # the settings' one strict JSON: no key twice, no NaN
            {"GATHER_DATA_DESCRIPTION_SETTINGS": '{"project_name": "a", "project_name": "b"}'},
            r"GATHER_DATA_DESCRIPTION_SETTINGS must hold JSON.*repeats keys",
        ),
        (
            {"GATHER_FINDINGS_POLICY": '[{"id": "x", "severity": NaN}]'},
            r"GATHER_FINDINGS_POLICY must hold JSON.*numbers",
        ),
    ],
)
def test_a_bad_environment_variable_is_named_with_the_fix(environ: dict[str, str], match: str) -> None:
    with pytest.raises(UsageError, match=match) as caught:
        compose(environ=environ)
    if "JSON" in match:  # what was given is not echoed: a variable may hold a secret
        assert "ecephys'" not in str(caught.value).split("e.g.")[0]


def test_default_sections_and_lists_are_fresh_for_each_settings_object() -> None:
    """The defaults are values pydantic copies (a factory costs start-up a signature parse), so
    changing one settings object's default section or list never reaches the next one."""
    first = JobSettings()
    first.data_description_settings.modalities.append("ecephys")
    first.enrichment_settings.enabled = False
    first.instrument_settings.instrument_id = "rig-1"
    first.findings_policy.append(PolicyRule(id="gather.*", severity="ignore"))
    second = JobSettings()
    assert second.data_description_settings.modalities == []
    assert second.enrichment_settings.enabled is True
    assert second.instrument_settings.instrument_id is None
    assert second.findings_policy == []
    assert second.model_fields_set == set()


def test_settings_changed_after_they_were_made_are_checked() -> None:
    """Assignment checks as construction does: a Path is its path, a Modality its abbreviation, a typo an error."""
    from pathlib import PurePosixPath

    from aind_data_schema_models.modalities import Modality
    from aind_data_schema_models.organizations import Organization
    from pydantic import ValidationError

    settings = JobSettings(output_dir=Path("/tmp/out"))  # type: ignore[arg-type]
    assert settings.output_dir == "/tmp/out"
    settings.metadata_dir = PurePosixPath("/data/asset")  # type: ignore[assignment]
    assert settings.metadata_dir == "/data/asset"
    settings.data_description_settings.modalities = [Modality.ECEPHYS]  # type: ignore[list-item]
    assert settings.data_description_settings.modalities == ["ecephys"]
    settings.data_description_settings.institution = Organization.AIND  # type: ignore[assignment]
    assert settings.data_description_settings.institution == "AIND"
    with pytest.raises(ValidationError, match="service_timeout_s"):
        settings.service_timeout_s = -1
    with pytest.raises(ValidationError):
        settings.no_such_setting = 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", ["Stanford University", "Simons Foundation", "Other"])
def test_an_organization_without_an_abbreviation_is_taken_by_name(name: str) -> None:
    from aind_data_schema_models.organizations import Organization

    organization = Organization.from_name(name)
    assert organization is not None and not organization.abbreviation
    for given in (name, organization, organization.model_dump(mode="json")):
        section = JobSettings(data_description_settings={"institution": given}).data_description_settings
        assert section.institution == name


@pytest.mark.parametrize(
    "endpoint",
    ["http://localhost:18765/api/v2/subject", "//other-host/api/v2/subject", "/api/v2/subject?x=1", "/a#b"],
)
def test_an_endpoint_setting_is_a_path_not_a_url(endpoint: str) -> None:
    """A whole URL was glued onto metadata_service_url, and the 404 became "no such subject"."""
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="is not a path: metadata_service_subject_endpoint"):
        JobSettings(metadata_service_subject_endpoint=endpoint)
    assert JobSettings(metadata_service_subject_endpoint="api/v2/subject").metadata_service_subject_endpoint


def test_funding_and_person_objects_are_taken_as_their_json() -> None:
    from aind_data_schema.components.identifiers import Person
    from aind_data_schema.core.data_description import Funding
    from aind_data_schema_models.organizations import Organization

    funding = Funding(funder=Organization.NINDS, grant_number="R01", fundee=[Person(name="Ada Lovelace")])
    section = JobSettings(
        data_description_settings={"funding_source": [funding], "investigators": [Person(name="Ada Lovelace")]}
    ).data_description_settings
    assert section.funding_source == [funding.model_dump(mode="json")]
    assert section.investigators == [Person(name="Ada Lovelace").model_dump(mode="json")]


def test_a_modality_whose_name_and_abbreviation_disagree_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="names two things"):
        JobSettings(data_description_settings={"modalities": [{"name": "Slap2", "abbreviation": "slap2"}]})
    agreed = {"name": "Random access projection microscopy", "abbreviation": "slap2"}
    assert JobSettings(data_description_settings={"modalities": [agreed]}).data_description_settings.modalities == [
        "slap2"
    ]


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"image": "i", "subject_id": "1"}, r"Unknown setting 'image'"),
        ({"data_description_settings": {"job_settings": {}}}, r"Unknown setting 'data_description_settings.job_"),
    ],
)
def test_settings_with_a_stray_key_are_not_taken_for_a_task(data: dict[str, object], said: str) -> None:
    with pytest.raises(UsageError, match=said):
        compose(file=Layer("settings file f.json", data))


def test_a_job_type_file_with_a_null_entry_is_still_a_file_of_tasks() -> None:
    with pytest.raises(UsageError, match="is a file of job_type Tasks"):
        compose(file=Layer("f", {"ecephys": {"job_settings": {}}, "smartspim": None}))


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({"job_settings": {"output_dir": "x"}}, r"is a job_type Task \(job_settings\), not settings"),
        (
            {"skip_task": False, "image": "i", "image_version": "1", "job_settings": {}, "command_script": "c"},
            r"is a job_type Task \(command_script, image, image_version, job_settings, skip_task\)",
        ),
        ({"ecephys": {"job_settings": {}}, "default": {"job_settings": {}}}, r"is a file of job_type Tasks"),
        ({"object_type": "Subject", "subject_id": "1"}, r"is a metadata file \(Subject\), not settings"),
    ],
)
def test_a_file_of_another_kind_is_named_as_what_it_is(data: dict[str, object], said: str) -> None:
    """Not a did-you-mean for its first key ('job_settings' -> 'subject_settings', 'object_type' -> 'job_type')."""
    with pytest.raises(UsageError, match=said) as caught:
        compose(file=Layer("settings file f.json", data))
    assert "did you mean" not in str(caught.value)
