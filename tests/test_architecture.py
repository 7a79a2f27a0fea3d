"""House rules that keep the job predictable: a tiny public surface, no hidden inputs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import gather_job

SRC = Path("src/gather_job")


def test_the_public_surface_is_pinned() -> None:
    assert sorted(gather_job.__all__) == [
        "Finding",
        "Findings",
        "GatherError",
        "InvalidMetadata",
        "OutputRefused",
        "ServiceError",
        "Severity",
        "UsageError",
        "__version__",
    ]
    assert (SRC / "py.typed").exists()


def _uses(tree: ast.AST, module: str, attrs: tuple[str, ...]) -> list[str]:
    """Functions that touch module.attr (code only, not docstrings)."""
    found = []
    for func in [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)] + [tree]:
        for node in ast.walk(func):
            if (
                isinstance(node, ast.Attribute)
                and node.attr in attrs
                and isinstance(node.value, ast.Name)
                and node.value.id == module
            ):
                found.append(getattr(func, "name", "<module>"))
    return found


def test_only_the_entrypoint_reads_argv_and_the_environment() -> None:
    for path in SRC.glob("*.py"):
        tree = ast.parse(path.read_text())
        readers = set(_uses(tree, "sys", ("argv",)) + _uses(tree, "os", ("environ", "getenv")))
        assert readers <= ({"entrypoint", "<module>"} if path.name == "cli.py" else set()), path


def test_modules_stay_small() -> None:
    for path in SRC.glob("*.py"):
        assert len(path.read_text().splitlines()) <= 400, path


def test_importing_the_package_loads_no_model() -> None:
    code = "import sys, gather_job, gather_job.cli; print(any(m.startswith('aind_data_schema') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_local_run_never_imports_boto3() -> None:
    """boto3 takes a while to import: only S3 or SSM work pays for it."""
    modules = "gather_job.cli, gather_job.runner, gather_job.job_types, gather_job.s3_output, gather_job.s3_folder"
    code = f"import sys, {modules}; print('boto3' in sys.modules or 'botocore' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
