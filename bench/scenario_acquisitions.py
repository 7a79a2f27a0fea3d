"""The benchmark scenario's two acquisitions, scaled by N: the ecephys recording and the SLAP2 imaging session.

`ephys_acquisition(N)`: two ecephys streams (surface finding, then the recording) with N copies of the
probe assemblies' configurations, and N slices of each stimulus epoch. `slap2_acquisition(N)`: one
SLAP2 stream (it starts within 120 s of an ephys stream, so the two fuse when the acquisitions merge)
with N copies of the imaging and camera configurations, and N slices of the grating epoch.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bench.scenario_common import (
    CLOCK,
    END,
    EPHYS_ID,
    PACIFIC,
    SLAP2_END,
    SLAP2_ID,
    SLAP2_START,
    START,
    SUBJECT_ID,
    slices,
    tag,
)
from bench.scenario_slap2_rig import SLAP2_DEVICES

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
