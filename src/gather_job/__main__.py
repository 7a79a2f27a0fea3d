"""`python -m gather_job ...`, the form the transfer pipeline calls."""

from gather_job.cli import entrypoint

if __name__ == "__main__":
    entrypoint()
