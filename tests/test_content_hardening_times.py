"""Naive times inside free-form fields are the user's values, not times to place in the rig's zone.

`code.parameters`, `output_parameters`, `additional_settings` (aind's GenericModel), `QCMetric.value`
(Any) and `tags` (dict) hold whatever the user wrote; aind-data-schema never reads a datetime there. The
gather attaches the rig's offset to naive times in real datetime fields only (`rig_time`), so those
values must come out exactly as written while the real fields around them are still placed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from aind_data_schema.core.acquisition import Acquisition
from aind_data_schema.core.instrument import Instrument
from aind_data_schema.core.procedures import Procedures
from aind_data_schema.core.processing import Processing
from aind_data_schema.core.quality_control import QualityControl

from gather_job.pipeline.datetime_keys import datetime_keys
from gather_job.pipeline.rig_time import attach, naive_paths
from tests.fixtures import assets
from tests.test_rig_time import LA

# what a user writes into a parameters dict: names the schema uses for datetimes elsewhere, naive values
USER = {
    "start_time": "2024-05-14",
    "end_time": "2024-05-14 10:00",
    "timestamp": "2024-05-14T10:00:00",
    "calibration_date": "2024-05-14T09:00",
    "stream_start_time": ["2024-05-14T08:00"],
    "nested": [{"acquisition_start_time": "2024-05-14T07:00:00"}],
}


def _user() -> dict[str, Any]:
    return copy.deepcopy(USER)


def _read(folder: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / name).read_text())
    return data


def _write(folder: Path, name: str, data: Any) -> None:
    (folder / name).write_text(json.dumps(data, indent=3))


# -- the schema says which keys are free-form ----------------------------------------------------------


def test_free_form_keys_come_from_the_schema_and_real_datetime_keys_never_are_opaque() -> None:
    for model, free in (
        (Acquisition, {"parameters", "output_parameters", "fit_parameters"}),
        (Processing, {"parameters", "output_parameters"}),
        (Instrument, {"additional_settings", "fit_parameters"}),
        (Procedures, {"additional_settings", "parameters"}),
        (QualityControl, {"value", "tags", "status"}),
    ):
        keys = datetime_keys(model)
        opaque = getattr(keys, "opaque", frozenset())  # rides on the keys every caller already passes
        assert free <= opaque, model
        assert not keys & opaque, model
    # a key that holds a datetime below it in some model is walked (Surgery.procedures, device configurations)
    assert "procedures" not in getattr(datetime_keys(Procedures), "opaque", frozenset())
    assert "data_streams" not in getattr(datetime_keys(Acquisition), "opaque", {"data_streams"})


# -- attach, file by file ------------------------------------------------------------------------------------


def test_acquisition_code_parameters_and_output_parameters_are_left_as_written() -> None:
    data = assets.acquisition_a().model_dump(mode="json")
    stream = data["data_streams"][0]
    stream["stream_start_time"] = "2024-03-05T14:21:00"  # a real datetime field, naive: placed
    stream["code"][0]["parameters"] = _user()
    epoch = data["stimulus_epochs"][0]
    epoch["code"]["parameters"] = _user()
    epoch["performance_metrics"] = {"output_parameters": _user()}
    out, paths = attach(data, LA, datetime_keys(Acquisition))
    assert paths == ["data_streams[0].stream_start_time"]
    assert out["data_streams"][0]["stream_start_time"] == "2024-03-05T14:21:00-08:00"
    assert out["data_streams"][0]["code"][0]["parameters"] == USER
    assert out["stimulus_epochs"][0]["code"]["parameters"] == USER
    assert out["stimulus_epochs"][0]["performance_metrics"]["output_parameters"] == USER
    assert out["data_streams"][0]["code"][0]["parameters"] is not stream["code"][0]["parameters"]  # still a copy
    assert naive_paths(data, datetime_keys(Acquisition)) == paths


def _processing() -> dict[str, Any]:
    process = {
        "process_type": "Compression",
        "stage": "Processing",
        "code": {"url": "https://example.org/compress", "parameters": _user()},
        "experimenters": ["Ada Example"],
        "start_date_time": "2024-05-15T10:00:00",
        "output_parameters": _user(),
    }
    return {"data_processes": [process], "dependency_graph": {"Compression": []}}


def test_processing_parameters_are_left_as_written_and_its_start_is_placed() -> None:
    out, paths = attach(_processing(), LA, datetime_keys(Processing))
    assert paths == ["data_processes[0].start_date_time"]
    process = out["data_processes"][0]
    assert process["start_date_time"] == "2024-05-15T10:00:00-07:00"
    assert process["code"]["parameters"] == USER and process["output_parameters"] == USER
    assert Processing.model_validate(out).data_processes[0].code.parameters.model_dump() == USER


def test_instrument_additional_settings_are_left_as_written_and_calibrations_are_placed() -> None:
    data = assets.instrument_a().model_dump(mode="json")
    for component in data["components"]:
        component["additional_settings"] = _user()
    data["calibrations"] = [{"calibration_date": "2024-03-01T09:00:00", "additional_settings": _user()}]
    out, paths = attach(data, LA, datetime_keys(Instrument))
    assert paths == ["calibrations[0].calibration_date"]
    assert out["calibrations"][0]["calibration_date"] == "2024-03-01T09:00:00-08:00"
    assert all(component["additional_settings"] == USER for component in out["components"])


def test_procedures_implant_settings_and_curriculum_parameters_are_left_as_written() -> None:
    data = assets.procedures().model_dump(mode="json")
    implant = next(p for p in data["subject_procedures"][0]["procedures"] if "implanted_device" in p)
    implant["implanted_device"]["additional_settings"] = _user()
    data["subject_procedures"].append({"curriculum_code": {"parameters": _user()}, "start_time": "2024-05-14T09:00"})
    data["specimen_procedures"] = [{"procedure_details": [{"hcr_rounds": [{"start_time": "2024-05-14T11:00:00"}]}]}]
    out, paths = attach(data, LA, datetime_keys(Procedures))
    assert paths == [
        "subject_procedures[1].start_time",
        "specimen_procedures[0].procedure_details[0].hcr_rounds[0].start_time",
    ]
    assert out["specimen_procedures"][0]["procedure_details"][0]["hcr_rounds"][0]["start_time"] == (
        "2024-05-14T11:00:00-07:00"
    )
    implant_out = next(p for p in out["subject_procedures"][0]["procedures"] if "implanted_device" in p)
    assert implant_out["implanted_device"]["additional_settings"] == USER
    assert out["subject_procedures"][1]["curriculum_code"]["parameters"] == USER


def test_quality_control_values_and_tags_are_left_as_written() -> None:
    data = assets.quality_control_a().model_dump(mode="json")
    metric = data["metrics"][0]
    metric["value"] = _user()
    metric["tags"] = {"start_time": "2024-05-14"}
    metric["status_history"][0]["timestamp"] = "2024-03-05T16:00:00"
    out, paths = attach(data, LA, datetime_keys(QualityControl))
    assert paths == ["metrics[0].status_history[0].timestamp"]
    assert out["metrics"][0]["value"] == USER and out["metrics"][0]["tags"] == {"start_time": "2024-05-14"}


def test_a_plain_key_set_still_walks_every_key() -> None:
    """The rig mapper's inputs are placed by key names alone (no schema): nothing is opaque there."""
    out, paths = attach({"parameters": {"start_time": "2024-05-14T10:00"}}, LA, frozenset({"start_time"}))
    assert paths == ["parameters.start_time"] and out["parameters"]["start_time"] == "2024-05-14T10:00-07:00"


# -- through a run: the written files keep the user's values byte for byte ----------------------------------


def test_a_run_writes_free_form_values_exactly_as_written(gather, asset, service) -> None:  # type: ignore[no-untyped-def]
    folder = asset()
    acquisition = _read(folder, "acquisition_a.json")
    acquisition["data_streams"][0]["code"][0]["parameters"] = _user()
    acquisition["acquisition_end_time"] = acquisition["acquisition_end_time"][: -len("-07:00")]  # naive: placed
    _write(folder, "acquisition_a.json", acquisition)
    instrument = _read(folder, "instrument_a.json")
    instrument["components"][0]["additional_settings"] = _user()
    _write(folder, "instrument_a.json", instrument)
    _write(folder, "processing.json", _processing())
    run = gather(folder, service_url=service.url)
    assert run.code == 0, run.err
    written = run.file("acquisition.json")
    stream = next(s for s in written["data_streams"] if s["code"] and s["code"][0]["parameters"])
    assert stream["code"][0]["parameters"] == USER
    assert written["acquisition_end_time"].endswith("-07:00")  # the real field is still read at the rig
    components = run.file("instrument.json")["components"]
    assert [c["additional_settings"] for c in components if c.get("additional_settings")] == [USER]
    process = run.file("processing.json")["data_processes"][0]
    assert process["code"]["parameters"] == USER and process["output_parameters"] == USER
    assert process["start_date_time"] == "2024-05-15T10:00:00-07:00"  # acquisition_start_tz -7
