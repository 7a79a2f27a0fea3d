"""job_type presets from a file or SSM: fallback to default, custom, unknown names, and the pipeline's merge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gather_job.aws import Clients
from gather_job.cli import main
from gather_job.errors import UsageError
from gather_job.settings.job_types import for_settings
from gather_job.settings.layers import Layer, SettingsInput, compose_settings
from tests.conftest import base_settings
from tests.fixtures import assets
from tests.support.aws_fixtures import REGION, Aws

SOURCE = "ssm:/aind/job_types"
GATHER = "/aind/job_types/v2/{}/tasks/gather_preliminary_metadata"


def preset_settings() -> dict[str, Any]:
    """What an operator stores for the gather task: everything the run's own settings leave out."""
    return {
        "data_description_settings": {
            "project_name": assets.PROJECT_NAME,
            "funding_source": assets.funding(),
            "investigators": assets.investigators(),
            "tags": ["from-preset"],
            "group": "ephys",
        },
        "offline": True,
        "service_retries": 5,
    }


def task(job_settings: Any) -> dict[str, Any]:
    return {"skip_task": False, "image": "ghcr.io/x/gather", "image_version": "1.0", "job_settings": job_settings}


def run_settings(folder: Path, output: Path, aws: Aws | None = None) -> dict[str, Any]:
    """The run's own settings: no project, funding or investigators (those come from the preset)."""
    settings = base_settings(folder, output, None)
    settings["data_description_settings"] = {"modalities": ["behavior", "behavior-videos", "ecephys"]}
    del settings["offline"]
    if aws is not None:
        settings.update(ssm_endpoint_url=aws.url, aws_region=REGION)
    return settings


def run(capsys: pytest.CaptureFixture[str], *argv: str, environ: dict[str, str] | None = None) -> tuple[int, str, str]:
    code = main(list(argv), environ=environ or {})
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, " ".join(captured.err.split())


@pytest.fixture
def folder(asset: Any) -> Path:
    return asset(with_subject=True, with_procedures=True)  # type: ignore[no-any-return]


@pytest.fixture
def stored(aws: Aws) -> Aws:
    """SSM as the transfer service fills it: default and ecephys have a gather task, smartspim only others."""
    aws.put_parameter(GATHER.format("default"), task(preset_settings()))
    ecephys = preset_settings()
    ecephys["data_description_settings"]["tags"] = ["ecephys-preset"]
    aws.put_parameter(GATHER.format("ecephys"), task(json.dumps(ecephys)))  # job_settings as a JSON string
    aws.put_parameter("/aind/job_types/v2/ecephys/tasks/make_modality_list", task({"x": 1}))
    aws.put_parameter("/aind/job_types/v2/smartspim/tasks/compress_data", task({"y": 2}))
    return aws


def report(output: Path) -> dict[str, Any]:
    return json.loads((output / "gather_report.json").read_text())  # type: ignore[no-any-return]


@pytest.mark.slow
def test_an_ssm_job_type_lies_under_the_run_settings(
    stored: Aws, aws_env: Any, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = run_settings(folder, tmp_path / "out", stored)
    code, _, err = run(
        capsys, "run", "--job-settings", json.dumps(settings), "--job-type", "ecephys", "--job-type-source", SOURCE
    )
    assert code == 0, err
    used = report(tmp_path / "out")
    assert used["settings"]["data_description_settings"]["tags"] == ["ecephys-preset"]
    assert used["settings"]["job_type"] == "ecephys" and used["settings"]["job_type_source"] == SOURCE
    applied = [f for f in used["findings"] if f["id"] == "gather.job_type.applied"]
    assert applied and GATHER.format("ecephys") in applied[0]["message"]


@pytest.mark.slow
def test_a_job_type_without_a_gather_task_falls_back_to_default(
    stored: Aws, aws_env: Any, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = {**run_settings(folder, tmp_path / "out", stored), "job_type": "smartspim"}
    code, _, err = run(
        capsys, "run", "--job-settings", json.dumps(settings), environ={"GATHER_JOB_TYPE_SOURCE": SOURCE}
    )
    assert code == 0, err
    used = report(tmp_path / "out")
    assert used["settings"]["data_description_settings"]["tags"] == ["from-preset"]
    applied = next(f for f in used["findings"] if f["id"] == "gather.job_type.applied")
    assert "so those of 'default')" in applied["message"] and GATHER.format("default") in applied["message"]


def test_custom_means_no_presets(
    stored: Aws, aws_env: Any, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = {**run_settings(folder, tmp_path / "out", stored), "offline": True}
    code, _, _ = run(
        capsys, "run", "--job-settings", json.dumps(settings), "--job-type", "custom", "--job-type-source", SOURCE
    )
    assert code == 3  # no project, funding or investigators: the presets were not applied
    used = report(tmp_path / "out")
    assert "gather.data_description.missing_settings" in {f["id"] for f in used["findings"]}
    assert "gather.job_type.applied" not in {f["id"] for f in used["findings"]}


def test_an_unknown_job_type_runs_on_defaults_presets_as_the_pipeline_does_and_says_so(
    stored: Aws, aws_env: Any, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """aind-airflow-jobs takes `default`'s task when the job_type has none stored (get_merged_task_settings)."""
    settings = run_settings(folder, tmp_path / "out", stored)
    code, _, err = run(
        capsys, "run", "--job-settings", json.dumps(settings), "--job-type", "ecephy", "--job-type-source", SOURCE
    )
    assert code == 0, err
    (note,) = [f for f in report(tmp_path / "out")["findings"] if f["id"] == "gather.job_type.unknown"]
    assert note["severity"] == "warning"
    assert "job_type 'ecephy' is not stored in ssm:/aind/job_types (did you mean 'ecephys'?)" in note["message"]
    assert (
        "(it knows: default, ecephys, smartspim)" in note["message"]
        and "the presets of 'default' from" in note["message"]
    )


@pytest.mark.parametrize("written", ["Custom", " custom ", "CUSTOM"])
def test_custom_is_read_as_the_pipeline_reads_it(stored: Aws, aws_env: Any, written: str) -> None:
    from gather_job.settings import job_types

    store = job_types.SsmStore("/aind/job_types", stored.ssm, SOURCE)
    preset = job_types.resolve(store, written)
    assert preset.job_settings == {} and preset.task_from is None and preset.unknown is None


def test_a_job_type_with_only_per_modality_tasks_is_known(stored: Aws, aws_env: Any) -> None:
    from gather_job.settings import job_types

    stored.put_parameter("/aind/job_types/v2/spim_only/tasks/modality_transformation_settings/SPIM", {"image": "x"})
    store = job_types.SsmStore("/aind/job_types", stored.ssm, SOURCE)
    assert store.job_types()["spim_only"] is False
    preset = job_types.resolve(store, "spim_only")
    assert preset.unknown is None and preset.task_from == "default"


def test_the_merge_is_the_pipelines(stored: Aws) -> None:
    """Objects merge key by key with the run's settings winning; lists and scalars are replaced whole."""
    run_layer = {
        "data_description_settings": {"tags": ["run"], "modalities": ["ecephys"], "group": None},
        "service_retries": 1,
        "job_type": "ecephys",
        "job_type_source": SOURCE,
        "ssm_endpoint_url": stored.url,
        "aws_region": REGION,
    }
    client = stored.ssm
    settings, notes = compose_settings(
        SettingsInput(file=Layer("settings file f", run_layer)),
        presets=lambda s: for_settings(s, Clients(s, ssm=client)),
    )
    dd = settings.data_description_settings
    assert dd.project_name == assets.PROJECT_NAME and dd.funding_source  # kept from the preset (merged)
    assert dd.tags == ["run"] and dd.modalities == ["ecephys"]  # lists: replaced whole
    assert dd.group is None  # a scalar the run sets, even to null, wins
    assert settings.service_retries == 1 and settings.offline is True  # scalars: run wins; preset fills in
    assert [n.id for n in notes] == ["gather.job_type.applied"]


@pytest.mark.slow
def test_preset_problems_name_the_job_type_and_source(
    aws: Aws, aws_env: Any, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws.put_parameter(GATHER.format("ecephys"), task({"subjct_id": "1"}))
    settings = run_settings(folder, tmp_path / "out", aws)
    argv = ["run", "--job-settings", json.dumps(settings), "--job-type", "ecephys", "--job-type-source", SOURCE]
    code, _, err = run(capsys, *argv)
    assert code == 2 and "Unknown setting 'subjct_id' in job_type ecephys (ssm:/aind/job_types)" in err
    aws.put_parameter(GATHER.format("ecephys"), "{not json")
    code, _, err = run(capsys, *argv)
    assert code == 2 and f"SSM parameter {GATHER.format('ecephys')} is not valid JSON" in err
    aws.put_parameter(GATHER.format("ecephys"), task({"job_type": "other"}))
    code, _, err = run(capsys, *argv)
    assert code == 2 and "only a run can choose" in err


def test_ssm_credentials_are_checked(
    stored: Aws, aws_env: Any, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws_env(AWS_ACCESS_KEY_ID="AKIANOTAREALKEY00000", AWS_SECRET_ACCESS_KEY="wrong")
    settings = run_settings(folder, tmp_path / "out", stored)
    with stored.authentication():
        code, _, err = run(
            capsys, "run", "--job-settings", json.dumps(settings), "--job-type", "ecephys", "--job-type-source", SOURCE
        )
    assert code == 2
    assert "AWS rejected the credentials" in err and f"SSM parameter {GATHER.format('ecephys')}" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--job-type", "ecephys"], "No job_type source is given for job_type 'ecephys'"),
        (["--job-type", "ecephys", "--job-type-source", "ssm:aind"], "is not an SSM prefix"),
        (["--job-type", "ecephys", "--job-type-source", "missing.json"], "The job_type file 'missing.json' does not"),
    ],
)
def test_job_type_usage_errors(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    settings = run_settings(folder, tmp_path / "out")
    code, _, err = run(capsys, "run", "--job-settings", json.dumps(settings), *argv)
    assert code == 2 and message in err


def test_a_json_file_of_job_types(folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "job_types.json"
    source.write_text(json.dumps({"default": task(preset_settings()), "ecephys": None, "smartspim": task({})}))
    settings = run_settings(folder, tmp_path / "out")
    code, _, err = run(
        capsys, "run", "--job-settings", json.dumps(settings), "--job-type", "ecephys", "--job-type-source", str(source)
    )
    assert code == 0, err  # ecephys: null, so default's presets
    assert report(tmp_path / "out")["settings"]["data_description_settings"]["tags"] == ["from-preset"]
    code, out, err = run(
        capsys, "check", str(folder), "--job-type", "nope", "--job-type-source", str(source), "--offline"
    )
    said = " ".join(out.split())
    assert "gather.job_type.unknown" in said and "(it knows: default, ecephys, smartspim)" in said, err


def test_a_file_with_one_task_serves_every_job_type(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "task.json"
    source.write_text(json.dumps(task(preset_settings())))
    settings = run_settings(folder, tmp_path / "out")
    code, _, err = run(
        capsys,
        "run",
        "--job-settings",
        json.dumps(settings),
        "--job-type",
        "anything",
        "--job-type-source",
        str(source),
    )
    assert code == 0, err


@pytest.mark.slow
def test_job_types_list_and_show(stored: Aws, aws_env: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(
        json.dumps(
            {"ssm_endpoint_url": stored.url, "aws_region": REGION, "data_description_settings": {"tags": ["mine"]}}
        )
    )
    code, out, err = run(
        capsys, "job-types", "list", "--job-type-source", SOURCE, "--settings-file", str(settings_file)
    )
    assert code == 0, err
    assert out.splitlines() == [
        "default\tgather_preliminary_metadata",
        "ecephys\tgather_preliminary_metadata",
        "smartspim\t(no gather_preliminary_metadata task: uses 'default')",
    ]
    environ = {"GATHER_JOB_TYPE_SOURCE": SOURCE, "GATHER_SSM_ENDPOINT_URL": stored.url, "GATHER_AWS_REGION": REGION}
    code, out, err = run(capsys, "job-types", "show", "smartspim", environ=environ)
    assert code == 0, err
    shown = json.loads(out)
    assert shown["task_from"] == "default" and shown["stored_at"] == f"SSM parameter {GATHER.format('default')}"
    assert shown["job_settings"] == preset_settings() and "merged_settings" not in shown
    code, out, _ = run(capsys, "job-types", "show", "ecephys", "--settings-file", str(settings_file), environ=environ)
    merged = json.loads(out)["merged_settings"]
    assert merged["data_description_settings"]["tags"] == ["mine"]
    assert merged["data_description_settings"]["project_name"] == assets.PROJECT_NAME
    assert merged["service_retries"] == 5 and merged["ssm_endpoint_url"] == stored.url
    code, _, err = run(capsys, "job-types", "list")
    assert code == 2 and "No job_type source" in err


def test_presets_never_set_the_job_type_itself() -> None:
    with pytest.raises(UsageError, match="only a run can choose"):
        from gather_job.settings.job_types import job_settings

        job_settings({"job_settings": {"job_type_source": "x"}}, "somewhere")


def test_show_of_a_job_type_the_store_lacks_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "job_types.json"
    source.write_text(json.dumps({"default": {"job_settings": {"service_retries": 5}}, "ecephys": None}))
    code, out, err = run(capsys, "job-types", "show", "ecefys", "--job-type-source", str(source))
    assert code == 0 and json.loads(out)["task_from"] == "default"  # what the pipeline would apply
    said = " ".join(err.split())
    assert "warning: job_type 'ecefys' is not stored in" in said and "the presets of 'default'" in said, err
    code, _, err = run(capsys, "job-types", "show", "default", "--job-type-source", str(source))
    assert code == 0 and "warning" not in err


def test_the_show_warning_is_a_warning_record_in_json_logs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "job_types.json"
    source.write_text(json.dumps({"default": {"job_settings": {}}}))
    code = main(["--log-format", "json", "job-types", "show", "nope", "--job-type-source", str(source)], environ={})
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert code == 0 and [r["level"] for r in records] == ["WARNING"], records
    assert records[0]["message"].startswith("gather-job: warning: job_type 'nope' is not stored in")
