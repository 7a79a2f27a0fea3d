"""House rules that keep the job predictable and the layout readable, checked on every module.

Every rule walks all of `src/gather_job`, subpackages included, so a moved file stays checked.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import gather_job

SRC = Path("src/gather_job")
MODULES = sorted(SRC.rglob("*.py"))
SUBPACKAGES = ("settings", "pipeline", "storage", "archive", "upgrade")
# what each part of the package may import from the others (its own part is always allowed)
MAY_IMPORT = {
    "settings": {"errors", "findings", "suggest", "strict_json", "aws"},
    "storage": {"errors", "findings", "schema", "aws", "settings"},
    "pipeline": {
        "errors",
        "findings",
        "suggest",
        "strict_json",
        "schema",
        "service",
        "progress",
        "settings",
        "storage",
    },
    # many assets: runs the job (lazily) over each; never imported by the job itself
    "archive": {"errors", "aws", "settings", "storage", "pipeline", "job", "render", "schema", "logs"},
    # a command of its own: reads and writes folders, validates as the job does
    "upgrade": {"errors", "findings", "progress", "schema", "storage", "pipeline"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """gather_job modules this file imports, at any depth (lazy imports inside functions count)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gather_job"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("gather_job"))
    known = {_module_name(p) for p in MODULES}
    return {name for name in found if name in known}


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_the_public_surface_is_pinned() -> None:
    assert sorted(gather_job.__all__) == [
        "DataDescriptionSettings",
        "EnrichmentSettings",
        "ExitCode",
        "Finding",
        "Findings",
        "GatherError",
        "GatherMetadataJob",
        "InstrumentSettings",
        "InvalidMetadata",
        "JobSettings",
        "Outcome",
        "OutputRefused",
        "ServiceError",
        "Severity",
        "SubjectSettings",
        "UsageError",
        "__version__",
    ]
    for name in gather_job.__all__:
        assert getattr(gather_job, name) is not None
    assert (SRC / "py.typed").exists()


def test_the_listing_shows_the_architecture() -> None:
    for package in SUBPACKAGES:
        assert (SRC / package / "__init__.py").read_text() == "", f"{package}/__init__.py must stay empty"
    assert {p.name for p in (SRC / "storage").glob("*.py")} >= {
        "folder.py",
        "s3_folder.py",
        "target.py",
        "s3_target.py",
    }


def test_parts_import_only_what_they_may() -> None:
    for path in MODULES:
        module = _module_name(path)
        part = _part(module)
        if part not in MAY_IMPORT:
            continue
        for imported in _imports(path):
            other = _part(imported)
            assert other in (part, "") or other in MAY_IMPORT[part], f"{module} imports {imported}"


def test_no_import_cycles_at_module_level() -> None:
    graph: dict[str, set[str]] = {}
    for path in MODULES:
        tree = ast.parse(path.read_text())
        top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
        names = {n.module for n in top if isinstance(n, ast.ImportFrom) and n.module} | {
            f"{n.module}.{a.name}" for n in top if isinstance(n, ast.ImportFrom) and n.module for a in n.names
        }
        graph[_module_name(path)] = {m for m in names if m in {_module_name(p) for p in MODULES}}

    def visit(node: str, trail: list[str]) -> None:
        assert node not in trail, " -> ".join([*trail, node])
        for nxt in graph.get(node, ()):
            if nxt != node and nxt != "gather_job":
                visit(nxt, [*trail, node])

    for node in graph:
        visit(node, [])


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
    for path in MODULES:
        tree = ast.parse(path.read_text())
        readers = set(_uses(tree, "sys", ("argv",)) + _uses(tree, "os", ("environ", "getenv")))
        assert readers <= ({"entrypoint", "<module>"} if path.name == "cli.py" else set()), path


def test_nothing_is_patched_at_run_time() -> None:
    """No setattr on another module or class: the library is used, never rewired."""
    for path in MODULES:
        tree = ast.parse(path.read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "setattr"]
        assert not calls, f"{path} calls setattr"


def test_modules_stay_small() -> None:
    for path in MODULES:
        assert len(path.read_text().splitlines()) <= 400, path


def test_importing_the_package_loads_no_model() -> None:
    code = "import sys, gather_job, gather_job.cli; print(any(m.startswith('aind_data_schema') for m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"


def test_a_local_run_never_imports_boto3() -> None:
    """boto3 takes a while to import: only S3 or SSM work pays for it."""
    modules = ", ".join(
        [
            "gather_job.cli",
            "gather_job.commands",
            "gather_job.job",
            "gather_job.settings.job_types",
            "gather_job.storage.s3_target",
            "gather_job.storage.s3_folder",
        ]
    )
    code = f"import sys, {modules}; print('boto3' in sys.modules or 'botocore' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
