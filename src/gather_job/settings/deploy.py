"""The Task an operator stores so the transfer service runs gather-job as its gather task.

The pipeline (aind-airflow-jobs 0.4.3, `update_command_script`) turns a stored Task into a bash
script for a Slurm job by plain string replacement, and picks the settings shape from the image
name (`get_gather_preliminary_metadata_settings`). Both rules are reproduced here, without network,
so `gather-job job-types template` can print a Task that works and tests can run what it renders.

Why a quoted heredoc: the reference's `--job-settings ' %JOB_SETTINGS '` ends the shell quote at
the first apostrophe in any setting ("mouse's first session") and the job fails or runs on wrong
settings. `json.dumps` gives one ASCII line, so the delimiter line cannot occur inside it, and a
quoted heredoc expands nothing: the settings reach gather-job's standard input byte for byte.
`singularity exec` passes its standard input to the container's command.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from gather_job import __version__
from gather_job.errors import UsageError

DEFAULT_IMAGE = "ghcr.io/allenneuraldynamics/gather-job"
HEREDOC_END = "GATHER_JOB_SETTINGS_END"
COMMAND_SCRIPT = (
    "#!/bin/bash\n"
    "singularity exec --cleanenv docker://%IMAGE:%IMAGE_VERSION"
    f" python -m gather_job run --settings-file - <<'{HEREDOC_END}'\n"
    "%JOB_SETTINGS\n"
    f"{HEREDOC_END}\n"
)
# every placeholder the pipeline refuses to leave in a rendered script, in its order
PLACEHOLDERS = (
    "%JOB_SETTINGS",
    "%IMAGE_VERSION",
    "%IMAGE",
    "%INPUT_SOURCE",
    "%OUTPUT_LOCATION",
    "%S3_LOCATION",
    "%ENV_FILE",
)
V0_RULE = (
    "the transfer service sends the old v0 settings to an image whose name contains 'aind-metadata-mapper' "
    "unless its version starts with '1.' or 'v1-'"
)
# the script puts image and version into `docker://IMAGE:VERSION` unquoted: shell-inert characters only
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:-]*")
_VERSION = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


def render(command_script: str, job_settings: Mapping[str, Any], image: str, image_version: str) -> str:
    """The script the pipeline runs: its replacements, in its order (to test and to preview a Task).

    A setting whose text holds a placeholder is rewritten as the pipeline rewrites it; a placeholder
    left over is refused here with a UsageError (the pipeline raises ValueError there).
    """
    script = command_script.replace("%JOB_SETTINGS", json.dumps(job_settings))
    script = script.replace("%IMAGE_VERSION", image_version).replace("%IMAGE", image)
    left = [name for name in PLACEHOLDERS if name in script]
    if left:
        raise UsageError(
            f"The command_script still holds {', '.join(left)} after the pipeline's replacements; "
            "the transfer service would refuse to run it.",
            hint="Use only %JOB_SETTINGS, %IMAGE_VERSION and %IMAGE in a gather task's command_script.",
        )
    return script


def image_shape(image: str, image_version: str) -> Literal["v0", "v1"]:
    """Which settings shape the pipeline sends this image: only v1 is gather-job's (JobSettings)."""
    if "aind-metadata-mapper" in image and not image_version.startswith(("v1-", "1.")):
        return "v0"
    return "v1"


def task(
    image: str = DEFAULT_IMAGE,
    image_version: str = __version__,
    job_settings: Mapping[str, Any] | None = None,
    image_resources: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The gather task to store for a job_type; UsageError for an image that would get v0 settings.

    `job_settings` are the presets (already checked as settings by the caller); `image_resources`
    is left out unless given, so the service's own default applies.
    """
    if not _IMAGE.fullmatch(image):
        raise UsageError(
            f"Image '{image}' is not a container image name the command_script can use.",
            hint="Give a name such as ghcr.io/allenneuraldynamics/gather-job (no spaces or shell characters).",
        )
    if not _VERSION.fullmatch(image_version):
        raise UsageError(
            f"Image version '{image_version}' is not a container image tag.",
            hint="Give a tag such as 0.1.0 (letters, digits, '.', '_', '-').",
        )
    if image_shape(image, image_version) == "v0":
        raise UsageError(
            f"Image '{image}' with version '{image_version}' would receive the v0 settings, "
            f"which gather-job refuses: {V0_RULE}.",
            hint=f"Publish gather-job under a name without 'aind-metadata-mapper' (e.g. {DEFAULT_IMAGE}), "
            "or tag it with a version starting with '1.' or 'v1-'.",
        )
    presets = dict(job_settings or {})
    placeholders = [name for name in PLACEHOLDERS if name in json.dumps(presets)]
    if placeholders:
        raise UsageError(
            f"The job_settings contain the text {placeholders[0]}, which the transfer service replaces "
            "or refuses in every command_script.",
            hint=f"Write the value without '{placeholders[0]}'.",
        )
    stored: dict[str, Any] = {"skip_task": False, "image": image, "image_version": image_version}
    if image_resources is not None:
        stored["image_resources"] = dict(image_resources)
    stored["job_settings"] = presets
    stored["command_script"] = COMMAND_SCRIPT
    return stored
