"""The floor: the least work a correct gather does with aind-data-schema in one process.

Import the models; parse and validate each input once (`model_validate_json` on the bytes); fold the
merges with the library's `+`; build `Metadata` from the validated models. Nothing else: no service
client (the service's answers are read from files), no findings, no serialisation, no writing.

    python bench/floor.py METADATA_DIR SERVICE_DIR [--split] [--pickle]

SERVICE_DIR holds subject.json, procedures.json, funding.json and investigators.json (the service's
answers) and settings.json (the job settings: project, modalities, ...). With --split, the seconds of
each stage are printed as one JSON object on stdout (the stages are timed with perf_counter, which
costs nothing measurable); --pickle also times a pickle round trip of each side's merged model (what
handing a result back from a worker process would cost).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def _validate(cls: Any, path: Path) -> Any:
    return cls.model_validate_json(path.read_bytes())


def _fold(models: list[Any]) -> Any:
    merged = models[0]
    for model in models[1:]:
        merged = merged + model
    return merged


def run(metadata: Path, service: Path, do_pickle: bool = False) -> dict[str, float]:
    split: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        split[stage] = round(now - clock, 4)
        clock = now

    from aind_data_schema.core.acquisition import Acquisition
    from aind_data_schema.core.data_description import DataDescription
    from aind_data_schema.core.instrument import Instrument
    from aind_data_schema.core.metadata import Metadata
    from aind_data_schema.core.procedures import Procedures
    from aind_data_schema.core.subject import Subject
    from aind_data_schema_models.modalities import Modality
    from aind_data_schema_models.organizations import Organization

    lap("import")
    instruments = [_validate(Instrument, p) for p in sorted(metadata.glob("instrument*.json"))]
    lap("validate_instruments")
    instrument = _fold(instruments)
    lap("merge_instruments")
    acquisitions = [_validate(Acquisition, p) for p in sorted(metadata.glob("acquisition*.json"))]
    lap("validate_acquisitions")
    acquisition = _fold(acquisitions)
    lap("merge_acquisitions")
    subject = _validate(Subject, service / "subject.json")
    procedures = _validate(Procedures, service / "procedures.json")
    settings = json.loads((service / "settings.json").read_bytes())
    dd = settings["data_description_settings"]
    description = DataDescription(
        subject_id=acquisition.subject_id,
        creation_time=acquisition.acquisition_start_time,
        institution=Organization.AIND,
        funding_source=json.loads((service / "funding.json").read_bytes()),
        investigators=json.loads((service / "investigators.json").read_bytes()),
        data_level="raw",
        project_name=dd["project_name"],
        modalities=[Modality.from_abbreviation(m) for m in dd["modalities"]],
        tags=dd.get("tags"),
        data_summary=dd.get("data_summary"),
    )
    lap("validate_service_and_description")
    if do_pickle:
        import pickle

        for side, model in (("instrument", instrument), ("acquisition", acquisition)):
            data = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
            lap(f"pickle_dump_{side}")
            pickle.loads(data)  # noqa: S301 (our own bytes, just made)
            lap(f"pickle_load_{side}")
            split[f"pickle_bytes_{side}"] = len(data)
    Metadata(
        name=description.name,
        location="",
        subject=subject,
        data_description=description,
        procedures=procedures,
        instrument=instrument,
        acquisition=acquisition,
    )
    lap("metadata")
    return split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("metadata", type=Path)
    parser.add_argument("service", type=Path)
    parser.add_argument("--split", action="store_true", help="print each stage's seconds as JSON")
    parser.add_argument("--pickle", action="store_true", help="also time a pickle round trip of each side")
    args = parser.parse_args()
    split = run(args.metadata, args.service, args.pickle)
    if args.split:
        print(json.dumps(split))


if __name__ == "__main__":
    main()
