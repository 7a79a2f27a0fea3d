"""Proves tests/support/fake_service.py behaves as documented, using only http.client and urllib."""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.support.fake_service import FakeMetadataService, Fault, Route

FUNDING = "/api/v2/funding/Test project"
SUBJECT = "/api/v2/subject/123456"


@pytest.fixture
def svc() -> Iterator[FakeMetadataService]:
    routes = {
        FUNDING: Route(200, [{"funder": "NIMH"}]),
        SUBJECT: Route(200, {"subject_id": "123456"}, headers={"X-Extra": "yes"}),
    }
    with FakeMetadataService(routes) as service:
        yield service


def _conn(svc: FakeMetadataService, timeout: float = 5.0) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", urlsplit(svc.url).port, timeout=timeout)


def fetch(
    svc: FakeMetadataService, path: str, method: str = "GET", timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    """One request on a fresh connection: (status, lower-cased headers, body)."""
    conn = _conn(svc, timeout)
    try:
        conn.request(method, path)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body
    finally:
        conn.close()


def test_route_answers_json_with_headers(svc: FakeMetadataService) -> None:
    status, headers, body = fetch(svc, SUBJECT)
    assert status == 200
    assert json.loads(body) == {"subject_id": "123456"}
    assert headers["content-type"] == "application/json"
    assert headers["content-length"] == str(len(body))
    assert headers["x-extra"] == "yes"
    assert "close" not in headers.get("connection", "")


def test_raw_route_and_added_route(svc: FakeMetadataService) -> None:
    svc.add("/api/v2/page", Route(502, raw=b"<html>oops</html>", content_type="text/html"))
    status, headers, body = fetch(svc, "/api/v2/page")
    assert (status, headers["content-type"], body) == (502, "text/html", b"<html>oops</html>")


def test_works_with_urllib(svc: FakeMetadataService) -> None:
    with urllib.request.urlopen(svc.url + "/api/v2/funding/Test%20project", timeout=5) as resp:
        assert json.loads(resp.read()) == [{"funder": "NIMH"}]


def test_path_is_decoded_but_raw_path_is_kept(svc: FakeMetadataService) -> None:
    svc.add("/api/v2/subject/a/b", Route(200, {"ok": "slash"}))
    assert fetch(svc, "/api/v2/funding/Test%20project")[0] == 200
    assert json.loads(fetch(svc, "/api/v2/subject/a%2Fb")[2]) == {"ok": "slash"}
    assert fetch(svc, "/api/v2/subject/123456/?limit=5&x=")[0] == 200
    first, second, third = svc.requests
    assert (first.raw_path, first.path) == ("/api/v2/funding/Test%20project", FUNDING)
    assert "%2F" in second.raw_path and second.path == "/api/v2/subject/a/b"
    assert third.path == SUBJECT and third.query == {"limit": "5", "x": ""}
    assert first.method == "GET" and first.headers["host"].startswith("127.0.0.1:")


def test_prefix_is_required_and_stripped() -> None:
    with FakeMetadataService({SUBJECT: Route(200, {"ok": True})}, prefix="/svc/") as svc:
        assert fetch(svc, "/svc" + SUBJECT)[0] == 200
        assert fetch(svc, SUBJECT)[0] == 404
        assert fetch(svc, "/svcx" + SUBJECT)[0] == 404
        assert svc.count(SUBJECT) == 2  # the prefixed hit and the bare (404) one


def test_unknown_path_404_and_other_methods_405(svc: FakeMetadataService) -> None:
    status, _, body = fetch(svc, "/api/v2/nothing")
    assert (status, json.loads(body)) == (404, {"detail": "Not found"})
    status, headers, body = fetch(svc, SUBJECT, method="POST")
    assert (status, headers["allow"]) == (405, "GET")
    assert fetch(svc, SUBJECT, method="HEAD")[:1] == (405,)


def test_counts_and_reset(svc: FakeMetadataService) -> None:
    for _ in range(3):
        fetch(svc, SUBJECT)
    fetch(svc, "/api/v2/funding/Test%20project/")
    assert (svc.count(), svc.count(SUBJECT), svc.count(FUNDING + "/")) == (4, 3, 1)
    svc.reset_counts()
    assert svc.count() == 0 and svc.requests == []


@pytest.mark.slow
def test_latency_overlaps_across_concurrent_requests(svc: FakeMetadataService) -> None:
    svc.set_latency(0.4)
    results: list[int] = []
    threads = [threading.Thread(target=lambda: results.append(fetch(svc, SUBJECT)[0])) for _ in range(4)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    assert results == [200] * 4
    assert 0.4 <= elapsed < 1.0  # sequential would be 1.6 s


@pytest.mark.slow
def test_per_path_latency_overrides_global(svc: FakeMetadataService) -> None:
    svc.set_latency(0.3, SUBJECT)
    start = time.monotonic()
    fetch(svc, "/api/v2/funding/Test%20project")
    fast = time.monotonic() - start
    fetch(svc, SUBJECT)
    slow = time.monotonic() - start - fast
    assert fast < 0.2 <= 0.3 <= slow


def test_status_fault_with_retry_after_then_route(svc: FakeMetadataService) -> None:
    svc.inject(SUBJECT, Fault("status", times=2, status=503, headers={"Retry-After": "1"}))
    for _ in range(2):
        status, headers, body = fetch(svc, SUBJECT)
        assert (status, headers["retry-after"]) == (503, "1")
        assert "detail" in json.loads(body)
    assert fetch(svc, SUBJECT)[0] == 200
    assert svc.count(SUBJECT) == 3


def test_status_fault_seen_by_urllib(svc: FakeMetadataService) -> None:
    svc.inject(SUBJECT, Fault("status", status=429, headers={"Retry-After": "2"}))
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(svc.url + SUBJECT, timeout=5)
    with info.value as err:
        assert (err.code, err.headers["Retry-After"]) == (429, "2")


def test_wildcard_fault_hits_any_path_after_own_queue(svc: FakeMetadataService) -> None:
    svc.inject("*", Fault("status", status=500))
    svc.inject(SUBJECT, Fault("status", status=502))
    assert fetch(svc, SUBJECT)[0] == 502
    assert fetch(svc, "/api/v2/anything")[0] == 500
    assert fetch(svc, SUBJECT)[0] == 200
    svc.inject("*", Fault("status", times=5))
    svc.clear_faults()
    assert fetch(svc, SUBJECT)[0] == 200


@pytest.mark.slow
def test_hang_trips_client_read_timeout(svc: FakeMetadataService) -> None:
    svc.inject(SUBJECT, Fault("hang", seconds=5))
    start = time.monotonic()
    with pytest.raises(TimeoutError):
        fetch(svc, SUBJECT, timeout=0.3)
    assert time.monotonic() - start < 1.0
    assert svc.count(SUBJECT) == 1  # the request was read before hanging


@pytest.mark.slow
def test_hang_then_close_without_answer(svc: FakeMetadataService) -> None:
    svc.inject(SUBJECT, Fault("hang", seconds=0.2))
    start = time.monotonic()
    with pytest.raises(http.client.RemoteDisconnected):
        fetch(svc, SUBJECT)
    assert time.monotonic() - start >= 0.2


@pytest.mark.slow
def test_slow_body_drips_past_a_per_read_timeout(svc: FakeMetadataService) -> None:
    svc.add("/slow", Route(200, raw=b'{"a": 12345}'))
    svc.inject("/slow", Fault("slow_body", seconds=0.04))
    start = time.monotonic()
    status, headers, body = fetch(svc, "/slow", timeout=0.3)
    assert (status, body, headers["content-length"]) == (200, b'{"a": 12345}', "12")
    assert time.monotonic() - start >= 11 * 0.04


def test_truncate_gives_incomplete_read(svc: FakeMetadataService) -> None:
    svc.inject(SUBJECT, Fault("truncate"))
    conn = _conn(svc)
    try:
        conn.request("GET", SUBJECT)
        resp = conn.getresponse()
        full = int(resp.getheader("Content-Length") or 0)
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert len(info.value.partial) == full // 2
    finally:
        conn.close()


def test_reset_closes_without_answer(svc: FakeMetadataService) -> None:
    svc.inject(SUBJECT, Fault("reset"))
    with pytest.raises(ConnectionResetError):  # RemoteDisconnected is a subclass
        fetch(svc, SUBJECT)
    assert fetch(svc, SUBJECT)[0] == 200


def test_html_fault(svc: FakeMetadataService) -> None:
    svc.inject(SUBJECT, Fault("html"))
    status, headers, body = fetch(svc, SUBJECT)
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert body.startswith(b"<!DOCTYPE html>")


def test_bad_json_fault_has_correct_length(svc: FakeMetadataService) -> None:
    svc.inject(SUBJECT, Fault("bad_json"))
    status, headers, body = fetch(svc, SUBJECT)
    assert status == 200 and headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(body) > 0
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)


def test_unknown_fault_kind_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")


def test_keep_alive_reuses_one_connection(svc: FakeMetadataService) -> None:
    conn = _conn(svc)
    try:
        for path in (SUBJECT, "/api/v2/funding/Test%20project", "/missing"):
            conn.request("GET", path)
            conn.getresponse().read()
    finally:
        conn.close()
    fetch(svc, SUBJECT)
    ids = [r.connection_id for r in svc.requests]
    assert ids[0] == ids[1] == ids[2] != ids[3]


def test_stop_is_fast_with_hung_request_and_idle_connection() -> None:
    svc = FakeMetadataService({SUBJECT: Route(200, {})}).start()
    svc.inject(SUBJECT, Fault("hang", seconds=30))
    errors: list[BaseException] = []

    def hung() -> None:
        try:
            fetch(svc, SUBJECT, timeout=10)
        except Exception as exc:
            errors.append(exc)

    idle = _conn(svc)
    idle.request("GET", "/missing")
    idle.getresponse().read()
    thread = threading.Thread(target=hung)
    thread.start()
    deadline = time.monotonic() + 2
    while svc.count(SUBJECT) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    svc.stop()
    assert time.monotonic() - start < 1.0
    thread.join(timeout=2)
    idle.close()
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ConnectionError)
    svc.stop()  # idempotent
    with pytest.raises(RuntimeError):
        _ = svc.url
