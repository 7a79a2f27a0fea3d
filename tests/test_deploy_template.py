"""`gather-job job-types template`: the gather task the transfer service runs, rendered and run under bash.

The pipeline renders the stored command_script by string replacement and runs it with bash in a Slurm
job: `singularity exec --cleanenv docker://IMAGE:TAG ...`. Here a fake `singularity` on PATH checks
those arguments and runs the command with only PATH in its environment, as --cleanenv does.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gather_job.cli import main
from gather_job.errors import UsageError
from gather_job.settings import deploy
from tests.conftest import base_settings

IMAGE, TAG = deploy.DEFAULT_IMAGE, "0.1.0"
REFERENCE_SCRIPT = (
    "#!/bin/bash\n"
    "singularity exec --cleanenv docker://%IMAGE:%IMAGE_VERSION python -m gather_job --job-settings ' %JOB_SETTINGS '\n"
)


def fake_singularity(folder: Path, then: str) -> dict[str, str]:
    """A `singularity` that checks `exec --cleanenv docker://IMAGE:TAG` and runs `then`; the env to use."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "singularity"
    script.write_text(
        "#!/bin/bash\n"
        f'if [ "$1" != exec ] || [ "$2" != --cleanenv ] || [ "$3" != {shlex.quote(f"docker://{IMAGE}:{TAG}")} ]; then\n'
        '  echo "fake singularity: unexpected arguments: $*" >&2; exit 97\n'
        "fi\n"
        "shift 3\n" + then + "\n"
    )
    script.chmod(0o755)
    return {"PATH": f"{folder}:/usr/bin:/bin"}


def cleanenv(folder: Path) -> dict[str, str]:
    """Run the container's command with only PATH (the interpreter's folder first): --cleanenv."""
    python_dir = Path(sys.executable).parent
    return fake_singularity(folder, f'exec env -i PATH={shlex.quote(str(python_dir))}:/usr/bin:/bin "$@"')


def bash(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", "-c", script], env=env, cwd=cwd, capture_output=True, text=True, timeout=180, check=False
    )


def nasty(marker: Path) -> str:
    return (
        "mouse's first session\n"
        f'$(touch {marker}) `touch {marker}` back\\slash "double" é 日本\n'
        f"{deploy.HEREDOC_END}\n'"
    )


@pytest.mark.slow
def test_the_rendered_template_gives_gather_job_the_exact_settings(asset: Callable[..., Path], tmp_path: Path) -> None:
    marker = tmp_path / "x"
    output = tmp_path / "staging" / "asset"
    settings = base_settings(asset(with_subject=True, with_procedures=True), output, None)
    summary = nasty(marker)
    tags = [deploy.HEREDOC_END, "it's", f"$(touch {marker})", "\\", '"']
    settings["data_description_settings"].update(data_summary=summary, tags=tags)
    task = deploy.task(IMAGE, TAG)
    script = deploy.render(task["command_script"], settings, task["image"], task["image_version"])
    assert script.count("\n") == 4 and json.dumps(settings) in script.splitlines()
    done = bash(script, cleanenv(tmp_path / "bin"), tmp_path)
    assert done.returncode == 0, done.stderr
    description = json.loads((output / "data_description.json").read_text())
    assert description["data_summary"] == summary
    assert description["tags"] == tags
    report = json.loads((output / "gather_report.json").read_text())
    assert report["settings"]["data_description_settings"]["data_summary"] == summary
    assert not marker.exists()


def test_the_reference_quoting_breaks_on_an_apostrophe(asset: Callable[..., Path], tmp_path: Path) -> None:
    output = tmp_path / "staging" / "asset"
    settings = base_settings(asset(), output, None)
    settings["data_description_settings"]["data_summary"] = "mouse's first session"
    script = deploy.render(REFERENCE_SCRIPT, settings, IMAGE, TAG)
    done = bash(script, cleanenv(tmp_path / "bin"), tmp_path)
    assert done.returncode != 0
    assert not output.exists()


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], Path]:
    """A fake singularity that only saves what the container's command would read on stdin."""
    folder = tmp_path_factory.mktemp("capture")
    received = folder / "stdin"
    return fake_singularity(folder / "bin", f"cat > {shlex.quote(str(received))}"), received


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@pytest.mark.slow
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.text(), JSON, max_size=4))
def test_any_settings_reach_standard_input_unchanged(
    capture: tuple[dict[str, str], Path], job_settings: dict[str, Any]
) -> None:
    env, received = capture
    text = json.dumps(job_settings)
    if any(name in text for name in deploy.PLACEHOLDERS):
        return  # the pipeline itself rewrites or refuses these (see test_task_refuses_placeholder_text)
    script = deploy.render(deploy.COMMAND_SCRIPT, job_settings, IMAGE, TAG)
    done = bash(script, env, received.parent)
    assert done.returncode == 0, done.stderr
    assert received.read_text() == text + "\n"
    assert json.loads(received.read_text()) == job_settings


@pytest.mark.parametrize(
    ("image", "version", "shape"),
    [
        ("ghcr.io/x/aind-metadata-mapper", "1.4.0", "v1"),
        ("ghcr.io/x/aind-metadata-mapper", "v1-abc", "v1"),
        ("ghcr.io/x/aind-metadata-mapper", "2.0.0", "v0"),
        ("ghcr.io/x/aind-metadata-mapper", "latest", "v0"),
        ("ghcr.io/x/gather-job", "0.1.0", "v1"),
    ],
)
def test_image_shape_is_the_pipelines_rule(image: str, version: str, shape: str) -> None:
    assert deploy.image_shape(image, version) == shape
    if shape == "v0":
        with pytest.raises(UsageError, match=r"contains 'aind-metadata-mapper' unless its version starts with '1\.'"):
            deploy.task(image, version)
    else:
        assert deploy.task(image, version)["image"] == image


def test_task_defaults_and_refusals() -> None:
    stored = deploy.task()
    assert stored["image"] == "ghcr.io/allenneuraldynamics/gather-job" and "aind-metadata-mapper" not in IMAGE
    assert stored["image_version"] == deploy.__version__
    with pytest.raises(UsageError, match="not a container image tag"):
        deploy.task(IMAGE, "1.0; rm -rf /")
    with pytest.raises(UsageError, match="not a container image name"):
        deploy.task("ghcr.io/x/y $(id)", TAG)


def test_task_refuses_placeholder_text() -> None:
    with pytest.raises(UsageError, match="%IMAGE"):
        deploy.task(IMAGE, TAG, {"data_description_settings": {"data_summary": "built from %IMAGE"}})


def test_render_is_the_pipelines_replacement() -> None:
    script = "%JOB_SETTINGS|%IMAGE_VERSION|%IMAGE"
    assert deploy.render(script, {"a": "é"}, "img", "1.0") == '{"a": "\\u00e9"}|1.0|img'
    with pytest.raises(UsageError, match="%INPUT_SOURCE"):
        deploy.render("%INPUT_SOURCE %JOB_SETTINGS", {}, IMAGE, TAG)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["job-types", "template", *argv], environ={})
    captured = capsys.readouterr()
    return code, captured.out, " ".join(captured.err.split())


def test_the_cli_prints_the_task(capsys: pytest.CaptureFixture[str]) -> None:
    presets = {"data_description_settings": {"tags": ["x"]}}
    code, out, err = run(
        capsys, "--image", "ghcr.io/x/gather-job", "--image-version", "2.0.0", "--job-settings", json.dumps(presets)
    )
    assert code == 0, err
    assert json.loads(out) == {
        "skip_task": False,
        "image": "ghcr.io/x/gather-job",
        "image_version": "2.0.0",
        "job_settings": presets,
        "command_script": deploy.COMMAND_SCRIPT,
    }
    code, out, _ = run(capsys, "--image-resources", '{"cpus_per_task": 1}')
    assert code == 0 and json.loads(out)["image_resources"] == {"cpus_per_task": 1}
    assert json.loads(out)["job_settings"] == {}


def test_the_cli_refuses_unknown_settings_and_v0_images(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "--job-settings", '{"data_description_settings": {"tagz": ["x"]}}')
    assert code == 2 and out == ""
    assert "data_description_settings.tagz" in err and "did you mean 'tags'" in err
    code, out, err = run(capsys, "--image", "ghcr.io/x/aind-metadata-mapper", "--image-version", "latest")
    assert code == 2 and out == "" and "v0 settings" in err
