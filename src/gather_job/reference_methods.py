"""The reference GatherMetadataJob's per-file methods, for code written for it.

Scripts written for aind-metadata-mapper call `job.get_acquisition()` or `job.get_instrument()` to
look at one file before, or instead of, `run_job()`. Here each answer comes from one gather of the
job, made on the first call and kept, and nothing is written: the files are the ones `run_job()`
would write, merged, joined with the service and validated the same way, as JSON dicts. A file the
asset does not have is None. A file that failed validation is returned as it was read, as the
reference returns what it reads. A `subject_id` other than the settings' gets a gather of its own
for that subject; `build_data_description`'s arguments are accepted, but the job's settings and files
decide, as in `run_job()`. A service that fails raises ServiceError, as `run_job()` does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from gather_job.pipeline.documents import Gathered

if TYPE_CHECKING:
    from gather_job.settings.model import JobSettings


class ReferenceMethods:
    """Mixed into GatherMetadataJob, which provides `_gather`."""

    _for_methods: Gathered | None = None
    job_settings: JobSettings

    def _gather(self, mode: Literal["run", "check"]) -> Gathered:  # pragma: no cover - GatherMetadataJob's
        raise NotImplementedError

    def _file(self, kind: str, subject_id: str | None = None) -> dict[str, Any] | None:
        if subject_id and subject_id != self.job_settings.subject_id:  # another subject: its own gather
            other = type(self)(self.job_settings.model_copy(update={"subject_id": subject_id}))  # type: ignore[call-arg]
            return other._file(kind)
        if self._for_methods is None:
            self._for_methods = self._gather("run")
        doc = self._for_methods.documents.get(kind)
        if doc is None:
            return None
        if doc.model is not None:
            found: dict[str, Any] = doc.model.model_dump(mode="json")
            return found
        return doc.data if isinstance(doc.data, dict) else None

    def get_subject(self, subject_id: str | None = None) -> dict[str, Any] | None:
        """subject.json: the folder's, else the service's (for `subject_id`, if given)."""
        return self._file("subject", subject_id)

    def get_procedures(self, subject_id: str | None = None) -> dict[str, Any] | None:
        """procedures.json: the folder's joined with the service's (for `subject_id`, if given)."""
        return self._file("procedures", subject_id)

    def get_acquisition(self) -> dict[str, Any] | None:
        """acquisition.json, or the acquisition*.json parts merged (a rig mapper's part included)."""
        return self._file("acquisition")

    def get_instrument(self) -> dict[str, Any] | None:
        """instrument.json, or the instrument*.json parts (and the service's instrument_id) merged."""
        return self._file("instrument")

    def get_processing(self) -> dict[str, Any] | None:
        return self._file("processing")

    def get_quality_control(self) -> dict[str, Any] | None:
        return self._file("quality_control")

    def get_model(self) -> dict[str, Any] | None:
        return self._file("model")

    def build_data_description(
        self, acquisition_start_time: Any = None, subject_id: str | None = None
    ) -> dict[str, Any] | None:
        """data_description.json: the folder's, else built from the settings and the service."""
        return self._file("data_description")

    def get_funding(self) -> list[Any]:
        """The data description's funding sources ([] when there is none)."""
        return list((self._file("data_description") or {}).get("funding_source") or [])

    def get_investigators(self) -> list[Any]:
        """The data description's investigators ([] when there is none)."""
        return list((self._file("data_description") or {}).get("investigators") or [])
