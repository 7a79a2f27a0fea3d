"""What a refused command line is told: argparse's complaint made one sentence with its fix.

The fixes people need most: the reference's `--output_dir ...` flags (pydantic-settings' command line,
which gather-job does not parse), a misspelt or snake_case option, a word that is no command, a global
option left without its value. Imported only when argparse refuses something.
"""

from __future__ import annotations

import argparse

from gather_job.arguments import COMMANDS, ArgumentsError, build_parser
from gather_job.suggest import did_you_mean


def command_options(command: str | None) -> list[str]:
    """The option strings `command` takes (the global ones when None), for a did-you-mean."""
    parser = build_parser(command)
    options = [o for action in parser._actions for o in action.option_strings]
    for action in parser._actions:
        if command and isinstance(action, argparse._SubParsersAction) and command in action.choices:
            options += [o for sub in action.choices[command]._actions for o in sub.option_strings]
    return options


def usage_problem(error: ArgumentsError, command: str | None) -> tuple[str, str]:
    """argparse's complaint as (what is wrong, how to fix it), with the fixes people need most: the
    reference's `--output_dir ...` flags, a misspelt option, a word that is no command."""
    shown = f"gather-job {command} --help" if command else "gather-job --help"
    if "is not a command" in error.message:
        return error.message + ".", f"The commands are {', '.join(COMMANDS)}; `gather-job --help` says what each does."
    if not error.message.startswith("unrecognized arguments: "):
        return f"{error.prog}: {error.message}.", f"`{shown}` lists its options."
    words = error.message.removeprefix("unrecognized arguments: ").split()
    flags = [w.split("=", 1)[0] for w in words if w.startswith("--")]
    prog = f"gather-job {command}" if command else error.prog
    options = command_options(command)
    first = flags[0] if flags else ""
    if first == "--version":
        return f"{prog} does not take --version.", "Ask gather-job itself: `gather-job --version`."
    if first in options:  # a global option left without its value (`... --log-format`)
        return f"{prog}: {first} needs its value.", f"`{shown}` lists its options and their values."
    as_flags = [f for f in flags if command in (None, "run", "check") and _a_setting(f) and _dashed(f) not in options]
    if as_flags:
        return (
            f"{prog} does not take settings as flags ({', '.join(as_flags)}): that is the reference's "
            "pydantic-settings command line.",
            'Give the same keys as JSON: --job-settings \'{"output_dir": "out", "subject_id": "123456"}\' '
            "(or put them in a file for --settings-file); a few have flags of their own, such as --output-dir. "
            f"`{shown}` lists them.",
        )
    dashed = _dashed(first)
    close = f" (did you mean '{dashed}'?)" if dashed != first and dashed in options else did_you_mean(first, options)
    return f"{prog} does not know {' '.join(words)}{close if first else ''}.", f"`{shown}` lists its options."


def _dashed(flag: str) -> str:
    return "--" + flag[2:].replace("_", "-")


def _a_setting(flag: str) -> bool:
    """`--output_dir`, `--data_description_settings.project_name`: a settings key written as a flag."""
    from gather_job.settings.model import JobSettings

    return flag[2:].split(".", 1)[0].replace("-", "_") in JobSettings.model_fields and "_" in flag
