"""Benchmark assets, built in code with aind-data-schema's models and scaled by a factor N.

The 1x asset is a two-instrument recording like the ones rigs leave: an ecephys rig ``EPHYS1`` and a
SLAP2 imaging rig ``SLAP2_1_VCO_1`` on subject 664484 at the same time, sharing one Harp clock
generator. Each rig writes its own ``instrument_*.json`` and ``acquisition_*.json``; the SLAP2 data
stream starts within 120 s of an ephys stream, so the library fuses them when the acquisitions merge.
The service answers (subject, procedures with an implanted probe, funding, investigators) are built
too.

Scaling by N replicates what grows on a bigger rig: every component (with a unique name), every
connection and calibration, each data stream's active devices and configurations, and the stimulus
epochs (each copy gets its own slice of the original epoch, so every time stays inside the
acquisition's bounds). The shared clock stays one device. File sizes grow about N-fold (100x: about
3 MB per instrument file, 4 and 5 MB acquisitions), and the asset stays valid and merge-able.

    python bench/scenarios.py OUTDIR [--scale N]    # writes OUTDIR/metadata and OUTDIR/service

The builder is split by part, and everything is re-exported here: bench/scenario_common.py holds the
ids, times, service paths, `tag`, `slices` and the instrument assembly both rigs use;
bench/scenario_ephys_rig.py and bench/scenario_slap2_rig.py the two instruments;
bench/scenario_acquisitions.py the two acquisitions; bench/scenario_service.py the service answers.
This module puts them together into an `Asset` (`build`), writes it (`write`) and gives its job
settings (`settings`).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if not __package__:  # run as `python bench/scenarios.py`: make bench.* importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.scenario_acquisitions import ephys_acquisition, slap2_acquisition
from bench.scenario_common import (
    CLOCK,
    END,
    ENRICHMENT_PATHS,
    EPHYS_ID,
    MERGED_ID,
    MODALITIES,
    PACIFIC,
    PROJECT_NAME,
    SERVICE_PATHS,
    SLAP2_END,
    SLAP2_ID,
    SLAP2_START,
    START,
    SUBJECT_ID,
    slices,
    tag,
)
from bench.scenario_ephys_rig import ephys_instrument
from bench.scenario_service import funding, people, procedures, subject
from bench.scenario_slap2_rig import SLAP2_DEVICES, slap2_instrument

__all__ = [
    "CLOCK",
    "END",
    "ENRICHMENT_PATHS",
    "EPHYS_ID",
    "FILES",
    "MERGED_ID",
    "MODALITIES",
    "PACIFIC",
    "PROJECT_NAME",
    "SERVICE_PATHS",
    "SLAP2_DEVICES",
    "SLAP2_END",
    "SLAP2_ID",
    "SLAP2_START",
    "START",
    "SUBJECT_ID",
    "Asset",
    "build",
    "ephys_acquisition",
    "ephys_instrument",
    "funding",
    "people",
    "procedures",
    "settings",
    "slap2_acquisition",
    "slap2_instrument",
    "slices",
    "subject",
    "tag",
    "write",
]


# -- the asset on disk -----------------------------------------------------------------------------


@dataclass
class Asset:
    """One scale of the scenario: the metadata folder's files and the service's answers (bytes)."""

    scale: int
    files: dict[str, bytes] = field(default_factory=dict)
    service: dict[str, Any] = field(default_factory=dict)  # path -> JSON body

    @property
    def input_bytes(self) -> int:
        return sum(len(data) for data in self.files.values())

    def sizes(self) -> dict[str, int]:
        return {name: len(data) for name, data in self.files.items()}


def _dump(model: Any) -> bytes:
    return str(model.model_dump_json(indent=3)).encode("utf-8")


FILES: dict[str, Callable[[int], Any]] = {
    "instrument_ecephys.json": ephys_instrument,
    "instrument_slap2.json": slap2_instrument,
    "acquisition_ecephys.json": ephys_acquisition,
    "acquisition_slap2.json": slap2_acquisition,
}


def build(scale: int = 1) -> Asset:
    """The asset at `scale` (files as the library writes them, indent 3)."""
    if scale < 1:
        raise ValueError("scale must be >= 1")
    asset = Asset(scale)
    for name, builder in FILES.items():
        asset.files[name] = _dump(builder(scale))
    asset.service = {
        SERVICE_PATHS["subject"]: subject().model_dump(mode="json"),
        SERVICE_PATHS["procedures"]: procedures().model_dump(mode="json"),
        SERVICE_PATHS["funding"]: funding(),
        SERVICE_PATHS["investigators"]: people(),
        **{path: [] for path in ENRICHMENT_PATHS},
    }
    return asset


def write(asset: Asset, folder: Path) -> Path:
    """Write the metadata files into `folder` (created); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in asset.files.items():
        (folder / name).write_bytes(data)
    return folder


def settings(metadata_dir: Path, output_dir: Path, service_url: str) -> dict[str, Any]:
    """The job settings for this asset (the reference's field names; both jobs accept them)."""
    return {
        "metadata_dir": str(metadata_dir),
        "output_dir": str(output_dir),
        "subject_id": SUBJECT_ID,
        "acquisition_start_time": START.isoformat(),
        "data_description_settings": {
            "project_name": PROJECT_NAME,
            "modalities": MODALITIES,
            "tags": ["benchmark"],
            "data_summary": "Simultaneous ecephys and SLAP2 imaging",
        },
        "metadata_service_url": service_url,
    }


def _main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--scale", type=int, default=1)
    args = parser.parse_args()
    asset = build(args.scale)
    write(asset, args.outdir / "metadata")
    service = args.outdir / "service"
    service.mkdir(parents=True, exist_ok=True)
    (service / "routes.json").write_text(
        json.dumps({path: {"status": 200, "json": body} for path, body in asset.service.items()}, indent=1)
    )
    for name, size in asset.sizes().items():
        print(f"{name:28} {size / 1024:10.1f} KiB")


if __name__ == "__main__":
    _main()
