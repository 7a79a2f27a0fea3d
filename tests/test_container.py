"""The container, without a Docker engine: what the Dockerfile installs, run the way the pipeline runs it.

The Dockerfile builds the wheel and installs it with requirements.lock as constraints into a clean
Python. Here the same happens in a fresh venv; then the pipeline's exact command line runs with an
environment holding only PATH (`singularity exec --cleanenv`), on the pipeline's rewritten settings.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import pipeline_settings
from tests.fixtures import assets
from tests.support.fake_service import FakeMetadataService

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"


def _pins(text: str) -> dict[str, str]:
    pins = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version.strip()
    return pins


def _run(args: list[str | Path], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True, check=False, **kwargs)
    assert done.returncode == 0, f"{args}\n{done.stdout}\n{done.stderr}"
    return done


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the built wheel and its locked dependencies, as the image does."""
    work = tmp_path_factory.mktemp("container")
    tree = work / "source"  # build from a copy: no build/ or egg-info left in the working tree
    shutil.copytree(ROOT / "src", tree / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tree / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", work / "dist", tree])
    (wheel,) = (work / "dist").glob("gather_job-*.whl")
    venv = work / "venv"
    _run([sys.executable, "-m", "venv", venv])
    python = venv / "bin" / "python"
    target = f"{wheel}[mappers]"  # as the Dockerfile installs it
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--constraint", LOCK, target])
    return python


@pytest.mark.slow
def test_the_lock_pins_exactly_what_the_wheel_needs(installed: Path) -> None:
    frozen = _run([installed, "-m", "pip", "freeze", "--exclude", "gather-job"]).stdout
    assert _pins(frozen) == _pins(LOCK.read_text()), "requirements.lock is stale: regenerate it (see its header)"
    _run([installed, "-m", "pip", "check"])


@pytest.mark.slow
def test_the_pipelines_call_in_a_clean_environment(
    installed: Path, asset: Any, service: FakeMetadataService, tmp_path: Path
) -> None:
    staging = tmp_path / "staging" / assets.ASSET_NAME
    settings = pipeline_settings(asset(), staging, service.url)
    environment = {"PATH": f"{installed.parent}:/usr/bin:/bin"}
    done = subprocess.run(
        ["python", "-m", "gather_job", "--job-settings", f" {json.dumps(settings)} "],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    core = ["acquisition.json", "data_description.json", "instrument.json", "procedures.json", "subject.json"]
    assert sorted(p.name for p in staging.iterdir()) == sorted([*core, "gather_report.json", "original_metadata"])
    description = json.loads((staging / "data_description.json").read_text())
    assert description["name"] == assets.ASSET_NAME  # the naive time matched the acquisition's wall clock
    assert [m["abbreviation"] for m in description["modalities"]] == ["behavior", "behavior-videos", "ecephys"]
    report = json.loads((staging / "gather_report.json").read_text())
    assert report["tool"]["version"] != "0+unknown" and report["tool"]["aind_data_schema"] == "2.9.2"
    version = subprocess.run(
        ["python", "-m", "gather_job", "--version"], env=environment, capture_output=True, text=True, check=True
    )
    assert version.stdout.startswith("gather-job ")


def test_the_dockerfile_builds_what_this_tests() -> None:
    text = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM\s+(\S+)", text, flags=re.MULTILINE)
    assert len(stages) == 2 and re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, flags=re.MULTILINE)
    assert "pip wheel --no-cache-dir --no-deps" in text
    assert "--constraint /tmp/requirements.lock" in text
    assert re.search(r"^USER (?!root\b|0\b)\S+$", text, flags=re.MULTILINE), "the image must not run as root"
    assert text.rstrip().endswith('ENTRYPOINT ["python", "-m", "gather_job"]')
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", text, flags=re.MULTILINE)
    allowed = {line[1:].rstrip("/") for line in (ROOT / ".dockerignore").read_text().splitlines() if line[:1] == "!"}
    for sources in copied:
        for source in sources.split():
            assert source.rstrip("/") in allowed, f"{source} is copied but .dockerignore leaves it out"
