"""output_dir: s3://...: the local run's files, verified checksums, the report last, if_exists, the race."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from gather_job.aws import Clients
from gather_job.cli import main
from gather_job.errors import OutputRefused, ServiceError
from gather_job.job import GatherMetadataJob
from gather_job.settings.layers import Layer, SettingsInput, compose_settings
from gather_job.storage.s3_target import S3Target, composite_sha256
from gather_job.storage.s3uri import parse
from tests.conftest import base_settings
from tests.support.aws_fixtures import REGION, Aws

CORE = ["acquisition.json", "data_description.json", "instrument.json", "procedures.json", "subject.json"]
PREFIX = "123456_2024-03-05_14-20-00/"
INPUTS = ["acquisition_a.json", "acquisition_b.json", "instrument_a.json", "instrument_b.json"]
KEPT = [f"original_metadata/uploaded_json/{n}" for n in [*INPUTS, "procedures.json", "subject.json"]]


def s3_settings(folder: Path, aws: Aws, output_dir: str, **overrides: Any) -> dict[str, Any]:
    settings = base_settings(folder, Path("unused"), None)
    settings.update(output_dir=output_dir, s3_endpoint_url=aws.url, aws_region=REGION, **overrides)
    return settings


def run(settings: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["run", "--job-settings", json.dumps(settings)], environ={})
    return code, " ".join(capsys.readouterr().err.split())  # the message as one line, however it was wrapped


@pytest.fixture
def offline_asset(asset):  # type: ignore[no-untyped-def]
    return asset(with_subject=True, with_procedures=True)


@pytest.mark.slow
def test_s3_gets_the_same_files_as_a_local_run_with_verified_checksums(
    aws: Aws, aws_env: Any, offline_asset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    code, err = run(s3_settings(offline_asset, aws, f"s3://{bucket}/{PREFIX}"), capsys)
    assert code == 0, err
    assert f"to s3://{bucket}/{PREFIX.rstrip('/')}" in err
    local = tmp_path / "local"
    assert run(s3_settings(offline_asset, aws, str(local)), capsys)[0] == 0

    stored = aws.objects(bucket, PREFIX)
    assert sorted(stored) == sorted([*CORE, *KEPT, "gather_report.json"])
    for name in [*CORE, *KEPT]:
        assert stored[name] == (local / name).read_bytes(), name  # byte for byte what a local run writes
        head = aws.s3.head_object(Bucket=bucket, Key=PREFIX + name, ChecksumMode="ENABLED")
        assert (local / name).read_bytes() == stored[name]
        assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(stored[name]).digest()).decode()
        assert head["ContentType"] == "application/json"
    report = json.loads(stored["gather_report.json"])
    assert report["status"] == "written"
    assert report["files"] == {
        name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        for name, data in stored.items()
        if name != "gather_report.json"
    }


@pytest.mark.slow
def test_boto3s_own_configuration_works_unchanged(
    aws: Aws, aws_env: Any, offline_asset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No endpoint, region or credentials in the settings: AWS_ENDPOINT_URL and AWS_PROFILE decide."""
    bucket = aws.bucket()
    (tmp_path / "config").write_text(f"[profile uploader]\nregion = {REGION}\n")
    (tmp_path / "credentials").write_text("[uploader]\naws_access_key_id = testing\naws_secret_access_key = testing\n")
    aws_env(
        AWS_ACCESS_KEY_ID=None,
        AWS_SECRET_ACCESS_KEY=None,
        AWS_CONFIG_FILE=str(tmp_path / "config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "credentials"),
        AWS_PROFILE="uploader",
        AWS_ENDPOINT_URL=aws.url,
    )
    settings = base_settings(offline_asset, Path("unused"), None)
    settings["output_dir"] = f"s3://{bucket}/{PREFIX}"
    code, err = run(settings, capsys)
    assert code == 0, err
    assert "gather_report.json" in aws.etags(bucket, PREFIX)


def _target_run(aws: Aws, folder: Path, uri: str, steps: list[str] | None = None, **overrides: Any) -> Any:
    """GatherMetadataJob with injected clients and a hook that records (or interrupts) each S3 step."""
    client = overrides.pop("client", None) or aws.s3
    given = SettingsInput(inline=Layer("--job-settings", s3_settings(folder, aws, uri, **overrides)))
    settings, notes = compose_settings(given)
    clients = Clients(settings, s3=client)
    hook = (lambda step: steps.append(step)) if steps is not None else None
    return GatherMetadataJob(settings, notes=notes, clients=clients, write_hook=hook).run_job()


@pytest.mark.slow
def test_the_report_is_written_last(aws: Aws, offline_asset: Path) -> None:
    bucket = aws.bucket()
    steps: list[str] = []
    outcome = _target_run(aws, offline_asset, f"s3://{bucket}/{PREFIX}", steps)
    assert outcome.exit_code == 0
    # the kept originals first: an input rewritten in place is kept before it is replaced (`kept_inputs`)
    assert steps == [f"put:{name}" for name in [*KEPT, *CORE]] + ["put:gather_report.json"]


@pytest.mark.slow
def test_a_run_that_fails_partway_leaves_no_report_and_a_rerun_completes_it(
    aws: Aws, aws_env: Any, offline_asset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"

    def crash(step: str) -> None:
        if step == "put:instrument.json":
            raise ServiceError("the network went away")

    given = SettingsInput(inline=Layer("--job-settings", s3_settings(offline_asset, aws, uri)))
    settings, notes = compose_settings(given)
    with pytest.raises(ServiceError):
        GatherMetadataJob(settings, notes=notes, clients=Clients(settings, s3=aws.s3), write_hook=crash).run_job()
    there = sorted(aws.objects(bucket, PREFIX))
    assert there == sorted([*KEPT, "acquisition.json", "data_description.json"])  # no report

    refused, err = run(s3_settings(offline_asset, aws, uri, if_exists="error"), capsys)
    assert refused == 5 and "unfinished earlier run" in err and "overwrite" in err

    code, err = run(s3_settings(offline_asset, aws, uri), capsys)  # the default policy: overwrite
    assert code == 0, err
    assert sorted(aws.objects(bucket, PREFIX)) == sorted([*CORE, *KEPT, "gather_report.json"])


@pytest.mark.slow
def test_if_exists_policies(aws: Aws, aws_env: Any, offline_asset: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"
    assert run(s3_settings(offline_asset, aws, uri), capsys)[0] == 0
    before = aws.objects(bucket, PREFIX)
    etags = aws.etags(bucket, PREFIX)

    code, err = run(s3_settings(offline_asset, aws, uri, if_exists="skip"), capsys)
    assert code == 0 and "skipped" in err
    assert aws.objects(bucket, PREFIX) == before

    code, err = run(s3_settings(offline_asset, aws, uri, if_exists="error"), capsys)
    assert code == 5 and "already holds a gathered asset" in err and uri in err
    assert aws.objects(bucket, PREFIX) == before and aws.etags(bucket, PREFIX) == etags

    code, err = run(s3_settings(offline_asset, aws, uri, if_exists="overwrite"), capsys)
    assert code == 0, err
    after = aws.objects(bucket, PREFIX)
    assert {n: after[n] for n in CORE} == {n: before[n] for n in CORE}  # byte-identical on a re-run
    assert after["gather_report.json"] != before["gather_report.json"]  # a new report (finished_at)


@pytest.mark.slow
def test_an_invalid_rerun_leaves_a_complete_asset_alone(
    aws: Aws, aws_env: Any, asset: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"
    assert run(s3_settings(asset(with_subject=True, with_procedures=True), aws, uri), capsys)[0] == 0
    before = aws.objects(bucket, PREFIX)
    broken = asset("shared_device", with_subject=True, with_procedures=True)
    code, err = run(s3_settings(broken, aws, uri), capsys)
    assert code == 3, err
    assert aws.objects(bucket, PREFIX) == before  # an uploaded asset is never deleted by an invalid rerun


@pytest.mark.slow
def test_an_invalid_run_over_an_unfinished_prefix_leaves_only_its_report(
    aws: Aws, aws_env: Any, asset: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"
    assert run(s3_settings(asset(with_subject=True, with_procedures=True), aws, uri), capsys)[0] == 0
    aws.s3.delete_object(Bucket=bucket, Key=f"{PREFIX}gather_report.json")  # as a killed run leaves it
    code, err = run(s3_settings(asset("shared_device", with_subject=True, with_procedures=True), aws, uri), capsys)
    assert code == 3, err
    stored = aws.objects(bucket, PREFIX)
    assert sorted(stored) == ["gather_report.json"]  # no mix of old core files and a new report
    assert json.loads(stored["gather_report.json"])["status"] == "invalid"


@pytest.mark.slow
def test_other_objects_under_the_prefix_are_left_alone(
    aws: Aws, aws_env: Any, offline_asset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = aws.bucket()
    aws.s3.put_object(Bucket=bucket, Key=f"{PREFIX}ecephys/raw.bin", Body=b"data")
    aws.s3.put_object(Bucket=bucket, Key=f"{PREFIX}notes.txt", Body=b"notes")
    assert run(s3_settings(offline_asset, aws, f"s3://{bucket}/{PREFIX}"), capsys)[0] == 0
    assert run(s3_settings(offline_asset, aws, f"s3://{bucket}/{PREFIX}"), capsys)[0] == 0
    stored = aws.objects(bucket, PREFIX)
    assert stored["ecephys/raw.bin"] == b"data" and stored["notes.txt"] == b"notes"


@pytest.mark.slow
def test_two_jobs_racing_for_one_prefix_with_error_exactly_one_wins(aws: Aws, offline_asset: Path) -> None:
    """Both reach their first conditional write together; S3 lets one create it, the other stops there."""
    bucket = aws.bucket()
    uri = f"s3://{bucket}/{PREFIX}"
    together = threading.Barrier(2, timeout=60)
    outcomes: dict[str, Any] = {}

    def job(label: str) -> None:
        inline = s3_settings(offline_asset, aws, uri, if_exists="error")
        inline["data_description_settings"]["data_summary"] = label  # tells the two results apart
        settings, notes = compose_settings(SettingsInput(inline=Layer("--job-settings", inline)))

        def hook(step: str) -> None:
            if step == f"put:{KEPT[0]}":  # the first write: the kept originals go first
                together.wait()

        try:
            clients = Clients(settings, s3=aws.client("s3"))
            outcomes[label] = GatherMetadataJob(settings, notes=notes, clients=clients, write_hook=hook).run_job()
        except OutputRefused as exc:
            outcomes[label] = exc

    threads = [threading.Thread(target=job, args=(label,)) for label in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    winners = [label for label, outcome in outcomes.items() if not isinstance(outcome, OutputRefused)]
    losers = [outcome for outcome in outcomes.values() if isinstance(outcome, OutputRefused)]
    assert len(winners) == 1 and len(losers) == 1, outcomes
    assert outcomes[winners[0]].exit_code == 0 and outcomes[winners[0]].status == "written"
    assert "already exists" in losers[0].message and KEPT[0] in losers[0].message
    stored = aws.objects(bucket, PREFIX)
    report = json.loads(stored["gather_report.json"])
    assert report["settings"]["data_description_settings"]["data_summary"] == winners[0]
    for name, entry in report["files"].items():  # every object is the winner's: the loser overwrote nothing
        assert hashlib.sha256(stored[name]).hexdigest() == entry["sha256"], name


@pytest.mark.slow
def test_a_checksum_the_store_does_not_confirm_is_exit_4_naming_the_key(aws: Aws, offline_asset: Path) -> None:
    """The store keeps another SHA-256 than the job computed (as if the bytes changed on the way)."""
    bucket = aws.bucket()
    client = aws.client("s3")

    def damage(params: dict[str, Any], **_: Any) -> None:
        if params["Key"].endswith("instrument.json"):
            params["ChecksumSHA256"] = base64.b64encode(hashlib.sha256(b"other bytes").digest()).decode()

    client.meta.events.register("before-parameter-build.s3.PutObject", damage)
    with pytest.raises(ServiceError) as caught:
        _target_run(aws, offline_asset, f"s3://{bucket}/{PREFIX}", client=client)
    assert caught.value.exit_code == 4
    assert f"s3://{bucket}/{PREFIX}instrument.json is not what the job sent" in caught.value.message
    assert "gather_report.json" not in aws.etags(bucket, PREFIX)


@pytest.mark.slow
def test_an_object_gone_right_after_its_write_is_exit_4(aws: Aws, offline_asset: Path) -> None:
    bucket = aws.bucket()
    client, other = aws.client("s3"), aws.client("s3")
    keys: list[str] = []

    def remember(params: dict[str, Any], **_: Any) -> None:
        keys.append(params["Key"])

    def remove(**_: Any) -> None:
        if keys[-1].endswith("subject.json"):
            other.delete_object(Bucket=bucket, Key=keys[-1])  # as another job's cleanup might

    client.meta.events.register("before-parameter-build.s3.PutObject", remember)
    client.meta.events.register("after-call.s3.PutObject", remove)
    with pytest.raises(ServiceError, match=r"subject\.json is not what the job sent.*None bytes"):
        _target_run(aws, offline_asset, f"s3://{bucket}/{PREFIX}", client=client)


@pytest.mark.slow
def test_large_objects_go_multipart_and_their_composite_checksum_is_verified(aws: Aws) -> None:
    bucket = aws.bucket()
    mib = 1024 * 1024
    big = bytes(range(256)) * (11 * mib // 256) + b"tail"  # three 5 MiB parts, the last one short
    small = b'{"a": 1}'

    def target() -> S3Target:
        uri = parse(f"s3://{bucket}/big/", "output_dir")
        return S3Target(uri, aws.s3, "error", multipart_threshold=5 * mib, part_size=5 * mib)

    first, second = target(), target()
    assert first.prepare() and second.prepare()  # both looked before either wrote: a race
    assert first.write({"acquisition.json": big}, small, inputs=frozenset(), originals={}, invalid=False) == [
        "acquisition.json",
        "gather_report.json",
    ]
    head = aws.s3.head_object(Bucket=bucket, Key="big/acquisition.json", ChecksumMode="ENABLED")
    assert head["ContentLength"] == len(big)
    assert head["ChecksumSHA256"].split("-")[0] == composite_sha256(big, 5 * mib).split("-")[0]
    assert aws.objects(bucket, "big/")["acquisition.json"] == big

    with pytest.raises(OutputRefused, match=r"acquisition\.json already exists"):
        second.write({"acquisition.json": big[::-1]}, small, inputs=frozenset(), originals={}, invalid=False)
    assert aws.objects(bucket, "big/")["acquisition.json"] == big  # the conditional multipart replaced nothing
    assert aws.s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []  # the lost upload was aborted


def test_composite_checksum_is_the_digest_of_the_part_digests() -> None:
    data = b"abcdefghij"
    parts = [b"abcd", b"efgh", b"ij"]
    inner = b"".join(hashlib.sha256(p).digest() for p in parts)
    assert composite_sha256(data, 4) == base64.b64encode(hashlib.sha256(inner).digest()).decode() + "-3"
