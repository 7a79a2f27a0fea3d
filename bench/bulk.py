"""Assets per minute when re-checking an archive: one process per asset, one warm process, --jobs 2.

    python bench/bulk.py [--assets 200] [--s3] [--s3-latency 0.02]

Small assets (the test fixture's two-rig asset, ~60 KB of metadata) under a local folder or, with
--s3, on a local S3 server (moto, in this process), checked offline three ways:

- one process per asset: `gather-job check PATH --offline`, one after another (what an operator
  did before: each process pays the model import);
- one warm process: `gather-job check --each PARENT --offline --jobs 1`;
- two worker processes: the same with `--jobs 2`.

Each is a child of bench/_spawn.py: wall, CPU (user+sys of the child and its workers) and peak RSS.
bench/run.py calls `measure` and puts the figures in its table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def build(root: Path, count: int) -> list[Path]:
    from tests.fixtures import assets

    template = assets.write_asset(root / "_template", "valid")
    folders = []
    for i in range(count):
        folder = root / f"asset-{i:05d}"
        shutil.copytree(template, folder)
        folders.append(folder)
    shutil.rmtree(template)
    return folders


def _gather_job() -> str:
    return str(Path(sys.executable).parent / "gather-job")


def measure(count: int, *, s3: bool = False, s3_latency: float = 0.0, per_asset_sample: int = 20) -> dict[str, Any]:
    """assets/min (wall) and CPU s per asset for the three ways; peak RSS of the warm process."""
    from bench.run import child_env
    from bench.run import measure as spawn

    work = Path(tempfile.mkdtemp(prefix="gather-bulk-"))
    env = child_env()
    results: dict[str, Any] = {"assets": count, "store": "local"}
    server = None
    try:
        folders = build(work / "archive", count)
        parent = str(work / "archive")
        settings = work / "settings.json"
        settings.write_text("{}")
        if s3:
            server, parent = _upload(folders, env, settings, s3_latency)
            results["store"] = "S3 (a local moto server" + (
                f", {s3_latency * 1000:.0f} ms a request)" if s3_latency else ")"
            )
        paths = [str(f) for f in folders] if not s3 else [f"{parent}{f.name}/" for f in folders]
        log = work / "log.txt"
        sample = paths[:per_asset_sample]
        cpu = wall = 0.0
        for path in sample:
            one = spawn(
                [_gather_job(), "check", path, "--offline", "--settings-file", str(settings)],
                env=env,
                cwd=work,
                log=log,
            )
            cpu, wall = cpu + one.cpu_s, wall + one.wall_s
        results["per_process"] = {"assets_per_min": len(sample) / wall * 60, "cpu_s_per_asset": cpu / len(sample)}
        for jobs in (1, 2):
            out = work / f"results-{jobs}.jsonl"
            cmd = [_gather_job(), "check", "--each", parent, "--offline", "--settings-file", str(settings)]
            run = spawn(
                [*cmd, "--jobs", str(jobs), "--format", "jsonl", "--output", str(out)], env=env, cwd=work, log=log
            )
            checked = sum(1 for line in out.read_text().splitlines() if '"type": "asset"' in line)
            results[f"jobs_{jobs}"] = {
                "assets_per_min": checked / run.wall_s * 60,
                "cpu_s_per_asset": run.cpu_s / max(checked, 1),
                "rss_mb": run.rss_mb,
                "checked": checked,
            }
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return results


def _upload(folders: list[Path], env: dict[str, str], settings: Path, latency: float) -> tuple[Any, str]:
    import boto3
    from moto.server import ThreadedMotoServer
    from tests.support.aws_fixtures import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    s3 = boto3.session.Session().client("s3", endpoint_url=url, region_name="us-east-1", **keys)
    s3.create_bucket(Bucket="archive")
    for folder in folders:
        for path in folder.iterdir():
            s3.put_object(Bucket="archive", Key=f"uploads/{folder.name}/{path.name}", Body=path.read_bytes())
    env.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"})
    if latency:  # the job talks to the server through a proxy that delays each request
        from tests.support.tcp_proxy import CuttingProxy

        proxy = CuttingProxy(port, delay=latency).__enter__()
        url = proxy.url
    settings.write_text(json.dumps({"s3_endpoint_url": url}))
    return server, "s3://archive/uploads/"


def table(results: dict[str, Any]) -> str:
    rows = [
        ("one process per asset", results["per_process"]),
        ("one warm process (--jobs 1)", results["jobs_1"]),
        ("two workers (--jobs 2)", results["jobs_2"]),
    ]
    lines = [
        f"Re-checking {results['assets']} small assets offline ({results['store']}):",
        "",
        "| way | assets/min (wall) | CPU s per asset | peak RSS |",
        "|---|---|---|---|",
    ]
    for name, cell in rows:
        rss = f"{cell['rss_mb']:.0f} MB" if "rss_mb" in cell else "-"
        lines.append(f"| {name} | {cell['assets_per_min']:,.0f} | {cell['cpu_s_per_asset']:.3f} | {rss} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--s3", action="store_true", help="keep the assets on a local S3 server")
    parser.add_argument("--s3-latency", type=float, default=0.0, help="seconds added to each S3 request (a proxy)")
    args = parser.parse_args(argv)
    print(table(measure(args.assets, s3=args.s3 or args.s3_latency > 0, s3_latency=args.s3_latency)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
