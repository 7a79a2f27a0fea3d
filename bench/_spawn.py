"""Run one command and report its wall time, CPU time and peak RSS as JSON on stdout.

bench/run.py measures every job through this small process (bench/measure.py's `measure`), not
directly: on Linux a child's ru_maxrss starts from the RSS of the process that forked it (the
high-water mark survives exec), and the benchmark's own process holds aind-data-schema and
matplotlib. This one holds almost nothing.

    python -S -E bench/_spawn.py CWD LOG PROGRAM [ARG ...]    (the environment is passed through)
"""

import json
import os
import sys
import time


def main() -> None:
    cwd, log, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: stdin from /dev/null, stdout and stderr to the log
        try:
            os.chdir(cwd)
            os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.execv(argv[0], argv)  # noqa: S606 (a fixed argument list, no shell)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    result = {
        "wall_s": round(wall, 4),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 4),
        "rss_mb": round(usage.ru_maxrss / 1024, 1),
        "code": os.waitstatus_to_exitcode(status),
    }
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
