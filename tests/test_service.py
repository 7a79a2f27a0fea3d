"""The metadata service client against a real HTTP server on 127.0.0.1 (no patched requests)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from gather_job.errors import ServiceError, UsageError
from gather_job.service import MetadataService, RetryPolicy, quote_part, redact_url
from tests.support.fake_service import FakeMetadataService, Fault, Route

ENDPOINTS = {
    "subject": "/api/v2/subject",
    "procedures": "/api/v2/procedures",
    "instrument": "/api/v2/instrument",
    "funding": "/api/v2/funding",
    "investigators": "/api/v2/investigators",
}
FAST = RetryPolicy(retries=3, backoff_s=0.01, backoff_max_s=0.05, total_s=10.0)


@pytest.fixture
def fake() -> Iterator[FakeMetadataService]:
    with FakeMetadataService() as server:
        yield server


def client(url: str, **kwargs: object) -> MetadataService:
    kwargs.setdefault("policy", FAST)
    return MetadataService(url, ENDPOINTS, **kwargs)  # type: ignore[arg-type]


def test_answers_carry_status_body_and_error_header(fake: FakeMetadataService) -> None:
    fake.add("/api/v2/subject/1", Route(200, {"subject_id": "1"}))
    fake.add(
        "/api/v2/instrument/X",
        Route(400, [{"instrument_id": "X"}], {"X-Error-Message": "Models have not been validated."}),
    )
    fake.add("/api/v2/funding/P", Route(406, {"detail": "Project has subprojects"}))
    svc = client(fake.url)
    assert svc.get("subject", "1").body == {"subject_id": "1"}
    inst = svc.get("instrument", "X")
    assert (inst.status, inst.error_message) == (400, "Models have not been validated.")
    assert svc.get("funding", "P").detail == "Project has subprojects"
    assert svc.get("procedures", "1").status == 404
    svc.close()


@pytest.mark.parametrize("status", [400, 404, 406])
def test_answers_about_the_data_are_never_retried(fake: FakeMetadataService, status: int) -> None:
    fake.add("/api/v2/subject/1", Route(status, {"detail": "no"}))
    assert client(fake.url).get("subject", "1").status == status
    assert fake.count("/api/v2/subject/1") == 1


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_transient_statuses_are_retried_then_succeed(fake: FakeMetadataService, status: int) -> None:
    fake.add("/api/v2/subject/1", Route(200, {"ok": True}))
    fake.inject("/api/v2/subject/1", Fault("status", times=2, status=status))
    assert client(fake.url).get("subject", "1").body == {"ok": True}
    assert fake.count("/api/v2/subject/1") == 3


def test_gives_up_after_the_retries_with_a_service_error(fake: FakeMetadataService) -> None:
    fake.inject("/api/v2/subject/1", Fault("status", times=10, status=503))
    with pytest.raises(ServiceError, match=r"HTTP 503 \(after 4 attempts"):
        client(fake.url).get("subject", "1")
    assert fake.count("/api/v2/subject/1") == 4


@pytest.mark.slow
def test_retry_after_is_honoured(fake: FakeMetadataService) -> None:
    fake.add("/api/v2/subject/1", Route(200, {}))
    fake.inject("/api/v2/subject/1", Fault("status", times=1, status=503, headers={"Retry-After": "1"}))
    started = time.monotonic()
    client(fake.url).get("subject", "1")
    assert time.monotonic() - started >= 0.95


def test_connection_refused_fails_fast() -> None:
    started = time.monotonic()
    with pytest.raises(ServiceError, match="connection failed"):
        client("http://127.0.0.1:9").get("subject", "1")
    assert time.monotonic() - started < 5


@pytest.mark.slow
def test_a_hung_service_times_out_within_the_total_bound(fake: FakeMetadataService) -> None:
    fake.inject("/api/v2/subject/1", Fault("hang", times=10, seconds=30))
    policy = RetryPolicy(retries=5, backoff_s=0.01, total_s=1.5)
    started = time.monotonic()
    with pytest.raises(ServiceError, match=r"gave up|attempts"):
        client(fake.url, policy=policy, default_timeout=0.4).get("subject", "1")
    assert time.monotonic() - started < 3


@pytest.mark.slow
def test_a_trickling_body_meets_the_deadline(fake: FakeMetadataService) -> None:
    fake.add("/api/v2/subject/1", Route(200, {"padding": "x" * 200}))
    fake.inject("/api/v2/subject/1", Fault("slow_body", times=10, seconds=0.05))
    policy = RetryPolicy(retries=1, backoff_s=0.01, total_s=5)
    started = time.monotonic()
    with pytest.raises(ServiceError, match="body not complete"):
        client(fake.url, policy=policy, default_timeout=0.5).get("subject", "1")
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("kind", ["html", "bad_json"])
def test_a_200_that_is_not_json_names_the_url(fake: FakeMetadataService, kind: str) -> None:
    fake.add("/api/v2/subject/1", Route(200, {"subject_id": "1", "more": list(range(50))}))
    fake.inject("/api/v2/subject/1", Fault(kind, times=1))
    with pytest.raises(ServiceError, match=r"/api/v2/subject/1 with a body that is not JSON"):
        client(fake.url).get("subject", "1")


@pytest.mark.parametrize("kind", ["truncate", "reset"])
def test_broken_connections_are_retried(fake: FakeMetadataService, kind: str) -> None:
    fake.add("/api/v2/subject/1", Route(200, {"subject_id": "1", "more": list(range(50))}))
    fake.inject("/api/v2/subject/1", Fault(kind, times=1))
    assert client(fake.url).get("subject", "1").body["subject_id"] == "1"
    assert fake.count("/api/v2/subject/1") == 2


def test_other_client_errors_are_not_retried(fake: FakeMetadataService) -> None:
    fake.add("/api/v2/subject/1", Route(401, {"detail": "unauthorised"}))
    with pytest.raises(ServiceError, match=r"HTTP 401.*unauthorised"):
        client(fake.url).get("subject", "1")
    assert fake.count() == 1


def test_path_parts_are_encoded_and_the_prefix_kept() -> None:
    with FakeMetadataService(prefix="/svc") as server:
        server.add("/api/v2/funding/Test project", Route(200, []))
        server.add("/api/v2/subject/a/b", Route(200, {"escaped": False}))
        svc = client(server.url + "/svc/")
        assert svc.get("funding", "Test project").status == 200
        assert svc.get("subject", "a/b").status == 200
        assert svc.get("subject", "..").status == 404
        raw = [r.raw_path for r in server.requests]
    assert raw == ["/svc/api/v2/funding/Test%20project", "/svc/api/v2/subject/a%2Fb", "/svc/api/v2/subject/%2E%2E"]


@pytest.mark.parametrize("value", ["../x", "%2F", "http://evil.example/x", "..", "."])
def test_quote_part_never_leaves_the_segment(value: str) -> None:
    encoded = quote_part(value)
    assert "/" not in encoded
    assert encoded not in (".", "..")


@pytest.mark.slow
def test_requests_run_concurrently_on_a_pooled_session(fake: FakeMetadataService) -> None:
    for kind in ENDPOINTS:
        fake.add(f"{ENDPOINTS[kind]}/k", Route(200, {}))
    fake.set_latency(0.4)
    svc = client(fake.url)
    started = time.monotonic()
    futures = [svc.submit(kind, "k") for kind in ENDPOINTS]
    assert all(f.result().status == 200 for f in futures)
    assert time.monotonic() - started < 1.0  # five 0.4 s requests, overlapped
    assert fake.requests[0].headers["user-agent"].startswith("gather-job")
    svc.get("subject", "k")
    svc.get("subject", "k")
    ids = [r.connection_id for r in fake.requests[-2:]]
    assert ids[0] == ids[1]  # the connection was reused
    svc.close()


def test_bad_base_url_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="not an http"):
        client("aind-metadata-service")


def test_credentials_never_appear_in_messages() -> None:
    assert redact_url("http://user:secret@host:8080/x") == "http://***@host:8080/x"
    with pytest.raises(ServiceError) as caught:
        client("http://user:s3cret@127.0.0.1:9").get("subject", "1")
    assert "s3cret" not in str(caught.value)


def test_a_host_name_that_does_not_resolve_says_how_to_go_on_from_a_desk() -> None:
    """`run` keeps "retry later" (the pipeline's case) and adds the desk's way out."""
    service = client("http://no-such-host.invalid", policy=RetryPolicy(retries=0, total_s=5.0))
    with pytest.raises(ServiceError) as caught:
        service.get("subject", "1")
    said = f"{caught.value} {caught.value.hint}"
    if "Name or service not known" not in said:
        pytest.skip(f"this machine's resolver answers otherwise: {said}")
    assert "retry the job later" in said and "set metadata_service_url, or offline: true" in said
