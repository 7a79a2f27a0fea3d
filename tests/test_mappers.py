"""Rig mappers: fip.json becomes the acquisition part acquisition_fip.json with aind-metadata-mapper's own
code (the `mappers` extra), fed from the configured service; the input folder is never written."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import snapshot
from tests.fixtures import assets, fip
from tests.support.fake_service import FakeMetadataService, Route

pytest.importorskip("aind_metadata_mapper")


@pytest.fixture
def fip_service() -> Any:
    routes = {path: Route(*answer) for path, answer in assets.service_routes(fip.SUBJECT_ID).items()}
    routes[f"/api/v2/procedures/{fip.SUBJECT_ID}"] = Route(200, fip.procedures().model_dump(mode="json"))
    routes[f"/intended_measurements/{fip.SUBJECT_ID}"] = Route(200, fip.intended_measurements())
    with FakeMetadataService(routes) as server:
        yield server


@pytest.fixture
def fip_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "fip-asset"
    folder.mkdir()
    (folder / "fip.json").write_text(json.dumps(fip.fip_input(), indent=2))
    assets.write_json(fip.instrument(), folder / "instrument.json")
    return folder


def _settings(service_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "subject_id": fip.SUBJECT_ID,
        "acquisition_start_time": "2025-11-13T09:38:37",
        "data_description_settings": {"project_name": assets.PROJECT_NAME, "modalities": ["fib"]},
        "raise_if_invalid": False,
        **extra,
    }


@pytest.mark.slow
def test_fip_json_becomes_an_acquisition_part(gather, fip_folder: Path, fip_service: FakeMetadataService) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(fip_folder)
    run = gather(fip_folder, service_url=fip_service.url, **_settings(fip_service.url))
    assert snapshot(fip_folder) == before  # nothing written into the input folder (the reference writes there)
    assert not (fip_folder / "acquisition_fip.json").exists()
    acquisition = run.file("acquisition.json")
    stream = acquisition["data_streams"][0]
    assert [m["abbreviation"] for m in stream["modalities"]] == ["fib"]
    assert acquisition["subject_id"] == fip.SUBJECT_ID and acquisition["instrument_id"] == fip.RIG
    assert "Fiber 0" in stream["active_devices"] and "Fiber 1" in stream["active_devices"]
    source = run.report()["sources"]["acquisition.json"]
    assert source == {"from": "mapped", "file": "fip.json", "mapper": "fip", "enriched": source.get("enriched", {})}
    asked = {r.path for r in fip_service.requests}
    assert f"/intended_measurements/{fip.SUBJECT_ID}" in asked  # the configured service, not a fixed host
    assert f"/api/v2/procedures/{fip.SUBJECT_ID}" in asked


@pytest.mark.slow
def test_an_existing_acquisition_fip_json_is_used_as_it_is(gather, fip_folder, fip_service) -> None:  # type: ignore[no-untyped-def]
    first = gather(fip_folder, service_url=fip_service.url, **_settings(fip_service.url))
    (fip_folder / "acquisition_fip.json").write_bytes((first.output / "acquisition.json").read_bytes())
    run = gather(fip_folder, service_url=fip_service.url, **_settings(fip_service.url))
    assert "gather.mapper.not_run" in run.ids("info")
    assert run.report()["sources"]["acquisition.json"]["file"] == "acquisition_fip.json"


@pytest.mark.parametrize(("strict", "severity"), [(True, "error"), (False, "warning")])
def test_a_mapper_failure_is_a_finding(gather, fip_folder, fip_service, strict: bool, severity: str) -> None:  # type: ignore[no-untyped-def]
    fip_service.add(f"/api/v2/procedures/{fip.SUBJECT_ID}", Route(404, {"detail": "Not found"}))  # no implants
    run = gather(fip_folder, service_url=fip_service.url, **_settings(fip_service.url, raise_if_mapper_errors=strict))
    failed = [f for f in run.report()["findings"] if f["id"] == "gather.mapper.failed"]
    assert failed and failed[0]["severity"] == severity and "implanted fibers" in failed[0]["message"]
    assert "Traceback" not in run.err


def test_without_the_extra_the_finding_names_it(gather, fip_folder, fip_service, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "aind_metadata_mapper", None)  # as if the extra were not installed
    run = gather(fip_folder, service_url=fip_service.url, **_settings(fip_service.url))
    missing = [f for f in run.report()["findings"] if f["id"] == "gather.mapper.unavailable"]
    assert missing and missing[0]["severity"] == "error"
    assert "pip install 'gather-job[mappers]'" in missing[0]["hint"]
