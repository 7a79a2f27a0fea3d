"""`gather-job upgrade DIR --output-dir OUT`: aind-data-schema 1.x files made 2.x with the real upgrader.

tests/fixtures/legacy_1x/ is one ephys asset as aind-data-schema 1.4.0 wrote it (its own examples:
rig, session, subject, procedures, data_description, with the subject ids made to agree). Variants
are made from it in code. The network is proven unused by running the command under an audit hook
that refuses every socket, in the command's process and in the upgrader's child process alike.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gather_job.cli import main
from gather_job.schema import model_class
from tests.conftest import snapshot

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("aind_metadata_upgrader") is None,
    reason="the `upgrade` extra (aind-metadata-upgrader) is not installed",
)

LEGACY = Path(__file__).parent / "fixtures" / "legacy_1x"
UPGRADED = {
    "subject.json": "subject.json",
    "data_description.json": "data_description.json",
    "procedures.json": "procedures.json",
    "instrument.json": "rig.json",
    "acquisition.json": "session.json",
}
NO_NETWORK = """
import socket, sys

def _no_network(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
        raise socket.gaierror(-3, f"no network in this test ({event})")

sys.addaudithook(_no_network)
"""


@pytest.fixture
def legacy(tmp_path: Path) -> Callable[..., Path]:
    """A copy of the 1.x asset, its documents changed by `change(documents)` first."""

    def make(change: Callable[[dict[str, Any]], None] | None = None, name: str = "asset") -> Path:
        folder = tmp_path / name
        shutil.copytree(LEGACY, folder)
        if change is not None:
            documents = {p.stem: json.loads(p.read_text()) for p in folder.glob("*.json")}
            change(documents)
            for stem, document in documents.items():
                (folder / f"{stem}.json").write_text(json.dumps(document, indent=2))
        return folder

    return make


def _upgrade(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["upgrade", *argv], environ={})
    captured = capsys.readouterr()
    return code, captured.out, _flat(captured.err)


def _flat(text: str) -> str:
    """Error paragraphs are wrapped at 100 columns: compare them as one line."""
    return " ".join(text.split())


def _offline_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a process (and its children) that cannot open a socket: sitecustomize adds the hook."""
    hooks = tmp_path / "no-network"
    hooks.mkdir(exist_ok=True)
    (hooks / "sitecustomize.py").write_text(NO_NETWORK)
    return {**os.environ, "PYTHONPATH": str(hooks)}


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gather_job", *argv], capture_output=True, text=True, env=env, timeout=240, check=False
    )


@pytest.mark.slow
def test_upgrade_offline_then_check(tmp_path: Path, legacy: Callable[..., Path], capsys: Any) -> None:
    folder, out = legacy(), tmp_path / "asset-v2"
    env = _offline_env(tmp_path)
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.getaddrinfo('localhost', 80)"], env=env, capture_output=True
    )
    assert probe.returncode != 0 and b"no network in this test" in probe.stderr  # the guard holds
    before = snapshot(folder)
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}

    done = _run(["upgrade", str(folder), "--output-dir", str(out)], env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert snapshot(folder) == before and {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes
    assert sorted(p.name for p in out.iterdir()) == sorted(UPGRADED)
    for name, source in UPGRADED.items():
        assert re.search(rf"{re.escape(name)}\s+from {re.escape(source)}\s+\S+ -> \S+\s+valid", done.stdout), name
        model = model_class(name.removesuffix(".json")).model_validate_json((out / name).read_text())
        assert not model.schema_version.startswith(("0.", "1."))
        assert (out / name).read_text() == model.model_dump_json(indent=3)  # the library's own form
    assert "the whole record at once" in done.stdout
    assert done.stdout.rstrip().endswith(f"next: gather-job check {out} --offline")

    code = main(["check", str(out), "--offline", "--format", "json"], environ={})
    report = json.loads(capsys.readouterr().out)
    remaining = sorted((f["severity"], f["id"], *f["files"]) for f in report["findings"])
    print("gather-job check OUT --offline still reports:", *remaining, sep="\n  ")
    assert code == 0 and not [f for f in remaining if f[0] == "error"]
    assert ("info", "gather.resolve.not_checked", "procedures.json") in remaining  # the service's, at upload


@pytest.mark.slow
def test_what_the_upgrader_guessed_is_listed(tmp_path: Path, legacy: Callable[..., Path], capsys: Any) -> None:
    def naive_and_undated(documents: dict[str, Any]) -> None:  # rig software that wrote no UTC offsets, no date
        text = re.sub(r'(\d\d:\d\d:\d\d)Z"', r'\1"', json.dumps(documents["session"]))
        documents["session"] = json.loads(text)
        del documents["rig"]["modification_date"]

    code, out, _ = _upgrade(capsys, str(legacy(naive_and_undated)), "--output-dir", str(tmp_path / "v2"))

    assert code == 0, out
    guesses = out.split("check what the upgrader filled in or assumed")[1]
    assert "This device was not found in the components list" in guesses  # placeholder devices, by name
    assert "(Device 'Face Camera')" in guesses
    assert "'unknown' (a placeholder where 1.x had no value) at funding_source[0].fundee[0].name" in guesses
    assert (
        "time(s) in session.json had no UTC offset (first: session_start_time '2023-04-25T02:35:00')" in guesses
        and "America/Los_Angeles" in guesses
        and "became '2023-04-25T02:35:00-07:00'" in guesses
    )
    # the record-level repair moved data_description's creation_time after the (now Pacific) acquisition end
    assert "repaired creation_time: '2023-04-25T03:16:00Z' -> '2023-04-25T03:16:00-07:00'" in guesses
    assert re.search(r"modification_date '\d{4}-\d\d-\d\d' is the day of the upgrade \(rig.json had none\)", guesses)
    assert "the upgrader said:" in out and "renaming rig camera 'Face Camera Assembly'" in out


@pytest.mark.slow
def test_a_rerun_is_refused_then_the_same_bytes_with_overwrite(
    tmp_path: Path, legacy: Callable[..., Path], capsys: Any
) -> None:
    folder, out = legacy(), tmp_path / "v2"
    assert _upgrade(capsys, str(folder), "--output-dir", str(out))[0] == 0
    first = snapshot(out)
    (out / "subject.json").write_text("edited by hand")

    code, _, err = _upgrade(capsys, str(folder), "--output-dir", str(out))
    assert code == 2 and "already holds" in err and "--overwrite" in err
    assert (out / "subject.json").read_text() == "edited by hand"

    assert _upgrade(capsys, str(folder), "--output-dir", str(out), "--overwrite")[0] == 0
    assert snapshot(out) == first  # device lists built from sets: the child's fixed hash seed keeps the order


def test_output_dir_must_lie_outside_dir(tmp_path: Path, legacy: Callable[..., Path], capsys: Any) -> None:
    folder = legacy()
    before = snapshot(folder)
    (tmp_path / "link").symlink_to(folder)
    for out in (folder, folder / "v2", tmp_path / "link" / "v2", folder / "." / "deeper" / "v2"):
        code, _, err = _upgrade(capsys, str(folder), "--output-dir", str(out))
        assert code == 2 and "never writes into the folder it reads" in err, (out, err)
    assert snapshot(folder) == before and sorted(p.name for p in folder.iterdir()) == sorted(UPGRADED.values())
    (tmp_path / "a-file").write_text("")
    code, _, err = _upgrade(capsys, str(folder), "--output-dir", str(tmp_path / "a-file"))
    assert code == 2 and "is a file, not a folder" in err


def test_nothing_to_upgrade_is_exit_2(tmp_path: Path, capsys: Any) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "subject.json").write_text(json.dumps({"object_type": "Subject", "schema_version": "2.3.3"}))
    for folder in (empty, v2):
        code, _, err = _upgrade(capsys, str(folder), "--output-dir", str(tmp_path / "out"))
        assert code == 2 and "holds no aind-data-schema 1.x file to upgrade" in err
        assert f"gather-job check {folder} --offline" in err
    assert not (tmp_path / "out").exists()


def test_unusable_inputs_are_exit_2(tmp_path: Path, legacy: Callable[..., Path], capsys: Any) -> None:
    broken = legacy(name="broken")
    (broken / "rig.json").write_text('{"schema_version": "1.1.1",')
    code, _, err = _upgrade(capsys, str(broken), "--output-dir", str(tmp_path / "o1"))
    assert code == 2 and "rig.json cannot be upgraded" in err

    both = legacy(name="both")
    shutil.copy(both / "rig.json", both / "instrument.json")
    code, _, err = _upgrade(capsys, str(both), "--output-dir", str(tmp_path / "o2"))
    assert code == 2 and "both rig.json and instrument.json" in err

    code, _, err = _upgrade(capsys, "s3://bucket/asset/", "--output-dir", str(tmp_path / "o3"))
    assert code == 2 and "reads a local folder" in err
    assert not any((tmp_path / name).exists() for name in ("o1", "o2", "o3"))


@pytest.mark.slow
def test_without_the_extra_it_says_what_to_install(tmp_path: Path, legacy: Callable[..., Path]) -> None:
    """The package made unimportable for the command and its child process (a shadow that fails to import)."""
    shadow = tmp_path / "shadow" / "aind_metadata_upgrader"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'aind_metadata_upgrader'\")\n")
    env = {**os.environ, "PYTHONPATH": str(shadow.parent)}

    done = _run(["upgrade", str(legacy()), "--output-dir", str(tmp_path / "out")], env)

    assert done.returncode == 2, done.stderr
    assert "pip install 'gather-job[upgrade]'" in _flat(done.stderr) and "aind-metadata-upgrader" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "out").exists()


@pytest.mark.slow
def test_only_the_upgrade_child_imports_the_upgrader(tmp_path: Path, legacy: Callable[..., Path]) -> None:
    """--help and check never load it; upgrade loads it (and the models) only in its child process."""
    code = textwrap.dedent(
        f"""
        import contextlib, io, sys
        from gather_job.cli import main
        def loaded(prefix):
            return any(m == prefix or m.startswith(prefix + ".") for m in sys.modules)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            assert main(["--help"]) == 0 and main(["upgrade", "--help"]) == 0
            assert main(["upgrade", {str(legacy())!r}, "--output-dir", {str(tmp_path / "out")!r}]) == 0
            print(loaded("aind_metadata_upgrader"), loaded("aind_data_schema"), file=sys.__stdout__)
            main(["check", {str(tmp_path / "out")!r}, "--offline"])
        print(loaded("aind_metadata_upgrader"), file=sys.__stdout__)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False", "False"]


def _with_procedure(procedure: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    def change(documents: dict[str, Any]) -> None:
        documents["procedures"]["subject_procedures"][0]["procedures"].append(procedure)

    return change


@pytest.mark.slow
def test_a_file_that_needs_the_network_is_exit_4(tmp_path: Path, legacy: Callable[..., Path]) -> None:
    """A retro-orbital injection: aind-data-schema-models asks EBI's ontology service for its EMAPA id."""
    retro_orbital = {
        "procedure_type": "Retro-orbital injection",
        "injection_materials": [{"material_type": "Virus", "name": "VIR300002_PHPeB", "titer_unit": "gc/mL"}],
        "injection_volume": "100",
        "injection_volume_unit": "microliter",
        "injection_eye": None,
        "protocol_id": None,
    }
    out = tmp_path / "v2"
    done = _run(
        ["upgrade", str(legacy(_with_procedure(retro_orbital))), "--output-dir", str(out)], _offline_env(tmp_path)
    )

    assert done.returncode == 4, done.stdout + done.stderr
    assert re.search(r"procedures.json: not upgraded: needs the network.*no network in this test", done.stdout)
    assert "could not be upgraded without the network" in _flat(done.stderr) and "--overwrite" in done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(set(UPGRADED) - {"procedures.json"})


@pytest.mark.slow
def test_what_cannot_be_upgraded_or_validated_is_exit_3(
    tmp_path: Path, legacy: Callable[..., Path], capsys: Any
) -> None:
    def lambda_reference(documents: dict[str, Any]) -> None:  # a 1.x value the upgrader refuses
        documents["procedures"]["subject_procedures"][0]["procedures"][1]["injection_coordinate_reference"] = "Lambda"

    code, out, err = _upgrade(capsys, str(legacy(lambda_reference, "lambda")), "--output-dir", str(tmp_path / "o1"))
    assert code == 3, out + err
    assert "procedures.json: not upgraded: ValueError: Unsupported injection_coordinate_reference value: Lambda" in out
    assert "each file alone" in out and "procedures.json could not be upgraded" in err
    assert not (tmp_path / "o1" / "procedures.json").exists() and (tmp_path / "o1" / "instrument.json").exists()

    def cheese_headframe(documents: dict[str, Any]) -> None:  # passes the upgrader, fails 2.x Procedures
        documents["procedures"]["subject_procedures"][0]["procedures"][0]["headframe_material"] = "Cheese"

    code, out, err = _upgrade(capsys, str(legacy(cheese_headframe, "cheese")), "--output-dir", str(tmp_path / "o2"))
    assert code == 3, out + err
    assert re.search(r"procedures.json\s+from procedures.json\s+\S+ -> \S+\s+NOT VALID \(1 error\)", out)
    assert "headframe_material" in out and "procedures.json does not validate yet" in err
    assert "Cheese" in (tmp_path / "o2" / "procedures.json").read_text()  # written, to be fixed there
