"""The owned whole-asset rules say exactly what aind-data-schema's Metadata validators say.

`pipeline/asset_rules.py` runs Metadata's model validators without importing Metadata. Here each one
is run beside the library's own function, on a `Metadata.model_construct(...)` and an `Asset` of the
same (deep-copied) core models: the verdict (passes, or the exception and its message), the warnings
and the change to data_description.tags must be the same. Cases: the assets of seven modalities and
the fixture asset as they are, then each rule's triggers and near-misses. The list of rules is pinned
to the library's, so a new rule in a schema release fails here instead of being skipped.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from gather_job import schema
from gather_job.pipeline import asset_rules, cross_checks
from tests.conftest import base_settings
from tests.fixtures import assets, modalities


def _library() -> Any:
    from aind_data_schema.core.metadata import Metadata

    return Metadata


def test_the_rules_are_the_librarys_in_its_order() -> None:
    validators = _library().__pydantic_decorators__.model_validators
    after = [name for name, d in validators.items() if d.info.mode == "after"]
    assert [name for name, _ in asset_rules.VALIDATORS] == [
        name for name in after if name not in cross_checks.REPLACED_VALIDATORS
    ]
    assert set(cross_checks.REPLACED_VALIDATORS) <= set(after)
    assert set(cross_checks.NEEDS) <= {name for name, _ in asset_rules.VALIDATORS}


def test_the_file_sets_are_the_librarys() -> None:
    from aind_data_schema.core import metadata

    assert asset_rules.REQUIRED_FILE_SETS == metadata.REQUIRED_FILE_SETS
    assert list(schema.CORE_FILES) == metadata.CORE_FILES
    assert [f.name for f in __import__("dataclasses").fields(asset_rules.Asset)] == [
        "name",
        "location",
        *metadata.CORE_FILES,
    ]


def _outcome(rule: Callable[[Any], Any], target: Any) -> tuple[str, list[str], Any]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            rule(target)
            verdict = "passes"
        except (ValueError, AttributeError, TypeError) as exc:
            verdict = f"{type(exc).__name__}: {exc}"
    description = target.data_description
    tags = None if description is None else copy.deepcopy(description.tags)
    return verdict, [f"{w.category.__name__}: {w.message}" for w in caught], tags


def _compare(core: dict[str, Any]) -> list[tuple[str, str]]:
    """Every rule on these core models, ours and the library's; returns (rule, verdict) pairs."""
    library = _library().__pydantic_decorators__.model_validators
    verdicts = []
    for name, ours in asset_rules.VALIDATORS:
        theirs = _library().model_construct(name="x", location="s3://b/x", **copy.deepcopy(core))
        mine = asset_rules.Asset(name="x", location="s3://b/x", **copy.deepcopy(core))
        expected = _outcome(library[name].func, theirs)
        assert _outcome(ours, mine) == expected, f"{name} on {sorted(core)}"
        verdicts.append((name, expected[0] if expected[0] != "passes" or not expected[1] else "warns"))
    return verdicts


def _load(folder: Path) -> dict[str, Any]:
    core: dict[str, Any] = {}
    for kind in schema.CORE_FILES:
        files = sorted(folder.glob(f"{kind}*.json"))
        if files:
            core[kind] = schema.model_class(kind).model_validate_json(files[0].read_bytes())
    return core


def _fixture_asset() -> dict[str, Any]:
    return {
        "subject": assets.subject(),
        "procedures": assets.procedures(),
        "data_description": assets.data_description(),
        "instrument": assets.instrument_a(),
        "acquisition": assets.acquisition_a(),
    }


@pytest.mark.slow
def test_every_modality_asset_as_it_is(tmp_path: Path) -> None:
    compared = 0
    for name, build in sorted(modalities.ASSETS.items()):
        build(tmp_path / name)
        core = _load(tmp_path / name)
        assert core, name
        _compare(core)
        compared += 1
    assert compared == len(modalities.ASSETS) >= 7
    _compare(_fixture_asset())


def _cases() -> Iterator[tuple[str, dict[str, Any], str, str]]:
    """(case, core models, rule, the library's verdict expected: passes, warns or an error's start)."""
    from aind_data_schema.components.injection_procedures import Injection
    from aind_data_schema.components.subject_procedures import TrainingProtocol
    from aind_data_schema.components.subjects import CalibrationObject
    from aind_data_schema.core.acquisition import ExternalDataStream
    from aind_data_schema.core.procedures import Surgery
    from aind_data_schema.core.processing import Processing
    from aind_data_schema_models.modalities import Modality

    base = _fixture_asset()
    acquisition, description = base["acquisition"], base["data_description"]
    yield "as is", base, "validate_required_files", "passes"
    in_vitro = acquisition.model_copy(update={"subject_details": None})
    yield "no subject details", {**base, "acquisition": in_vitro}, "validate_subject_details_if_not_specimen", "Value"
    specimen = in_vitro.model_copy(update={"specimen_id": "664484-001"})
    yield "specimen", {**base, "acquisition": specimen}, "validate_subject_details_if_not_specimen", "passes"
    yield "no key file", {"acquisition": acquisition}, "validate_required_files", "ValueError"
    yield "subject alone", {"subject": base["subject"]}, "validate_expected_files_by_modality", "warns"
    external = ExternalDataStream.model_construct(
        stream_start_time=acquisition.acquisition_start_time,
        stream_end_time=acquisition.acquisition_end_time,
        modalities=[Modality.BEHAVIOR],
    )
    only_external = acquisition.model_copy(update={"data_streams": [external]})
    without_instrument = {k: v for k, v in base.items() if k != "instrument"}
    yield "external streams", {**without_instrument, "acquisition": only_external}, "validate_required_files", "passes"
    yield "no instrument", without_instrument, "validate_expected_files_by_modality", "warns"
    yield (
        "processing alone",
        {"processing": Processing.model_construct(data_processes=[])},
        "validate_required_files",
        "passes",
    )

    bare = Injection.model_construct(injection_materials=None, dynamics=[])
    surgery = base["procedures"].subject_procedures[0]
    with_injection = surgery.model_copy(update={"procedures": [*surgery.procedures, bare]})
    injected = base["procedures"].model_copy(update={"subject_procedures": [with_injection]})
    for modality, rule in (
        (Modality.SPIM, "validate_smartspim_metadata"),
        (Modality.ECEPHYS, "validate_ecephys_metadata"),
    ):
        only = description.model_copy(update={"modalities": [modality]})
        yield (
            f"{modality.abbreviation} injection",
            {**base, "procedures": injected, "data_description": only},
            rule,
            "ValueError",
        )
        other = description.model_copy(update={"modalities": [Modality.BEHAVIOR]})
        yield (
            f"{modality.abbreviation} other",
            {**base, "procedures": injected, "data_description": other},
            rule,
            "passes",
        )
    assert isinstance(surgery, Surgery)

    calibration = base["subject"].model_copy(update={"subject_details": CalibrationObject(description="a target")})
    for tags, expected in ((None, "warns"), (["x"], "warns"), (["calibration"], "passes")):
        tagged = description.model_copy(update={"tags": tags})
        core = {**base, "subject": calibration, "data_description": tagged}
        yield f"calibration tags {tags}", core, "validate_calibration_object_tags", expected

    epoch = acquisition.stimulus_epochs[0].model_copy(update={"training_protocol_name": "Stage 3"})
    trained = acquisition.model_copy(update={"stimulus_epochs": [epoch]})
    for names, expected in (((), "warns"), (("Stage 2",), "warns"), (("Stage 2", "Stage 3"), "passes")):
        protocols = [TrainingProtocol(training_name=n, start_date=date(2024, 1, 1)) for n in names]
        procedures = base["procedures"].model_copy(update={"subject_procedures": [surgery, *protocols]})
        core = {**base, "acquisition": trained, "procedures": procedures}
        yield f"training {names}", core, "validate_training_protocol_references", expected

    late = description.model_copy(update={"name": description.name.rsplit("_", 2)[0] + "_2031-01-01_00-00-00"})
    yield (
        "name long after",
        {**base, "data_description": late},
        "validate_data_description_name_time_consistency",
        "passes",
    )
    early = acquisition.acquisition_end_time - timedelta(days=2)
    named = description.model_copy(update={"name": f"{base['subject'].subject_id}_{early:%Y-%m-%d_%H-%M-%S}"})
    yield "name before", {**base, "data_description": named}, "validate_data_description_name_time_consistency", "warns"
    open_ended = acquisition.model_copy(update={"acquisition_end_time": None})
    yield "no end", {**base, "acquisition": open_ended}, "validate_data_description_name_time_consistency", "passes"


@pytest.mark.parametrize("case", [c[0] for c in _cases()])
def test_each_rule_triggered_and_not(case: str) -> None:
    _, core, rule, expected = next(c for c in _cases() if c[0] == case)
    verdict = dict(_compare(core))[rule]
    assert verdict.startswith(expected), f"{case}: {rule} gave {verdict}"


def test_the_calibration_tag_is_added_to_the_description_itself() -> None:
    from aind_data_schema.components.subjects import CalibrationObject

    core = _fixture_asset()
    core["subject"] = core["subject"].model_copy(update={"subject_details": CalibrationObject(description="t")})
    core["data_description"] = core["data_description"].model_copy(update={"tags": None})
    with pytest.warns(UserWarning, match="Adding 'calibration' tag"):
        asset_rules.calibration_object_tags(asset_rules.Asset(name="x", location="x", **core))
    assert core["data_description"].tags == ["calibration"]


@pytest.mark.slow
def test_a_run_imports_no_model_it_does_not_need(asset, service, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Metadata (and Processing, QualityControl, Model for an asset without them) stay unimported."""
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(base_settings(asset(with_subject=True), tmp_path / "out", service.url), default=str))
    probe = (
        "import sys; from gather_job.cli import main; "
        "code = main(['run', '--settings-file', sys.argv[1]], environ={}); "
        "print(code, sorted(m for m in sys.modules if m.startswith('aind_data_schema.core.')))"
    )
    done = subprocess.run([sys.executable, "-c", probe, str(settings)], capture_output=True, text=True, check=True)
    code, modules = done.stdout.strip().splitlines()[-1].split(" ", 1)
    assert code == "0", done.stderr
    for unneeded in ("metadata", "processing", "quality_control", "model"):
        assert f"aind_data_schema.core.{unneeded}'" not in modules, modules
    assert "aind_data_schema.core.subject'" in modules


def test_an_acquisition_of_a_specimen_the_procedures_do_not_describe_is_a_warning() -> None:
    """The library checks each file's specimen_id against its subject_id, never the files against each other."""
    from aind_data_schema.components.specimen_procedures import Section, SpecimenProcedure

    from gather_job.findings import Findings
    from gather_job.pipeline.specimens import check_specimens, described

    procedure = SpecimenProcedure.model_construct(specimen_id="664484-001", procedure_details=[])
    sectioned = SpecimenProcedure.model_construct(
        specimen_id="664484-002",
        procedure_details=[
            type("Sectioning", (), {"sections": [Section.model_construct(output_specimen_id="664484-002_01")]})()
        ],
    )
    procedures = assets.procedures().model_copy(update={"specimen_procedures": [procedure, sectioned]})
    assert described(procedures) == {"664484-001", "664484-002", "664484-002_01"}
    acquisition = assets.asset_files("valid")["acquisition_a.json"]
    for named, warned in (("664484-001", False), ("664484-002_01", False), (["664484-001", "664484-003"], True)):
        findings = Findings()
        check_specimens(acquisition.model_copy(update={"specimen_id": named}), procedures, {}, findings)
        assert ("gather.specimen.unknown" in {f.id for f in findings}) is warned, named
    findings = Findings()  # procedures that describe no specimen: nothing to compare
    check_specimens(acquisition.model_copy(update={"specimen_id": "664484-009"}), assets.procedures(), {}, findings)
    assert not list(findings)
