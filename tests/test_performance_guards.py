"""Regression guards for speed that are not timed tests (bench/ measures time)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from typing import Any

import pytest

from gather_job import schema
from gather_job.pipeline import load

LIGHT = (
    "import sys; from gather_job.cli import main; main([{arg!r}]); "
    "print(sorted(m for m in sys.modules if m.startswith('aind_data_schema')))"
)


@pytest.mark.slow
@pytest.mark.parametrize("arg", ["--version", "--help"])
def test_light_commands_import_no_model(arg: str) -> None:
    done = subprocess.run([sys.executable, "-c", LIGHT.format(arg=arg)], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_each_input_is_decoded_and_validated_exactly_once(gather, asset, service, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    decoded: Counter[str] = Counter()
    validated: Counter[str] = Counter()
    original_decode = load.decode_json

    def counting_decode(label: str, raw: bytes, findings: Any) -> Any:
        decoded[label] += 1
        return original_decode(label, raw, findings)

    monkeypatch.setattr(load, "decode_json", counting_decode)
    for kind in schema.CORE_FILES:
        cls = schema.model_class(kind)
        for method in ("model_validate", "model_validate_json"):
            original = getattr(cls, method)

            def counting(data: Any, *args: Any, _original: Any = original, _name: str = cls.__name__, **kw: Any) -> Any:
                validated[_name] += 1
                return _original(data, *args, **kw)

            monkeypatch.setattr(cls, method, counting)
    folder = asset(with_subject=True)
    run = gather(folder, service_url=service.url)
    assert run.code == 0, run.err
    files = ["acquisition_a.json", "acquisition_b.json", "instrument_a.json", "instrument_b.json", "subject.json"]
    assert decoded == Counter(files)
    assert validated == Counter(
        {"Instrument": 2, "Acquisition": 2, "Subject": 1, "Procedures": 1, "DataDescription": 1}
    )


def test_the_reported_library_version_is_the_installed_distribution() -> None:
    """`schema_version` reads the module's `__version__` instead of scanning the installed metadata."""
    from importlib.metadata import version

    assert schema.schema_version() == version("aind-data-schema")


PLUGIN = """
import os
class _Plugin:
    def new_schema_validator(self, *args, **kwargs):
        return None, None, None
open(os.environ["PLUGIN_MARK"], "a").write("loaded\\n")
plugin = _Plugin()
"""


@pytest.mark.slow
@pytest.mark.parametrize(("setting", "loaded"), [(None, False), ("", True)])
def test_the_console_script_loads_no_pydantic_plugin_unless_asked(tmp_path, setting, loaded) -> None:  # type: ignore[no-untyped-def]
    """A pydantic plugin may hook every validation: the verdict must be aind-data-schema's alone.
    An operator who sets PYDANTIC_DISABLE_PLUGINS themselves decides."""
    import os
    from pathlib import Path

    site = tmp_path / "site"
    info = site / "fake_plugin-1.0.dist-info"
    info.mkdir(parents=True)
    (site / "fake_plugin.py").write_text(PLUGIN)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[pydantic]\nfake = fake_plugin:plugin\n")
    mark = tmp_path / "mark.txt"
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    env.update(PYTHONPATH=os.pathsep.join([str(site), env.get("PYTHONPATH", "")]), PLUGIN_MARK=str(mark))
    if setting is not None:
        env["PYDANTIC_DISABLE_PLUGINS"] = setting
    example = Path(__file__).resolve().parents[1] / "examples" / "asset"
    command = [sys.executable, "-m", "gather_job", "check", str(example), "--offline"]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode in (0, 3), done.stderr
    assert mark.exists() is loaded
