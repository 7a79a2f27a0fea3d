"""Build the offline example asset in examples/asset/ with aind-data-schema's own models.

    python examples/build_example.py           # write examples/asset/ and job_settings.example.json
    python examples/build_example.py --check   # exit 1 if the files on disk differ from what it writes

The asset is what two rigs leave behind after one session: an instrument part and an acquisition part
from a behavior box and from its video rig (both parts contain the same Harp clock), plus subject.json
and procedures.json, so gather-job can run with "offline": true and no metadata service, taking
job_settings.example.json (also written here) as its settings file. Every value is fixed, so two runs
write byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from aind_data_schema.components.configs import DetectorConfig, TriggerType
from aind_data_schema.components.connections import Connection
from aind_data_schema.components.coordinates import CoordinateSystemLibrary, Translation
from aind_data_schema.components.devices import (
    Camera,
    CameraAssembly,
    CameraTarget,
    Computer,
    Device,
    HarpDevice,
    Lens,
    Tube,
)
from aind_data_schema.components.identifiers import Code, Person
from aind_data_schema.components.subjects import MouseSubject, Sex
from aind_data_schema.components.surgery_procedures import Headframe
from aind_data_schema.core.acquisition import (
    Acquisition,
    AcquisitionSubjectDetails,
    DataStream,
    StimulusEpoch,
)
from aind_data_schema.core.data_description import DataDescription, Funding
from aind_data_schema.core.instrument import Instrument
from aind_data_schema.core.metadata import Metadata
from aind_data_schema.core.procedures import Procedures, Surgery
from aind_data_schema.core.subject import Subject
from aind_data_schema_models.coordinates import AnatomicalRelative
from aind_data_schema_models.data_name_patterns import DataLevel
from aind_data_schema_models.harp_types import HarpDeviceType
from aind_data_schema_models.modalities import Modality
from aind_data_schema_models.organizations import Organization
from aind_data_schema_models.species import Species, Strain
from aind_data_schema_models.stimulus_modality import StimulusModality

ROOT = Path(__file__).resolve().parent.parent
ASSET_DIR = ROOT / "examples" / "asset"
SETTINGS_FILE = ROOT / "job_settings.example.json"

SUBJECT_ID = "654321"
START = datetime(2024, 5, 14, 9, 30, 0, tzinfo=timezone(timedelta(hours=-7)))  # the rig's wall clock
CLOCK = "Harp Clock"  # the same clock generator is listed by both instrument parts
# Every part uses the same global coordinate system (Instrument + requires it; acquisitions set one too).
AXES = CoordinateSystemLibrary.BREGMA_ARI
Link = tuple[str, str]  # a connection: (source device, target device)


def at(minutes: float) -> datetime:
    """Session time: `minutes` after START."""
    return START + timedelta(minutes=minutes)


def clock() -> HarpDevice:
    return HarpDevice(name=CLOCK, harp_device_type=HarpDeviceType.WHITERABBIT, is_clock_generator=True)


def rig(instrument_id: str, modalities: list[Any], parts: list[Any], links: list[Link]) -> Instrument:
    """One instrument part: the shared clock plus the rig's own parts, and (source, target) connections.
    Parts merge only if their location, coordinate system and temperature control match."""
    return Instrument(
        instrument_id=instrument_id,
        location="Room 310",
        modification_date=date(2024, 4, 2),
        modalities=modalities,
        global_coordinate_system=AXES,
        temperature_control=False,
        components=[clock(), *parts],
        connections=[Connection(source_device=s, target_device=t) for s, t in links],
    )


def behavior_instrument() -> Instrument:
    kind = HarpDeviceType.BEHAVIOR
    harp = HarpDevice(name="Harp Behavior", harp_device_type=kind, is_clock_generator=False)
    tube = Tube(name="Mouse Tube", diameter=Decimal(4))
    return rig(
        "BEH-7",
        [Modality.BEHAVIOR],
        [harp, Device(name="Water Valve"), tube, Computer(name="BEH-7 PC")],
        [(CLOCK, "Harp Behavior"), ("Harp Behavior", "Water Valve"), ("Harp Behavior", "BEH-7 PC")],
    )


def video_instrument() -> Instrument:
    camera = CameraAssembly(
        name="Body Camera Assembly",
        target=CameraTarget.BODY,
        relative_position=[AnatomicalRelative.SUPERIOR],
        camera=Camera(name="Body Camera", manufacturer=Organization.FLIR, data_interface="USB"),
        lens=Lens(name="Body Camera Lens", manufacturer=Organization.COMPUTAR),
        local_coordinate_system=CoordinateSystemLibrary.SIPE_CAMERA_RBF,
        transform=[Translation(translation=[0, 0, 150])],
    )
    return rig(
        "VID-7",
        [Modality.BEHAVIOR_VIDEOS],
        [camera, Computer(name="VID-7 PC")],
        [(CLOCK, "Body Camera"), ("Body Camera", "VID-7 PC")],
    )


def acquisition(instrument_id: str, end: float, stream: DataStream, **extra: Any) -> Acquisition:
    """One acquisition part; the job merges the parts with aind-data-schema's `+`."""
    return Acquisition(
        subject_id=SUBJECT_ID,
        acquisition_start_time=stream.stream_start_time,
        acquisition_end_time=at(end),
        acquisition_type="Free reward",
        instrument_id=instrument_id,
        experimenters=["Ada Example"],
        global_coordinate_system=AXES,
        data_streams=[stream],
        **extra,
    )


def behavior_acquisition() -> Acquisition:
    stream = DataStream(
        stream_start_time=START,
        stream_end_time=at(45),
        modalities=[Modality.BEHAVIOR],
        active_devices=[CLOCK, "Harp Behavior", "Water Valve"],
        configurations=[],
        code=[Code(url="https://github.com/AllenNeuralDynamics/free-reward-task", version="1.0.3")],
    )
    rewards = StimulusEpoch(
        stimulus_name="Free water",
        stimulus_start_time=at(1),
        stimulus_end_time=at(44),
        stimulus_modalities=[StimulusModality.NO_STIMULUS],
        active_devices=["Water Valve"],
    )
    # Only one part may carry subject_details: Acquisition + refuses two.
    details = AcquisitionSubjectDetails(mouse_platform_name="Mouse Tube", animal_weight_prior=Decimal("24.5"))
    return acquisition("BEH-7", 45, stream, stimulus_epochs=[rewards], subject_details=details)


def video_acquisition() -> Acquisition:
    # Streams whose start and end are each within 120 s of another part's are fused into one stream.
    stream = DataStream(
        stream_start_time=at(0.5),
        stream_end_time=at(45.5),
        modalities=[Modality.BEHAVIOR_VIDEOS],
        active_devices=["Body Camera"],
        configurations=[DetectorConfig(device_name="Body Camera", trigger_type=TriggerType.EXTERNAL)],
        code=[Code(url="https://github.com/AllenNeuralDynamics/video-capture", version="2.1.0")],
    )
    return acquisition("VID-7", 46, stream)


def subject() -> Subject:
    mouse = MouseSubject(
        sex=Sex.MALE,
        date_of_birth=date(2024, 1, 10),
        strain=Strain.C57BL_6J,
        species=Species.HOUSE_MOUSE,
        genotype="wt/wt",
        source=Organization.JAX,
    )
    return Subject(subject_id=SUBJECT_ID, subject_details=mouse)


def procedures() -> Procedures:
    headframe = Headframe(headframe_type="WHC #42")
    surgery = Surgery(start_date=date(2024, 3, 20), global_coordinate_system=AXES, procedures=[headframe])
    return Procedures(subject_id=SUBJECT_ID, subject_procedures=[surgery], global_coordinate_system=AXES)


def job_settings() -> dict[str, Any]:
    """Settings for running gather-job offline on examples/asset (funding and people given inline)."""
    return {
        "metadata_dir": "examples/asset",
        "output_dir": "output",
        "subject_id": SUBJECT_ID,
        "acquisition_start_time": START.isoformat(),  # the merged acquisition's start
        "raise_if_invalid": True,
        "offline": True,
        "data_description_settings": {
            "project_name": "Example project",
            "modalities": [Modality.BEHAVIOR.abbreviation, Modality.BEHAVIOR_VIDEOS.abbreviation],
            "tags": ["example"],
            "data_summary": "Free water rewards with body video, for trying gather-job offline",
            "funding_source": [Funding(funder=Organization.AI).model_dump(mode="json")],
            "investigators": [Person(name="Ada Example").model_dump(mode="json")],
        },
    }


def validate(parts: dict[str, Any], settings: dict[str, Any]) -> None:
    """Merge the parts as the job does and validate the whole asset (raises if anything is off)."""
    instrument = parts["instrument_behavior.json"] + parts["instrument_video.json"]
    acq = parts["acquisition_behavior.json"] + parts["acquisition_video.json"]
    dd = settings["data_description_settings"]
    description = DataDescription(
        subject_id=SUBJECT_ID,
        creation_time=acq.acquisition_start_time,
        institution=Organization.AIND,
        data_level=DataLevel.RAW,
        project_name=dd["project_name"],
        tags=dd["tags"],
        data_summary=dd["data_summary"],
        funding_source=dd["funding_source"],
        investigators=dd["investigators"],
        modalities=[Modality.from_abbreviation(m) for m in dd["modalities"]],
    )
    assert acq.acquisition_start_time == datetime.fromisoformat(settings["acquisition_start_time"])
    Metadata(
        name=description.name,
        location="examples/asset",
        subject=parts["subject.json"],
        procedures=parts["procedures.json"],
        instrument=instrument,
        acquisition=acq,
        data_description=description,
    )


def expected_files() -> dict[Path, str]:
    """Every file this script owns, with its exact text."""
    parts: dict[str, Any] = {
        "instrument_behavior.json": behavior_instrument(),
        "instrument_video.json": video_instrument(),
        "acquisition_behavior.json": behavior_acquisition(),
        "acquisition_video.json": video_acquisition(),
        "subject.json": subject(),
        "procedures.json": procedures(),
    }
    settings = job_settings()
    validate(parts, settings)
    files = {ASSET_DIR / name: model.model_dump_json(indent=3) + "\n" for name, model in parts.items()}
    files[SETTINGS_FILE] = json.dumps(settings, indent=3) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on any difference")
    args = parser.parse_args(argv)
    files = expected_files()
    if args.check:
        stale = [p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
        stale += [p for p in ASSET_DIR.glob("*") if p not in files]
        for path in stale:
            print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
        if stale:
            print("run: python examples/build_example.py", file=sys.stderr)
        else:
            print(f"{ASSET_DIR.relative_to(ROOT)} and {SETTINGS_FILE.relative_to(ROOT)} are current")
        return 1 if stale else 0
    ASSET_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
