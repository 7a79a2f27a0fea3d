"""What every part of the benchmark scenario shares: its identities and times, and how an instrument is put together.

The subject, project, rig ids and the shared clock; the acquisition's bounds (Pacific) and the SLAP2
stream's (UTC); the service paths the jobs ask. `tag` names a device in copy N of a rig, `slices`
tiles a time window for N copies of a stimulus epoch, and `_instrument` builds either rig's
Instrument from its per-copy components, connections and calibrations around the one shared clock.
bench/scenarios.py re-exports the public names.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

SUBJECT_ID = "664484"
PROJECT_NAME = "Example project"
EPHYS_ID = "EPHYS1"
SLAP2_ID = "SLAP2_1_VCO_1"
MERGED_ID = "_".join(sorted([EPHYS_ID, SLAP2_ID]))
CLOCK = "VCO1_TimeStampGenerator"
MODALITIES = ["behavior", "behavior-videos", "ecephys", "slap2"]
PACIFIC = ZoneInfo("America/Los_Angeles")
START = datetime(2023, 4, 25, 2, 35, tzinfo=PACIFIC)
END = datetime(2023, 4, 25, 3, 16, tzinfo=PACIFIC)
SLAP2_START = datetime(2023, 4, 25, 9, 45, tzinfo=UTC)  # 02:45 Pacific: fuses with an ephys stream
SLAP2_END = datetime(2023, 4, 25, 10, 15, tzinfo=UTC)
SERVICE_PATHS = {
    "subject": f"/api/v2/subject/{SUBJECT_ID}",
    "procedures": f"/api/v2/procedures/{SUBJECT_ID}",
    "funding": f"/api/v2/funding/{PROJECT_NAME}",
    "investigators": f"/api/v2/investigators/{PROJECT_NAME}",
}
# The reference job also asks these; answered with empty lists so it never sleeps on a 404 retry.
ENRICHMENT_PATHS = (f"/api/v2/dataverse/mouse_weight_records/{SUBJECT_ID}", "/api/v2/labtracks/subject")


def tag(name: str, copy: int) -> str:
    """The name of a device in copy `copy` of the rig (copy 0 keeps the real name)."""
    return name if copy == 0 else f"{name} r{copy}"


def slices(start: datetime, end: datetime, count: int) -> list[tuple[datetime, datetime]]:
    """`count` consecutive windows that tile [start, end]."""
    step = (end - start) / count
    return [(start + step * i, end if i == count - 1 else start + step * (i + 1)) for i in range(count)]


# -- both rigs' instruments ------------------------------------------------------------------------


def _clock() -> Any:
    from aind_data_schema.components.devices import HarpDevice
    from aind_data_schema_models.harp_types import HarpDeviceType

    return HarpDevice(name=CLOCK, harp_device_type=HarpDeviceType.TIMESTAMPGENERATORGEN3, is_clock_generator=True)


def _connections(links: list[tuple[str, str | None, str, str | None]]) -> list[Any]:
    from aind_data_schema.components.connections import Connection

    return [Connection(source_device=s, source_port=sp, target_device=t, target_port=tp) for s, sp, t, tp in links]


def _instrument(instrument_id: str, when: date, modalities: list[Any], copies: list[tuple[list, list, list]]) -> Any:
    from aind_data_schema.components.coordinates import CoordinateSystemLibrary
    from aind_data_schema.core.instrument import Instrument

    return Instrument(
        location="323",
        instrument_id=instrument_id,
        modification_date=when,
        modalities=modalities,
        global_coordinate_system=CoordinateSystemLibrary.BREGMA_ARI,
        components=[_clock(), *(device for parts, _, _ in copies for device in parts)],
        connections=_connections([link for _, links, _ in copies for link in links]),
        calibrations=[cal for _, _, cals in copies for cal in cals],
    )
