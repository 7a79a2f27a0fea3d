"""The benchmark's scenario builder makes valid, merge-able assets (fast; the benchmark itself is not a test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aind_data_schema.core.acquisition import Acquisition
from aind_data_schema.core.instrument import Instrument
from bench import scenarios

from gather_job.cli import main


@pytest.mark.parametrize("scale", [1, 2])
def test_asset_is_valid_and_merges(scale: int) -> None:
    asset = scenarios.build(scale)
    ephys, slap2 = (Instrument.model_validate_json(asset.files[f"instrument_{n}.json"]) for n in ("ecephys", "slap2"))
    acq_e, acq_s = (Acquisition.model_validate_json(asset.files[f"acquisition_{n}.json"]) for n in ("ecephys", "slap2"))

    instrument = ephys + slap2
    top = [device.name for device in instrument.components]
    assert len(top) == len(set(top)) == 38 * scale + 1  # one shared clock, every other name unique
    names = instrument.get_component_names()  # with the nested devices
    assert len(names) == len(set(names))
    assert len(instrument.connections) == 31 * scale
    acquisition = acq_e + acq_s
    assert len(acquisition.data_streams) == 2  # the SLAP2 stream fuses into an ephys stream
    assert len(acquisition.stimulus_epochs) == 3 * scale
    start, end = acquisition.acquisition_start_time, acquisition.acquisition_end_time
    for epoch in acquisition.stimulus_epochs:
        assert start <= epoch.stimulus_start_time < epoch.stimulus_end_time <= end
    for stream in acquisition.data_streams:
        assert start <= stream.stream_start_time < stream.stream_end_time <= end
        assert set(stream.active_devices) <= set(names)


def test_sizes_scale_about_linearly() -> None:
    one, two = scenarios.build(1).sizes(), scenarios.build(2).sizes()
    assert 28_000 < one["instrument_ecephys.json"] < 36_000
    assert 45_000 < one["acquisition_slap2.json"] < 60_000
    for name, size in one.items():
        assert 1.8 < two[name] / size < 2.1, name


def test_gather_job_finds_nothing_wrong(tmp_path: Path) -> None:
    asset = scenarios.build(1)
    folder = scenarios.write(asset, tmp_path / "metadata")
    for kind in ("subject", "procedures"):
        (folder / f"{kind}.json").write_text(json.dumps(asset.service[scenarios.SERVICE_PATHS[kind]]))
    settings = scenarios.settings(folder, tmp_path / "out", "http://127.0.0.1:9")
    settings["data_description_settings"]["funding_source"] = asset.service[scenarios.SERVICE_PATHS["funding"]]
    settings["data_description_settings"]["investigators"] = asset.service[scenarios.SERVICE_PATHS["investigators"]]
    settings_file = tmp_path / "settings.json"
    settings_file.write_text(json.dumps(settings))
    assert main(["check", str(folder), "--settings-file", str(settings_file), "--offline"]) == 0
