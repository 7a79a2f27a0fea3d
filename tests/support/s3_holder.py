"""`python tests/support/s3_holder.py ENDPOINT S3URI LEASE_S`: a run that claims an S3 prefix with a short
lease, writes its first object, then stops before the next step, as a run killed there would (the test
sends the SIGKILL). It uses the job's own S3Target; only the lease is shorter, so the test need not wait
two minutes for the claim to go stale. The moto server's fake credentials come from the environment."""

from __future__ import annotations

import sys
import time

import boto3

from gather_job.storage.s3_target import S3Target
from gather_job.storage.s3uri import parse


def main(endpoint: str, uri: str, lease_s: float) -> None:
    client = boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1")
    steps: list[str] = []

    def hook(step: str) -> None:
        steps.append(step)
        if len(steps) == 2:
            sys.stderr.write(f"holding the claim before {step}\n")
            sys.stderr.flush()
            time.sleep(3600)

    target = S3Target(parse(uri, "output_dir"), client, "overwrite", hook=hook, lease_s=lease_s)
    target.prepare()
    files = {"acquisition.json": b'{"from": "the killed run"}', "subject.json": b'{"from": "the killed run"}'}
    target.write(files, b"{}", inputs=frozenset(), originals={}, invalid=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
