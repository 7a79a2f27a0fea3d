"""quality_control.json is byte-identical on a rerun, whatever the process's hash seed.

aind-data-schema computes `QualityControl.status` in an after-validator from `list(set(...))` of the
metrics' tag pairs, modalities and stages, so the key order of `status` follows PYTHONHASHSEED, which
differs from one process to the next. The job orders it (`documents.stable_status`); the library is
never patched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aind_data_schema.core.quality_control import QCMetric, QCStatus, QualityControl, Stage, Status
from aind_data_schema_models.modalities import Modality

from gather_job.findings import Findings
from gather_job.pipeline.documents import Document
from gather_job.pipeline.merge import merge_quality_control
from tests.conftest import base_settings
from tests.fixtures import assets

SEEDS = ("0", "1", "2", "3")


def _qc(prefix: str, modality: Any, stage: Stage, count: int = 8) -> QualityControl:
    """Many tag pairs, so that no two hash seeds are likely to give the library's set the same order."""
    status = QCStatus(evaluator="Automated", status=Status.PASS, timestamp=assets.ACQUISITION_START)
    metrics = [
        QCMetric(
            name=f"{prefix} {i}",
            modality=modality,
            stage=stage,
            value=i,
            status_history=[status],
            tags={"probe": f"{prefix}{i}", "shank": str(i % 3)},
        )
        for i in range(count)
    ]
    return QualityControl(metrics=metrics, default_grouping=["modality", "probe"])


def _expected_order(qc: QualityControl) -> list[str]:
    status = qc.status or {}
    tags = sorted(k for k in status if ":" in k)
    modalities = sorted(k for k in status if k in {"ecephys", "behavior-videos"})
    stages = sorted(k for k in status if k in {"Raw data", "Processing"})
    return tags + modalities + stages


def test_a_documents_quality_control_status_is_ordered_by_group_then_name() -> None:
    qc = _qc("A", Modality.ECEPHYS, Stage.RAW)
    assert qc.status is not None
    qc.status = dict(reversed(list(qc.status.items())))  # what another hash seed may give
    values = dict(qc.status)
    doc = Document(kind="quality_control", label="quality_control.json", model=qc)
    assert doc.model is qc and list(qc.status) == _expected_order(qc)
    assert qc.status == values  # the library's values, only reordered
    assert list(qc.status)[:3] == ["probe:A0", "probe:A1", "probe:A2"]
    assert list(qc.status)[-2:] == ["ecephys", "Raw data"]


def test_a_merged_quality_control_status_is_ordered() -> None:
    parts = [
        ("qc_a.json", _qc("A", Modality.ECEPHYS, Stage.RAW)),
        ("qc_b.json", _qc("B", Modality.BEHAVIOR_VIDEOS, Stage.PROCESSING)),
    ]
    merged = merge_quality_control(parts, Findings())
    assert list(merged.status) == _expected_order(merged)
    assert list(merged.status)[-4:] == ["behavior-videos", "ecephys", "Processing", "Raw data"]


def _run_in_processes(folder: Path, tmp_path: Path) -> dict[str, bytes]:
    """The job in one fresh interpreter per hash seed, all at once; quality_control.json of each."""
    children = {}
    for seed in SEEDS:
        settings = base_settings(folder, tmp_path / f"out-{seed}", None)
        path = tmp_path / f"settings-{seed}.json"
        path.write_text(json.dumps(settings, default=str))
        children[seed] = subprocess.Popen(
            [sys.executable, "-m", "gather_job", "run", "--settings-file", str(path)],
            env={**os.environ, "PYTHONHASHSEED": seed},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    written = {}
    for seed, child in children.items():
        _, err = child.communicate(timeout=300)
        assert child.returncode == 0, err
        written[seed] = (tmp_path / f"out-{seed}" / "quality_control.json").read_bytes()
    return written


@pytest.mark.slow
@pytest.mark.parametrize("merged", [False, True])
def test_quality_control_is_byte_identical_under_any_hash_seed(asset, tmp_path: Path, merged: bool) -> None:  # type: ignore[no-untyped-def]
    folder = asset(with_subject=True, with_procedures=True)
    a, b = _qc("A", Modality.ECEPHYS, Stage.RAW), _qc("B", Modality.BEHAVIOR_VIDEOS, Stage.PROCESSING)
    if merged:
        assets.write_json(a, folder / "quality_control_a.json")
        assets.write_json(b, folder / "quality_control_b.json")
    else:
        assets.write_json(
            QualityControl(metrics=a.metrics + b.metrics, default_grouping=["modality"]),
            folder / "quality_control.json",
        )
    written = _run_in_processes(folder, tmp_path)
    assert len(set(written.values())) == 1, "quality_control.json differs between hash seeds"
    qc = QualityControl.model_validate_json(written[SEEDS[0]])
    assert list(json.loads(written[SEEDS[0]])["status"]) == _expected_order(qc)
