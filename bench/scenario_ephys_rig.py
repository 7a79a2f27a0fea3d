"""The ecephys rig EPHYS1 of the benchmark scenario: its components, connections and laser calibrations, per copy.

`ephys_instrument(N)` holds N copies of the rig (unique names, see `tag`) and the one shared clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from bench.scenario_common import EPHYS_ID, _instrument, tag

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


def ephys_instrument(scale: int = 1) -> Any:
    from aind_data_schema_models.modalities import Modality

    copies = [(_ephys_components(c), _ephys_links(c), _calibrations(c)) for c in range(scale)]
    return _instrument(EPHYS_ID, date(2023, 4, 24), [Modality.ECEPHYS], copies)
