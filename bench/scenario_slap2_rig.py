"""The SLAP2 imaging rig SLAP2_1_VCO_1 of the benchmark scenario: its components and connections, per copy.

`slap2_instrument(N)` holds N copies of the rig (unique names, see `tag`) and the one shared clock;
`SLAP2_DEVICES` names one copy's devices (the SLAP2 data stream's active devices).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from bench.scenario_common import SLAP2_ID, _instrument, tag

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
