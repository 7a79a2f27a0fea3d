"""The command line: parse arguments, run, map every outcome to an exit code in one place.

`entrypoint()` is the only reader of sys.argv; `main(argv, environ)` is what tests call. The light
commands (--version, --help) import no aind-data-schema model.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import textwrap
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import FrameType
from typing import IO, TYPE_CHECKING

from gather_job import schema
from gather_job.arguments import ArgumentsError, build_parser, command_of, log_format_of, with_default_command
from gather_job.console import ClosedInput, standard_streams, stderr_for
from gather_job.errors import ExitCode, GatherError, InvalidMetadata, UsageError, WriteInterrupted

if TYPE_CHECKING:
    from gather_job.archive.results import BulkOutcome
    from gather_job.job import Outcome
    from gather_job.storage.target import Hook


def _setup_logging(environ: Mapping[str, str], fmt: str) -> None:
    from gather_job.logs import SECRET_ENVIRONMENT, configure

    secrets = [environ[name] for name in SECRET_ENVIRONMENT if environ.get(name)]
    configure(environ.get("LOG_LEVEL", "WARNING"), fmt, secrets)


def _paragraph(error: GatherError, log_format: str) -> str:
    """The error as one paragraph: wrapped for a person, one line for JSON logs (a record is not a screen).

    A URL's fragment (#...) is masked like its password: it is never sent anywhere, so a value there is
    either a mistake or a secret, and an error may echo a refused URL as it was given.
    """
    from gather_job.logs import printable_text, without_fragments

    text = without_fragments(f"gather-job: error: {error.message}" + (f" {error.hint}" if error.hint else ""))
    if log_format == "json":
        return text
    # a setting's key or value echoed here may hold an ANSI escape or a right-to-left override
    return textwrap.fill(printable_text(text), 100, break_on_hyphens=False, break_long_words=False)


def _refused_arguments(error: ArgumentsError, command: str | None, log_format: str) -> int:
    """A command line argparse refuses: one paragraph with the fix, then (run, check) the verdict line."""
    from gather_job.logs import printable_text
    from gather_job.render import verdict
    from gather_job.usage import usage_problem

    message, hint = usage_problem(error, command)
    text = f"gather-job: error: {message} {hint}"
    err = stderr_for(log_format, sys.stderr)
    if log_format != "json":
        text = textwrap.fill(printable_text(text), 100, break_on_hyphens=False, break_long_words=False)
    err.write(text + "\n")
    if command in (None, "run", "check"):
        err.write(verdict(None, ExitCode.USAGE) + "\n")
    err.flush()
    return ExitCode.USAGE


def _tell_closed_stdin(args: argparse.Namespace) -> None:
    """Tell a closed standard input what '-' was to read, so reading it says so (exit 2, not a traceback)."""
    if not isinstance(sys.stdin, ClosedInput):
        return
    if getattr(args, "from_file", None) == "-":
        sys.stdin.what, sys.stdin.option = "the list of assets", "--from-file -"
    else:
        sys.stdin.what, sys.stdin.option = "the settings", "--settings-file -"


def _dispatch(
    args: argparse.Namespace, environ: Mapping[str, str], err: IO[str], write_hook: Hook | None
) -> Outcome | BulkOutcome | None:
    if args.command == "upgrade":  # its own module: needs neither settings nor the job
        from gather_job.upgrade import command

        command.command(args, environ, err, sys.stdout)
        return None
    from gather_job import commands

    if args.command == "job-types":
        commands.job_types(args, environ, sys.stdin, err)
        return None
    if args.command == "summary":
        return commands.summary(args, environ)
    if args.command == "check" and commands.many(args):
        return commands.check_assets(args, environ, sys.stdin, err)
    if args.command == "check":
        if not args.paths:
            raise UsageError("check needs a PATH (or --from-file, --each).", hint="gather-job check DIR --offline")
        return commands.check(args, environ, sys.stdin, err)
    return commands.run(args, environ, sys.stdin, err, write_hook)


@contextmanager
def _terminate_as_interrupt(stopped: list[str]) -> Iterator[None]:
    """SIGTERM (a Slurm time limit or scancel, `docker stop`) ends a run as Ctrl-C does: a paragraph
    and the verdict line (exit 130) instead of a silent death whose stderr ends on a progress line.
    A second one is ignored so the first can finish saying so; the old handler comes back after. The
    many-asset check sets its own for the time it runs (`archive.bulk.Stop`)."""
    if threading.current_thread() is not threading.main_thread():  # handlers can only be set there
        yield
        return

    def stop(number: int, _frame: FrameType | None) -> None:
        if not stopped:
            stopped.append(signal.Signals(number).name)
            raise KeyboardInterrupt

    saved = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, saved)


def main(
    argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None, write_hook: Hook | None = None
) -> int:
    """Run the CLI; return the exit code. Every outcome and exception becomes an ExitCode here, once.

    `environ` is the only environment read (GATHER_*, LOG_LEVEL, NO_COLOR, AWS_* secrets to mask in
    logs); `write_hook` is called before each write step (the crash-safety tests' launcher uses it).
    """
    standard_streams()  # a closed stdin, stdout or stderr (`<&-`, `>&-`): from here on, usable ones
    env = dict(environ) if environ is not None else {}
    command: str | None = None
    try:
        arguments = with_default_command(argv or [])
        command = command_of(arguments)
        args = build_parser(command).parse_args(arguments)
    except SystemExit as exc:  # --help, --version
        return int(exc.code or 0)
    except ArgumentsError as exc:
        return _refused_arguments(exc, command, log_format_of(argv or []))
    if args.command is None:
        build_parser().print_help(sys.stderr)
        return ExitCode.USAGE
    _tell_closed_stdin(args)
    _setup_logging(env, args.log_format)
    err = stderr_for(args.log_format, sys.stderr)
    outcome: Outcome | BulkOutcome | None = None
    stopped: list[str] = []  # the signal that ended the run, if one did
    try:
        with _terminate_as_interrupt(stopped):
            outcome = _dispatch(args, env, err, write_hook)
    except InvalidMetadata as exc:
        outcome = exc.outcome
    except GatherError as exc:
        if args.debug:
            err.write(traceback.format_exc())  # one write: one record in JSON logs
        err.write(_paragraph(exc, args.log_format) + "\n")
        return _finish(args, None, exc.exit_code, err)
    except KeyboardInterrupt as exc:
        how = f"interrupted ({stopped[0]})" if stopped else "interrupted"
        if isinstance(exc, WriteInterrupted):
            err.write(
                f"gather-job: {how} while writing to {exc.target}: the files there are whole, but without "
                "gather_report.json (written last) the output is incomplete; run again to complete it.\n"
            )
        else:
            err.write(f"gather-job: {how}; nothing was written.\n")
        return _finish(args, None, ExitCode.INTERRUPTED, err)
    except Exception as exc:
        return _unexpected(args, exc, err)
    try:
        return _show(args, outcome, env, err)
    except BrokenPipeError as exc:
        return _unexpected(args, exc, err)


def _show(
    args: argparse.Namespace, outcome: Outcome | BulkOutcome | None, environ: Mapping[str, str], err: IO[str]
) -> int:
    if outcome is None:
        return ExitCode.OK
    from gather_job.job import Outcome  # imported by every command that returns one

    if not isinstance(outcome, Outcome):  # a many-asset check's BulkOutcome: printed as it ran
        from gather_job.archive.results import verdict

        err.write(verdict(outcome) + "\n")
        err.flush()
        return outcome.exit_code
    from gather_job.commands import show

    show(args, outcome, environ, err)
    return _finish(args, outcome, outcome.exit_code, err)


def _unexpected(args: argparse.Namespace, exc: Exception, err: IO[str]) -> int:
    """An exception nothing expected: a bug (exit 1), unless the reader of standard output went away.

    `gather-job check --each s3://bucket/ --format jsonl | head` closes the pipe after a line; the
    next write fails, and that is the reader's choice, not a bug: stop quietly, as other tools do.
    """
    if isinstance(exc, BrokenPipeError) and reader_gone(sys.stdout):
        _discard(sys.stdout)
        return _finish(args, None, ExitCode.OUTPUT_CLOSED, err)
    err.write("".join(traceback.format_exception(exc)))  # one write: one record in JSON logs
    err.write(
        "gather-job: internal error (exit 1): this is a bug in gather-job, not in your metadata. "
        "Please report it with the traceback above.\n"
    )
    return _finish(args, None, ExitCode.BUG, err)


def reader_gone(stream: IO[str] | None) -> bool:
    """Whether `stream` is a pipe or socket whose reading end is closed (poll reports an error on it)."""
    import select

    if stream is None:
        return False
    try:
        poller = select.poll()
        poller.register(stream.fileno(), select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no descriptor (a test's StringIO), or already closed
        return False


def _discard(stream: IO[str]) -> None:
    """Point `stream`'s descriptor at /dev/null, so what is still buffered cannot fail again at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    finally:
        os.close(devnull)


def _finish(args: argparse.Namespace, outcome: Outcome | None, code: int, err: IO[str]) -> int:
    """End stderr with the verdict line (run and check), then return the exit code."""
    if args.command in ("run", "check"):
        from gather_job.render import verdict

        report = outcome.gathered.settings.report if outcome is not None and outcome.gathered else None
        if args.command == "check" and outcome is not None:
            report = getattr(args, "output", None)  # `check --output`: the copy it wrote
        err.write(verdict(outcome, code, report) + "\n")
    err.flush()
    return code


def entrypoint() -> None:
    """Console script and `python -m gather_job`: the only reader of sys.argv and os.environ.

    pydantic plugins (entry points of other installed packages) are not loaded unless
    PYDANTIC_DISABLE_PLUGINS is set otherwise: a plugin may hook every validation, and a verdict
    must be aind-data-schema's alone; the scan of every installed package also costs ~5 ms.
    """
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    schema.pause_collector()
    end_process(main(sys.argv[1:], environ=os.environ))


def end_process(code: int) -> None:
    """Exit with `code` without tearing the interpreter down.

    When `main` returns, every output is written, synced and closed, and the service's threads are
    abandoned (their answers are no longer wanted). A normal exit would still free aind-data-schema's
    classes and schemas one by one (~20 ms of a one-asset run's ~1.4 s of CPU) and first wait for
    each abandoned request to end. Logging and the standard streams are flushed here. Standard output
    closed by its reader (`| head`) ends the process quietly with exit 141, as in `main`; any other
    failure to flush takes the normal exit, which reports it as Python always does.
    """
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except BrokenPipeError:
            if stream is not sys.stdout or not reader_gone(stream):
                sys.exit(code)
            _discard(stream)
            code = ExitCode.OUTPUT_CLOSED
        except (OSError, ValueError):
            sys.exit(code)
    os._exit(int(code))
