"""Service answers of a shape the library's validators crash on: findings and exit 3, never exit 1.

Found by mutating the fake service's bodies: an investigator whose name is a number (the sort by name
failed), and a funding record whose fundee list holds a number (aind-data-schema's `coerce_object_type` raises
TypeError, which pydantic does not turn into a ValidationError).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService, Route

INVESTIGATORS = f"/api/v2/investigators/{assets.PROJECT_NAME}"
FUNDING = f"/api/v2/funding/{assets.PROJECT_NAME}"


@pytest.mark.parametrize(
    ("path", "body", "finding"),
    [
        (INVESTIGATORS, [{"object_type": "Person", "name": 5}, {"object_type": "Person", "name": "B"}], "invalid"),
        (INVESTIGATORS, [{"object_type": "Person", "name": ["A"]}], "invalid"),
        (FUNDING, [{**assets.funding()[0], "fundee": [5]}], "crashed"),
    ],
)
def test_a_broken_funding_or_investigators_answer_is_a_finding(
    gather: Any, asset: Any, service: FakeMetadataService, path: str, body: Any, finding: str
) -> None:
    service.add(path, Route(200, body))
    run = gather(asset(with_subject=True), service_url=service.url)
    assert run.code == 3, run.err
    assert "Traceback" not in run.err
    assert f"gather.schema.{finding}" in run.ids("error"), run.err
