"""Redirects from the metadata service: never to another origin, never in a loop, never retried.

The report credits metadata_service_url with every answer, so an answer fetched from elsewhere
(another host, port or scheme) would be misattributed: such a redirect is a ServiceError (exit 4)
naming both URLs, without their credentials. A redirect within the service's origin (a trailing
slash, a moved path) is followed, up to service.MAX_REDIRECTS hops; a loop is refused at once.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gather_job.errors import ServiceError
from gather_job.service import MAX_REDIRECTS, MetadataService, RetryPolicy
from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService, Route
from tests.support.reliability import record

SUBJECT = f"/api/v2/subject/{assets.SUBJECT_ID}"


@pytest.fixture
def elsewhere() -> Iterator[FakeMetadataService]:
    """Another server, with the right answer: a redirect there must still not be followed."""
    routes = {path: Route(*answer) for path, answer in assets.service_routes().items()}
    with FakeMetadataService(routes) as server:
        yield server


def _moved(location: str, status: int = 302) -> Route:
    return Route(status, {"detail": "moved"}, headers={"Location": location})


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_host_is_refused_and_not_retried(  # type: ignore[no-untyped-def]
    gather, asset, service: FakeMetadataService, elsewhere: FakeMetadataService, status: int
) -> None:
    target = elsewhere.url.replace("http://", "http://user:Redirect-Secret@") + SUBJECT + "?token=Redirect-Token"
    service.add(SUBJECT, _moved(target, status))
    run = gather(asset(), service_url=service.url, service_retries=3)
    ok = (
        run.code == 4
        and service.count(SUBJECT) == 1
        and elsewhere.count() == 0
        and service.url in run.err
        and elsewhere.url.removeprefix("http://") in run.err
        and "Redirect-Secret" not in run.err
        and "Redirect-Token" not in run.err
    )
    record(f"service answers {status} to another host", ok)
    assert ok, run.err[-2000:]


@pytest.mark.parametrize(
    "where",
    ["https://127.0.0.1:{port}", "http://localhost:{port}", "http://127.0.0.1:{other}", "//127.0.0.2:{port}"],
)
def test_another_scheme_host_or_port_is_another_origin(service: FakeMetadataService, where: str) -> None:
    port = int(service.url.rsplit(":", 1)[1])
    service.add("/s/1", _moved(where.format(port=port, other=port + 1) + "/s/2"))
    service.add("/s/2", Route(200, {"ok": True}))
    svc = MetadataService(service.url, {"subject": "/s"}, policy=RetryPolicy(retries=3, backoff_s=0.01))
    with pytest.raises(ServiceError, match="another host, scheme or port") as caught:
        svc.get("subject", "1")
    svc.close()
    ok = service.count("/s/1") == 1 and service.count("/s/2") == 0 and caught.value.exit_code == 4
    record(f"service redirects to {where.split(':')[0] or 'a scheme-relative URL'} elsewhere", ok)
    assert ok


def test_a_redirect_within_the_service_is_followed_and_credited_to_it(  # type: ignore[no-untyped-def]
    gather, asset, service: FakeMetadataService
) -> None:
    service.add(f"{SUBJECT}-v2", Route(*assets.service_routes()[SUBJECT]))
    service.add(SUBJECT, _moved(f"{SUBJECT}-v2", 307))  # a relative Location, as most servers send
    run = gather(asset(), service_url=service.url)
    calls = run.report()["service_calls"] if run.output.exists() else []
    ok = run.code == 0 and any(call.endswith(SUBJECT) for call in calls) and service.count(f"{SUBJECT}-v2") == 1
    record("service redirects within its own origin (followed)", ok)
    assert ok, run.err[-2000:]


def test_hops_within_the_service_are_bounded(service: FakeMetadataService) -> None:
    last = MAX_REDIRECTS + 1
    for hop in range(last):
        service.add(f"/s/{hop}", _moved(f"/s/{hop + 1}"))
    service.add(f"/s/{last}", Route(200, {"ok": True}))
    svc = MetadataService(service.url, {"subject": "/s"}, policy=RetryPolicy(retries=3, backoff_s=0.01))
    followed = svc.get("subject", "1").body == {"ok": True}  # MAX_REDIRECTS hops: followed
    service.reset_counts()
    with pytest.raises(ServiceError, match=f"more than {MAX_REDIRECTS} times"):
        svc.get("subject", "0")  # one more: refused
    svc.close()
    ok = followed and service.count() == MAX_REDIRECTS + 1
    record("service redirects more times than allowed", ok)
    assert ok, service.count()


@pytest.mark.parametrize("loop", [["/s/a"], ["/s/a", "/s/b"], ["/s/a", "/s/b/", "/s/c"]])
def test_a_redirect_loop_is_refused_at_once_and_not_retried(service: FakeMetadataService, loop: list[str]) -> None:
    for here, there in zip(loop, [*loop[1:], loop[0]], strict=True):
        service.add(here, _moved(there))
    svc = MetadataService(service.url, {"subject": "/s"}, policy=RetryPolicy(retries=5, backoff_s=0.01))
    with pytest.raises(ServiceError, match="in a loop") as caught:
        svc.get("subject", "a")
    svc.close()
    ok = service.count() == len(loop) and all(service.count(path) == 1 for path in loop)
    record(f"service redirect loop of {len(loop)}", ok)
    assert ok and caught.value.exit_code == 4, (service.count(), str(caught.value))


@pytest.mark.parametrize(
    "location",
    ["http://[::1", "http://127.0.0.1:99999/x", "/s/ne\x7fxt", "/s/ne\txt", "/s/ne xt", "http://127.0.0.1:abc/"],
)
def test_an_unusable_location_is_refused(service: FakeMetadataService, location: str) -> None:
    service.add("/s/1", Route(302, None, headers={"Location": location}))
    svc = MetadataService(service.url, {"subject": "/s"}, policy=RetryPolicy(retries=3, backoff_s=0.01))
    with pytest.raises(ServiceError) as caught:
        svc.get("subject", "1")
    svc.close()
    ok = service.count() == 1 and "\r" not in str(caught.value)
    record(f"service redirects to an unusable Location {location!r}", ok)
    assert ok, str(caught.value)


def test_a_redirect_without_a_location_is_an_error_not_a_retry(service: FakeMetadataService) -> None:
    service.add("/s/1", Route(302, {"detail": "somewhere"}))
    svc = MetadataService(service.url, {"subject": "/s"}, policy=RetryPolicy(retries=3, backoff_s=0.01))
    with pytest.raises(ServiceError, match="HTTP 302"):
        svc.get("subject", "1")
    svc.close()
    ok = service.count("/s/1") == 1
    record("service answers 302 without a Location", ok)
    assert ok
