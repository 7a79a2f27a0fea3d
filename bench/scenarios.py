"""Benchmark assets, built in code with aind-data-schema's models and scaled by a factor N.

The 1x asset is a two-instrument recording like the ones rigs leave: an ecephys rig ``EPHYS1`` and a
SLAP2 imaging rig ``SLAP2_1_VCO_1`` on subject 664484 at the same time, sharing one Harp clock
generator. Each rig writes its own ``instrument_*.json`` and ``acquisition_*.json``; the SLAP2 data
stream starts within 120 s of an ephys stream, so the library fuses them when the acquisitions merge.
The service answers (subject, procedures with an implanted probe, funding, investigators) are built
here too.

Scaling by N replicates what grows on a bigger rig: every component (with a unique name), every
connection and calibration, each data stream's active devices and configurations, and the stimulus
epochs (each copy gets its own slice of the original epoch, so every time stays inside the
acquisition's bounds). The shared clock stays one device. File sizes grow about N-fold (100x: about
3 MB per instrument file, 4 and 5 MB acquisitions), and the asset stays valid and merge-able.

    python bench/scenarios.py OUTDIR [--scale N]    # writes OUTDIR/metadata and OUTDIR/service
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
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


# -- the ecephys rig -------------------------------------------------------------------------------


def _camera(name: str, chroma: str = "Monochrome") -> Any:
    from aind_data_schema.components.devices import Camera
    from aind_data_schema_models.organizations import Organization
    from aind_data_schema_models.units import FrequencyUnit

    return Camera(
        name=name,
        detector_type="Camera",
        data_interface="USB",
        manufacturer=Organization.FLIR,
        frame_rate=50,
        frame_rate_unit=FrequencyUnit.HZ,
        sensor_width=1080,
        sensor_height=570,
        sensor_format="1/2.9",
        sensor_format_unit="inches",
        chroma=chroma,
    )


def _ephys_components(c: int) -> list[Any]:
    from aind_data_schema.components import devices as dev
    from aind_data_schema.components.coordinates import Affine, CoordinateSystemLibrary, Translation
    from aind_data_schema_models.coordinates import AnatomicalRelative
    from aind_data_schema_models.devices import CameraTarget
    from aind_data_schema_models.harp_types import HarpDeviceType
    from aind_data_schema_models.organizations import Organization
    from aind_data_schema_models.units import SizeUnit

    def assembly(letter: str, serial: str) -> Any:
        return dev.EphysAssembly(
            name=tag(f"Ephys_assembly{letter}", c),
            manipulator=dev.Manipulator(
                name=tag(f"Manipulator {letter}", c),
                serial_number=serial,
                manufacturer=Organization.NEW_SCALE_TECHNOLOGIES,
            ),
            probes=[
                dev.EphysProbe(
                    name=tag(f"Probe {letter}", c), serial_number=f"92910{c:04d}{letter}", probe_model="Neuropixels 1.0"
                )
            ],
        )

    def stick(i: int) -> Any:
        return dev.CameraAssembly(
            name=tag(f"Stick_assembly_{i}", c),
            target=CameraTarget.BRAIN,
            relative_position=[AnatomicalRelative.SUPERIOR],
            camera=_camera(tag(f"stick microscope {i}", c), "Color"),
            lens=dev.Lens(name=tag(f"Probe lens {i}", c), manufacturer=Organization.EDMUND_OPTICS),
        )

    def behavior_camera(part: str, target: Any, where: Any) -> Any:
        return dev.CameraAssembly(
            name=tag(f"{part} Camera Assembly", c),
            target=target,
            relative_position=[where],
            camera=_camera(tag(f"{part} Camera", c)),
            filter=dev.Filter(
                name=tag(f"LP filter {part.lower()}", c),
                filter_type="Long pass",
                manufacturer=Organization.THORLABS,
                cut_on_wavelength=850,
                wavelength_unit=SizeUnit.NM,
            ),
            lens=dev.Lens(name=tag(f"Camera lens {part.lower()}", c), manufacturer=Organization.EDMUND_OPTICS),
        )

    # Only the first screen is placed in the rig's coordinate system: the library counts a coordinate
    # system's name and axis names as component names, so copies of it would be "duplicate components".
    placed: dict[str, Any] = {}
    if c == 0:
        placed["coordinate_system"] = CoordinateSystemLibrary.BREGMA_ARI
        placed["transform"] = [
            Affine(
                affine_transform=[[-0.80914, -0.58761, 0], [-0.12391, 0.17063, 0.97751], [-0.5744, 0.79095, -0.21087]]
            ),
            Translation(translation=[0.08751, -0.12079, 0.02298]),
        ]
    daq = [
        dev.DAQChannel(channel_name="DO0", channel_type="Digital Output"),
        dev.DAQChannel(channel_name="DO1", channel_type="Digital Output"),
        dev.DAQChannel(channel_name="AI0", channel_type="Analog Input"),
    ]
    return [
        assembly("A", "SN2938"),
        assembly("B", "SN2939"),
        behavior_camera("Face", CameraTarget.FACE, AnatomicalRelative.LEFT),
        behavior_camera("Body", CameraTarget.BODY, AnatomicalRelative.SUPERIOR),
        dev.LaserAssembly(
            name=tag("Laser_assemblyA", c),
            manipulator=dev.Manipulator(
                name=tag("Manipulator L", c), serial_number="SN2937", manufacturer=Organization.NEW_SCALE_TECHNOLOGIES
            ),
            lasers=[
                dev.Laser(name=tag("Red Laser", c), wavelength=638, manufacturer=Organization.OXXIUS),
                dev.Laser(name=tag("Blue Laser", c), wavelength=473, manufacturer=Organization.OXXIUS),
            ],
            collimator=dev.Device(name=tag("Collimator A", c)),
            fiber=dev.FiberPatchCord(
                name=tag("Bundle Branching Fiber-optic Patch Cord", c),
                manufacturer=Organization.DORIC,
                model="BBP(4)_200/220/900-0.37_Custom_FCM-4xMF1.25",
                core_diameter=200,
                numerical_aperture=0.37,
            ),
        ),
        dev.NeuropixelsBasestation(
            name=tag("Basestation Slot 3", c),
            basestation_firmware_version="2.019",
            bsc_firmware_version="2.199",
            slot=3,
            ports=[
                dev.ProbePort(index=1, probes=[tag("Probe A", c)]),
                dev.ProbePort(index=2, probes=[tag("Probe B", c)]),
            ],
        ),
        dev.HarpDevice(
            name=tag("Harp Behavior", c),
            harp_device_type=HarpDeviceType.BEHAVIOR,
            core_version="2.1",
            channels=daq,
            is_clock_generator=False,
        ),
        *(stick(i) for i in range(1, 5)),
        dev.Disc(name=tag("Running Wheel", c), radius=15),
        dev.Computer(name=tag("W10DT72941", c)),
        dev.Computer(name=tag("W10DT72942", c)),
        dev.Monitor(
            name=tag("Stimulus Screen", c),
            manufacturer=Organization.ASUS,
            model="PA248Q",
            notes="viewing distance is from screen normal to bregma",
            refresh_rate=60,
            width=1920,
            height=1200,
            size_unit="pixel",
            viewing_distance=15.5,
            viewing_distance_unit="centimeter",
            relative_position=[AnatomicalRelative.ANTERIOR, AnatomicalRelative.RIGHT],
            **placed,
        ),
    ]


def _ephys_links(c: int) -> list[tuple[str, str | None, str, str | None]]:
    behavior, ephys = tag("W10DT72941", c), tag("W10DT72942", c)
    harp = tag("Harp Behavior", c)
    return [
        (harp, "DO0", tag("Face Camera", c), None),
        (harp, "DO1", tag("Body Camera", c), None),
        (tag("Running Wheel", c), None, harp, "AI0"),
        (harp, None, behavior, None),
        (tag("Face Camera", c), None, behavior, None),
        (tag("Body Camera", c), None, behavior, None),
        (tag("Basestation Slot 3", c), None, ephys, None),
        *((tag(f"stick microscope {i}", c), None, ephys, None) for i in range(1, 5)),
    ]


def _calibrations(c: int) -> list[Any]:
    from aind_data_schema.components.measurements import Calibration
    from aind_data_schema_models.units import PowerUnit

    when = datetime(2023, 4, 2, 10, 22, 13, tzinfo=UTC)
    return [
        Calibration(
            calibration_date=when,
            device_name=tag(f"{color} Laser", c),
            description="Laser power calibration",
            input=[10, 20, 40],
            input_unit=PowerUnit.PERCENT,
            output=output,
            output_unit=PowerUnit.MW,
        )
        for color, output in (("Red", [1, 3, 6]), ("Blue", [1, 2, 7]))
    ]


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


def ephys_instrument(scale: int = 1) -> Any:
    from aind_data_schema_models.modalities import Modality

    copies = [(_ephys_components(c), _ephys_links(c), _calibrations(c)) for c in range(scale)]
    return _instrument(EPHYS_ID, date(2023, 4, 24), [Modality.ECEPHYS], copies)


# -- the SLAP2 rig ---------------------------------------------------------------------------------

SLAP2_DEVICES = (
    "SLAP2-1-PC",
    "SLAP2_1",
    "SiPM Red",
    "SiPM Green",
    "Half-Wave Plate",
    "Leica Objective",
    "Monaco 150",
    "vDAQ",
    "Green Emission Filters",
    "Red Emission Filters",
    "DMD1",
    "DMD2",
    "Polygonal Scanner",
    "Pockels Cell",
    "w10dt714710",
    "VCO1_Behavior",
    "VCO1_CuttlefishCamTrigger",
    "MindScope Running Disc",
    "FaceCamera Assembly",
    "BodyCamera Assembly",
    "EyeCamera Assembly",
    "SLAP2 Stimulus Screen",
    "Photodiode",
)


def _slap2_components(c: int) -> list[Any]:
    from aind_data_schema.components import devices as dev
    from aind_data_schema_models.coordinates import AnatomicalRelative
    from aind_data_schema_models.devices import CameraTarget, DetectorType, FilterType
    from aind_data_schema_models.harp_types import HarpDeviceType
    from aind_data_schema_models.organizations import Organization
    from aind_data_schema_models.units import SizeUnit, SpeedUnit

    ch = dev.DaqChannelType

    def camera(part: str, target: Any, where: Any, serial: str, lens: tuple[Any, str], cut: int | None) -> Any:
        optics: dict[str, Any] = {}
        if cut is not None:
            optics["filter"] = dev.Filter(
                name=tag(f"{part} Filter", c),
                filter_type=FilterType.LONGPASS,
                manufacturer=Organization.SEMROCK,
                cut_off_wavelength=cut,
                wavelength_unit=SizeUnit.NM,
                model=f"FF01-{cut}/LP-25",
            )
        return dev.CameraAssembly(
            name=tag(f"{part} Assembly", c),
            target=target,
            relative_position=[where],
            camera=dev.Camera(
                name=tag(part, c),
                manufacturer=Organization.FLIR,
                model="BFS-U3-04S2M-CS",
                data_interface=dev.DataInterface.USB,
                serial_number=serial,
            ),
            lens=dev.Lens(name=tag(f"{part} Lens", c), manufacturer=lens[0], model=lens[1]),
            **optics,
        )

    def sipm(color: str, model: str, serial: str) -> Any:
        return dev.Detector(
            name=tag(f"SiPM {color}", c),
            detector_type=DetectorType.SiPM,
            manufacturer=Organization.HAMAMATSU,
            model=model,
            serial_number=serial,
            data_interface=dev.DataInterface.PCIE,
            cooling=dev.Cooling.AIR,
            notes="SiPM detector",
        )

    def emission(color: str, off: int, on: int, center: int, notes: str) -> Any:
        return dev.Filter(
            name=tag(f"{color} Emission Filters", c),
            serial_number="None",
            manufacturer=Organization.SEMROCK,
            filter_type=FilterType.BANDPASS,
            cut_off_wavelength=off,
            cut_on_wavelength=on,
            center_wavelength=center,
            wavelength_unit=SizeUnit.NM,
            notes=notes,
        )

    def dmd(i: int, serial: str, phase: float, curtain: list[float], shear: list[float]) -> Any:
        return dev.DigitalMicromirrorDevice(
            name=tag(f"DMD{i}", c),
            max_dmd_patterns=800,
            invert_pixel_values=False,
            motion_padding_x=0,
            motion_padding_y=50,
            pixel_size=0.00048173171943165054,
            start_phase=phase,
            dmd_curtain=curtain,
            line_shear_anchors=shear,
            manufacturer=Organization.OTHER,
            serial_number=serial,
            notes="ViALUX DMD",
        )

    def channels(*pairs: tuple[str, Any]) -> list[Any]:
        return [dev.DAQChannel(channel_name=name, channel_type=kind) for name, kind in pairs]

    return [
        dev.Computer(name=tag("SLAP2-1-PC", c)),
        dev.Microscope(name=tag("SLAP2_1", c), manufacturer=Organization.MBF),
        sipm("Red", "C13366-1960", "22C-002"),
        sipm("Green", "C13366-5286", "16D-001"),
        dev.Device(name=tag("Half-Wave Plate", c), manufacturer=Organization.THORLABS),
        dev.Objective(
            name=tag("Leica Objective", c),
            numerical_aperture=1,
            magnification=20,
            manufacturer=Organization.LEICA,
            immersion="water",
            serial_number="0119",
            model="507704",
        ),
        dev.Laser(
            name=tag("Monaco 150", c),
            manufacturer=Organization.COHERENT_SCIENTIFIC,
            serial_number="S0124263226",
            model="Monaco 150",
            wavelength=1035,
            notes="maximum power of 150W",
        ),
        dev.DAQDevice(
            name=tag("vDAQ", c),
            manufacturer=Organization.OTHER,
            notes="Manufactured by MBF Bioscience",
            data_interface=dev.DataInterface.PCIE,
            channels=channels(("AO5", ch.AO), ("D0.0", ch.DI), ("D0.1", ch.DI), ("D0.4", ch.DO)),
        ),
        emission("Green", 580, 500, 540, "Includes 585 dichroic mirror and 540/80 filter"),
        emission("Red", 725, 585, 655, "Includes 585 dichroic mirror and 650/150 filter"),
        dmd(1, "14117", -0.041281897483520513, [0.0648901872220434, 0.8750769514252376], [3.88924813, -3.36656499]),
        dmd(2, "14116", 0.44534434150971336, [0.0861875928478822, 0.9071406745574381], [2.79574895, -3.24933243]),
        dev.PolygonalScanner(
            name=tag("Polygonal Scanner", c),
            manufacturer=Organization.CAMBRIDGE_TECHNOLOGY,
            speed=21500,
            speed_unit=SpeedUnit.RPM,
            number_faces=28,
        ),
        dev.PockelsCell(name=tag("Pockels Cell", c), polygonal_scanner=tag("Polygonal Scanner", c)),
        dev.Computer(name=tag("w10dt714710", c)),
        dev.HarpDevice(
            name=tag("VCO1_Behavior", c),
            harp_device_type=HarpDeviceType.BEHAVIOR,
            core_version="2.1",
            channels=channels(("AI0", ch.AI), ("AI1", ch.AI), ("DO0", ch.DO), ("DO1", ch.DO), ("DI3", ch.DI)),
            is_clock_generator=False,
        ),
        dev.DAQDevice(
            name=tag("VCO1_CuttlefishCamTrigger", c),
            data_interface=dev.DataInterface.USB,
            manufacturer=Organization.AIND,
            channels=channels(("PWM0", ch.DO), ("PWM2", ch.DO), ("PWM4", ch.DO)),
            notes="Cuttlefish Cam Trigger",
        ),
        dev.Disc(
            name=tag("MindScope Running Disc", c),
            manufacturer=Organization.AIND,
            surface_material="Kittrich Magic Cover Solid Grip Liner",
            radius=8.255,
            radius_unit="centimeter",
            encoder="CUI Devices AMT102-V",
            decoder="LS7366R",
        ),
        camera(
            "FaceCamera",
            CameraTarget.FACE,
            AnatomicalRelative.ANTERIOR,
            "25092525",
            (Organization.EDMUND_OPTICS, "86-604"),
            715,
        ),
        camera(
            "BodyCamera", CameraTarget.BODY, AnatomicalRelative.LEFT, "25092522", (Organization.THORLABS, "MVL6WA"), 747
        ),
        camera(
            "EyeCamera",
            CameraTarget.EYE,
            AnatomicalRelative.RIGHT,
            "25092545",
            (Organization.INFINITY_PHOTO_OPTICAL, "213073"),
            None,
        ),
        dev.Monitor(
            name=tag("SLAP2 Stimulus Screen", c),
            manufacturer=Organization.LG,
            model="LP097QX1",
            width=2048,
            height=1536,
            size_unit=SizeUnit.PX,
            viewing_distance=15.1,
            viewing_distance_unit=SizeUnit.CM,
            refresh_rate=60,
            relative_position=[AnatomicalRelative.ANTERIOR, AnatomicalRelative.RIGHT],
        ),
        dev.Device(name=tag("Photodiode", c), manufacturer=Organization.AIND),
    ]


def _slap2_links(c: int) -> list[tuple[str, str | None, str, str | None]]:
    t = lambda name: tag(name, c)  # noqa: E731
    vco, daq, harp, trigger = t("w10dt714710"), t("vDAQ"), t("VCO1_Behavior"), t("VCO1_CuttlefishCamTrigger")
    return [
        *((t(name), None, vco, None) for name in ("FaceCamera", "BodyCamera", "EyeCamera", "SLAP2 Stimulus Screen")),
        (harp, None, vco, None),
        (t("Photodiode"), None, harp, "AI0"),
        (daq, "AO5", harp, "AI1"),
        (harp, "DO0", daq, "D0.0"),
        (harp, "DO1", daq, "D0.1"),
        (daq, "D0.4", harp, "DI3"),
        (trigger, "PWM0", t("BodyCamera"), None),
        (trigger, "PWM2", t("EyeCamera"), None),
        (trigger, "PWM4", t("FaceCamera"), None),
        (t("SLAP2-1-PC"), None, daq, None),
        (t("SiPM Red"), None, daq, None),
        (t("SiPM Green"), None, daq, None),
        (t("SLAP2-1-PC"), None, t("Half-Wave Plate"), None),
        (daq, None, t("DMD1"), None),
        (daq, None, t("DMD2"), None),
        (daq, None, t("Polygonal Scanner"), None),
    ]


def slap2_instrument(scale: int = 1) -> Any:
    from aind_data_schema_models.modalities import Modality

    copies = [(_slap2_components(c), _slap2_links(c), []) for c in range(scale)]
    modalities = [Modality.BEHAVIOR, Modality.BEHAVIOR_VIDEOS, Modality.SLAP2]
    return _instrument(SLAP2_ID, date(2023, 4, 20), modalities, copies)


# -- acquisitions ----------------------------------------------------------------------------------


def _assembly_config(letter: str, c: int, target: Any, notes: str, rotate: bool) -> Any:
    from aind_data_schema.components.configs import EphysAssemblyConfig, ManipulatorConfig, ProbeConfig
    from aind_data_schema.components.coordinates import (
        AtlasCoordinate,
        AtlasLibrary,
        CoordinateSystemLibrary,
        Rotation,
        Translation,
    )

    transform: list[Any] = [Translation(translation=[5000, 5000, 0, 1])]
    if rotate:
        transform.append(Rotation(angles=[8, 5.2, 0, 0]))
    return EphysAssemblyConfig(
        device_name=tag(f"Ephys_assembly{letter}", c),
        manipulator=ManipulatorConfig(
            device_name=tag(f"Manipulator {letter}", c),
            coordinate_system=CoordinateSystemLibrary.MPM_MANIP_RFB,
            local_axis_positions=Translation(translation=[8422, 4205, 11087.5]),
        ),
        probes=[
            ProbeConfig(
                device_name=tag(f"Probe {letter}", c),
                primary_targeted_structure=target,
                atlas_coordinate=AtlasCoordinate(
                    coordinate_system=AtlasLibrary.CCFv3_10um, translation=[8150, 3250, 7800]
                ),
                coordinate_system=CoordinateSystemLibrary.MPM_MANIP_RFB,
                transform=transform,
                notes=notes,
            )
        ],
    )


def _code(url: str, parameters: Any, **extra: Any) -> Any:
    from aind_data_schema.components.identifiers import Code, Software

    if not extra:
        extra = {"core_dependency": Software(name="Bonsai", version="2.7")}
    return Code(url=url, parameters=parameters, **extra)


def ephys_acquisition(scale: int = 1) -> Any:
    from aind_data_schema.components.coordinates import CoordinateSystemLibrary
    from aind_data_schema.components.stimulus import VisualStimulation
    from aind_data_schema.core.acquisition import Acquisition, AcquisitionSubjectDetails, DataStream, StimulusEpoch
    from aind_data_schema_models.brain_atlas import CCFv3
    from aind_data_schema_models.modalities import Modality
    from aind_data_schema_models.stimulus_modality import StimulusModality

    configs = [
        config
        for c in range(scale)
        for config in (
            _assembly_config(
                "A", c, CCFv3.LGD, "Moved Y to avoid blood vessel, X to avoid edge. Lots of motion.", True
            ),
            _assembly_config(
                "B", c, CCFv3.LC, "Trouble penetrating. Lots of compression, needed to move probe.", False
            ),
        )
    ]
    active = [tag(n, c) for c in range(scale) for n in ("Basestation Slot 3", "Ephys_assemblyA", "Ephys_assemblyB")]
    mid = datetime(2023, 4, 25, 2, 45, tzinfo=PACIFIC)
    flashes = datetime(2023, 4, 25, 3, 10, tzinfo=PACIFIC)
    url = "https://github.com/fakeorg/GratingAndFlashes/gratings_and_flashes.bonsai"
    gratings = VisualStimulation(
        stimulus_name="Static Gratings",
        stimulus_parameters={
            "grating_orientations": [0, 45, 90, 135],
            "grating_orientation_unit": "degrees",
            "grating_spatial_frequencies": [0.02, 0.04, 0.08, 0.16, 0.32],
            "grating_spatial_frequency_unit": "cycles/degree",
        },
    )
    flash = VisualStimulation(
        stimulus_name="Flashes",
        stimulus_parameters={
            "flash_interval": 5.0,
            "flash_interval_unit": "seconds",
            "flash_duration": 0.5,
            "flash_duration_unit": "seconds",
        },
    )
    epochs = []
    for (g0, g1), (f0, f1), c in zip(
        slices(mid, flashes, scale), slices(flashes, END, scale), range(scale), strict=True
    ):
        for begin, end, devices, parameters in ((g0, g1, [], gratings), (f0, f1, [tag("Stimulus Screen", c)], flash)):
            epochs.append(
                StimulusEpoch(
                    stimulus_name="Visual Stimulation",
                    stimulus_modalities=[StimulusModality.VISUAL],
                    stimulus_start_time=begin,
                    stimulus_end_time=end,
                    active_devices=devices,
                    code=_code(url, parameters),
                )
            )

    def stream(begin: datetime, end: datetime, notes: str | None) -> Any:
        return DataStream(
            stream_start_time=begin,
            stream_end_time=end,
            modalities=[Modality.ECEPHYS],
            notes=notes,
            active_devices=active,
            configurations=configs,
        )

    return Acquisition(
        experimenters=["John Smith"],
        subject_id=SUBJECT_ID,
        acquisition_start_time=START,
        acquisition_end_time=END,
        acquisition_type="Receptive field mapping",
        instrument_id=EPHYS_ID,
        ethics_review_id=["2109"],
        subject_details=AcquisitionSubjectDetails(mouse_platform_name="Running Wheel"),
        global_coordinate_system=CoordinateSystemLibrary.BREGMA_ARID,
        stimulus_epochs=epochs,
        data_streams=[stream(mid, END, None), stream(START, mid, "664484_2023-04-24_20-06-37; Surface Finding")],
    )


def _imaging_config(c: int) -> Any:
    from aind_data_schema.components.configs import (
        Channel,
        DetectorConfig,
        DeviceConfig,
        ImagingConfig,
        LaserConfig,
        NeuronStructure,
        PlanarImage,
        Slap2Plane,
        TriggerType,
    )
    from aind_data_schema.components.coordinates import Scale
    from aind_data_schema_models.brain_atlas import CCFv3
    from aind_data_schema_models.slap2_acquisition_type import Slap2AcquisitionType
    from aind_data_schema_models.units import FrequencyUnit, PowerUnit, SizeUnit

    colors = {"Red": ("RCaMP3", 655), "Green": ("iGluSnFR4s", 540)}
    laser = LaserConfig(
        device_name=tag("Monaco 150", c),
        wavelength=1030,
        wavelength_unit=SizeUnit.NM,
        power=150,
        power_unit=PowerUnit.MW,
    )
    channels = [
        Channel(
            channel_name=f"Path {path} {color} channel",
            intended_measurement=measured,
            detector=DetectorConfig(device_name=tag(f"SiPM {color}", c), trigger_type=TriggerType.ANALOG),
            light_sources=[laser],
            additional_device_names=[
                DeviceConfig(device_name=tag(name, c))
                for name in (f"DMD{path}", "Leica Objective", "Half-Wave Plate", "Polygonal Scanner")
            ],
            emission_filters=[DeviceConfig(device_name=tag(f"{color} Emission Filters", c))],
            emission_wavelength=wavelength,
            emission_wavelength_unit=SizeUnit.NM,
        )
        for path in (1, 2)
        for color, (measured, wavelength) in colors.items()
    ]
    depths = {1: (184, 160), 2: (100, 105)}
    rates = {(1, "raster"): 100, (2, "raster"): 120, (1, "integration"): 200, (2, "integration"): 240}

    def plane(path: int, depth: int, kind: str) -> Any:
        structures = [NeuronStructure.DENDRITE]
        if kind == "integration" and path == 1 and depth == depths[1][0]:
            structures = [NeuronStructure.SOMA, NeuronStructure.DENDRITE]
        return Slap2Plane(
            depth=depth,
            depth_unit=SizeUnit.UM,
            power=75,
            power_unit=PowerUnit.PERCENT,
            targeted_structure=CCFv3.VISPL2_3,
            specimen_id=f"{SUBJECT_ID}_Neuron{c + 1}",
            fov_index=path,
            structure_types=structures,
            slap2_acquisition_type=getattr(Slap2AcquisitionType, kind.upper()),
            frame_rates=[rates[(path, kind)]],
            frame_rates_unit=FrequencyUnit.HZ,
            y_dilations=[5 if kind == "raster" and path == 1 else 7 if kind == "raster" else 9],
            y_dilations_unit=SizeUnit.PX,
        )

    images = [
        PlanarImage(
            channel_name=f"Path {path} {color} channel",
            image_to_acquisition_transform=[Scale(scale=[0.25, 0.25])],
            dimensions=Scale(scale=[800, 1280]),
            dimensions_unit=SizeUnit.PX,
            planes=[plane(path, depth, kind)],
        )
        for path in (1, 2)
        for kind in ("raster", "integration")
        for depth in depths[path]
        for color in colors
    ]
    return ImagingConfig(device_name=tag("SLAP2_1", c), channels=channels, images=images)


def slap2_acquisition(scale: int = 1) -> Any:
    from aind_data_schema.components.configs import DetectorConfig, TriggerType
    from aind_data_schema.core.acquisition import Acquisition, DataStream, StimulusEpoch
    from aind_data_schema_models.modalities import Modality
    from aind_data_schema_models.stimulus_modality import StimulusModality
    from aind_data_schema_models.units import TimeUnit

    configs: list[Any] = []
    for c in range(scale):
        configs.append(_imaging_config(c))
        configs.extend(
            DetectorConfig(
                device_name=tag(camera, c),
                exposure_time=10,
                exposure_time_unit=TimeUnit.MS,
                trigger_type=TriggerType.EXTERNAL,
            )
            for camera in ("FaceCamera", "BodyCamera", "EyeCamera")
        )
    active = [CLOCK, *(tag(n, c) for c in range(scale) for n in SLAP2_DEVICES)]
    repeated = [1.0] * 8
    parameters = {
        "CodeParameters": {
            "Initial Spont Int": 28,
            "Num Trials": 40,
            "PortName": "COM7",
            "Screen_BlueColor (0-1)": 1,
            "Screen_GreenColor (0-1)": 0,
            "Screen_RedColor (0-1)": 0,
            "Subject": SUBJECT_ID,
            "GratingTrialParametersFile": "ParameterFiles/8_direction_drifting_grating_params.csv",
        },
        "GratingTrialParameters": {
            "Contrast": [*repeated, 0.0],
            "Delay": [*repeated, 1.0],
            "DelayUnit": "second",
            "Diameter": [360.0] * 9,
            "DiameterUnit": "degree",
            "Duration": [2.0] * 9,
            "DurationUnit": "second",
            "Orientation": [0.0, 45.0, 90.0, 135.0, 180.0, 225.0, 270.0, 315.0, 359.0],
            "OrientationUnit": "degree",
            "SpatialFrequency": [0.02] * 9,
            "SpatialFrequencyUnit": "cycle/degree",
            "TemporalFrequency": [2.0] * 9,
            "TemporalFrequencyUnit": "Hz",
            "X": [0.0] * 9,
            "XUnit": "degree",
            "Y": [0.0] * 9,
            "YUnit": "degree",
        },
    }
    url = "https://github.com/AllenNeuralDynamics/ophys-passive-visual-stim/blob/main/src/RandomDriftingGratings.bonsai"
    epochs = [
        StimulusEpoch(
            stimulus_start_time=begin,
            stimulus_end_time=end,
            stimulus_name="Shuffled 8-direction drifting gratings",
            code=_code(
                url,
                parameters,
                version="168e4ef1923c535f6c4d914a126526cc11168ac7",
                name="RandomDriftingGratings_ContinuousTrials.bonsai",
                language="Bonsai",
                language_version="2.9.0",
            ),
            stimulus_modalities=[StimulusModality.VISUAL],
            notes="",
            active_devices=[tag("SLAP2 Stimulus Screen", c)],
        )
        for c, (begin, end) in enumerate(slices(SLAP2_START, SLAP2_END, scale))
    ]
    return Acquisition(
        subject_id=SUBJECT_ID,
        acquisition_start_time=SLAP2_START,
        acquisition_end_time=SLAP2_END,
        experimenters=["John Smith"],
        ethics_review_id=["2415"],
        instrument_id=SLAP2_ID,
        acquisition_type="Receptive field mapping",
        notes="center back of cranial window is coordinate system origin",
        data_streams=[
            DataStream(
                stream_start_time=SLAP2_START,
                stream_end_time=SLAP2_END,
                modalities=[Modality.SLAP2, Modality.BEHAVIOR_VIDEOS, Modality.BEHAVIOR],
                active_devices=active,
                configurations=configs,
            )
        ],
        stimulus_epochs=epochs,
    )


# -- what the metadata service answers -------------------------------------------------------------


def subject() -> Any:
    from aind_data_schema.components.subjects import BreedingInfo, Housing, MouseSubject, Sex
    from aind_data_schema.core.subject import Subject
    from aind_data_schema_models.organizations import Organization
    from aind_data_schema_models.species import Species, Strain

    return Subject(
        subject_id=SUBJECT_ID,
        subject_details=MouseSubject(
            species=Species.HOUSE_MOUSE,
            strain=Strain.C57BL_6J,
            sex=Sex.MALE,
            date_of_birth=date(2022, 11, 22),
            source=Organization.AI,
            breeding_info=BreedingInfo(
                maternal_id="546543",
                maternal_genotype="Emx1-IRES-Cre/wt; Camk2a-tTa/Camk2a-tTA",
                paternal_id="232323",
                paternal_genotype="Ai93(TITL-GCaMP6f)/wt",
            ),
            genotype="Emx1-IRES-Cre/wt;Camk2a-tTA/wt;Ai93(TITL-GCaMP6f)/wt",
            housing=Housing(home_cage_enrichment=["Running wheel"], cage_id="123"),
        ),
    )


def procedures() -> Any:
    from aind_data_schema.components.configs import ProbeConfig
    from aind_data_schema.components.coordinates import CoordinateSystemLibrary, Rotation, Translation
    from aind_data_schema.components.devices import EphysProbe
    from aind_data_schema.components.injection_procedures import (
        InjectionDynamics,
        InjectionProfile,
        TarsVirusIdentifiers,
        ViralMaterial,
    )
    from aind_data_schema.components.surgery_procedures import (
        Anaesthetic,
        BrainInjection,
        Craniotomy,
        CraniotomyType,
        Perfusion,
        ProbeImplant,
    )
    from aind_data_schema.core.procedures import Procedures, Surgery
    from aind_data_schema_models.brain_atlas import CCFv3
    from aind_data_schema_models.units import SizeUnit, VolumeUnit

    system = CoordinateSystemLibrary.BREGMA_ARI.model_copy(update={"name": "LAMBDA_ARI"})
    implant = ProbeImplant(
        implanted_device=EphysProbe(name="Chronic Probe", probe_model="Neuropixels UHD (Fixed)"),
        device_config=ProbeConfig(
            primary_targeted_structure=CCFv3.VTA,
            device_name="Chronic Probe",
            coordinate_system=CoordinateSystemLibrary.MPM_MANIP_RFB,
            transform=[Translation(translation=[-600, -3050, 0, 4200])],
        ),
    )
    injection = BrainInjection(
        protocol_id="5678",
        injection_materials=[
            ViralMaterial(
                name="AAV2-Flex-ChrimsonR",
                tars_identifiers=TarsVirusIdentifiers(
                    virus_tars_id="AiV222", plasmid_tars_alias=["AiP222"], prep_lot_number="VT222"
                ),
                titer=2300000000,
            )
        ],
        coordinate_system_name=system.name,
        coordinates=[[Translation(translation=[-0.85, -3.8, 3.3]), Rotation(angles=[0, 10, 0])]],
        dynamics=[InjectionDynamics(volume=200, volume_unit=VolumeUnit.NL, profile=InjectionProfile.BOLUS)],
        targeted_structure=CCFv3.VISP,
    )
    return Procedures(
        subject_id=SUBJECT_ID,
        subject_procedures=[
            Surgery(
                start_date=date(2023, 3, 1),
                protocol_id="doi",
                experimenters=["Scientist Smith"],
                ethics_review_id="2109",
                animal_weight_prior=22.6,
                animal_weight_post=22.3,
                anaesthesia=Anaesthetic(anaesthetic_type="Isoflurane", duration=1, level=1.5),
                coordinate_system=system,
                workstation_id="SWS 3",
                procedures=[
                    implant,
                    Craniotomy(
                        craniotomy_type=CraniotomyType.CIRCLE,
                        protocol_id="1234",
                        coordinate_system_name=system.name,
                        position=Translation(translation=[-2, 2, 0]),
                        size=1,
                        size_unit=SizeUnit.MM,
                    ),
                    injection,
                ],
            ),
            Surgery(
                start_date=date(2023, 5, 2),
                experimenters=["Scientist Smith"],
                ethics_review_id="2109",
                protocol_id="doi",
                coordinate_system=CoordinateSystemLibrary.BREGMA_ARI,
                procedures=[Perfusion(protocol_id="doi_of_protocol", output_specimen_ids=["2", "1"])],
            ),
        ],
    )


def people() -> list[dict[str, Any]]:
    from aind_data_schema.components.identifiers import Person

    names = ("Marina Garrett", "Peter Groblewski", "Shawn Olsen")
    return [Person(name=name).model_dump(mode="json") for name in names]


def funding() -> list[dict[str, Any]]:
    from aind_data_schema.core.data_description import Funding
    from aind_data_schema_models.organizations import Organization

    return [Funding(funder=Organization.AI, fundee=people()).model_dump(mode="json")]


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
