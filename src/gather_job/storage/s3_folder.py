"""An S3 prefix read as an asset folder (`metadata_dir: s3://bucket/prefix/`), never modified.

Its entries are the prefix's direct children (list_objects_v2 with Delimiter="/"): objects are
files, common prefixes are folders. The resolution rules are the local folder's, because the job
only sees names and bytes. A read is refused above `max_bytes`; one unreadable object is an
`InputProblem` (a finding), while an unreachable store is a ServiceError (exit 4). Keys may hold
control characters (a newline, an ANSI escape): such names come out escaped and are not read, as in
a local folder (`folder.shown_name`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gather_job import aws
from gather_job.errors import GatherError, UsageError
from gather_job.storage.folder import MAX_BYTES, InputProblem, shown_name
from gather_job.storage.s3uri import S3Uri


@dataclass
class Listing:
    """A prefix's direct children: object names with their sizes, and sub-prefix names."""

    objects: dict[str, int] = field(default_factory=dict)
    folders: set[str] = field(default_factory=set)


def list_children(client: Any, uri: S3Uri, setting: str) -> Listing:
    listing = Listing()
    where = f"{setting} {uri}"
    with aws.translated("listing", where, permission=f"s3:ListBucket on {uri.bucket}"):
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=uri.bucket, Prefix=uri.prefix, Delimiter="/")
        for page in pages:
            for item in page.get("Contents", []):
                name = str(item["Key"])[len(uri.prefix) :]
                if name:  # "" is the prefix's own folder marker
                    listing.objects[name] = int(item.get("Size", 0))
            for common in page.get("CommonPrefixes", []):
                listing.folders.add(str(common["Prefix"])[len(uri.prefix) :].rstrip("/"))
    return listing


@dataclass
class S3Folder:
    """An asset's metadata under an S3 prefix. `missing_ok` lets an empty output prefix count as empty."""

    uri: S3Uri
    client: Any
    setting: str = "metadata_dir"
    missing_ok: bool = False
    max_bytes: int = MAX_BYTES
    _listing: Listing = field(default_factory=Listing, init=False, repr=False)
    _escaped: set[str] = field(default_factory=set, init=False, repr=False)  # names shown escaped, never read

    @property
    def label(self) -> str:
        return self.uri.label

    def location(self, name: str) -> str:
        return self.uri.url(name)

    def names(self) -> list[str]:
        self._listing = list_children(self.client, self.uri, self.setting)
        listed = set(self._listing.objects) | self._listing.folders
        self._escaped = {shown_name(name) for name in listed if shown_name(name) != name}
        names = sorted({shown_name(name) for name in listed})
        if not names and not self.missing_ok:
            raise UsageError(
                f"{self.setting} '{self.uri}' holds no objects.",
                hint="Check the bucket and the prefix (keys are case-sensitive; the prefix is the asset's folder, "
                "e.g. s3://bucket/123456_2024-03-05_14-20-00/).",
            )
        return names

    def subfolders(self) -> list[str]:
        """The prefix's sub-prefixes (a modality's data sits under one), from the last listing."""
        return sorted(shown_name(name) for name in self._listing.folders)

    def names_below(self, name: str) -> list[str]:
        """A sub-prefix's direct children, for a hint only: one listing; [] when it cannot be listed."""
        if name in self._escaped:
            return []
        try:
            listing = list_children(self.client, S3Uri(self.uri.bucket, self.uri.key(name) + "/"), self.setting)
        except GatherError:
            return []
        return sorted(shown_name(entry) for entry in set(listing.objects) | listing.folders)

    def is_empty(self, name: str) -> bool:
        """Whether a sub-prefix holds no object but its own folder marker (`name/`): one small listing."""
        if name in self._escaped:
            return False
        key = self.uri.key(name) + "/"
        with aws.translated("listing", self.uri.url(name + "/"), permission=f"s3:ListBucket on {self.uri.bucket}"):
            page = self.client.list_objects_v2(Bucket=self.uri.bucket, Prefix=key, MaxKeys=2)
        return all(str(item["Key"]) == key for item in page.get("Contents", []))

    def read(self, name: str) -> bytes:
        if name in self._escaped or not name.isprintable():
            raise InputProblem(
                "gather.file.bad_name",
                f"'{name}' is not a usable object name: it holds control characters (shown escaped); it was not read.",
                "Rename the object to a plain name such as acquisition_ephys.json.",
            )
        where = self.uri.url(name)
        if name in self._listing.folders and name not in self._listing.objects:
            marker = self.is_empty(name)  # only `name/` itself: a folder marker a console or a sync tool made
            raise InputProblem(
                "gather.file.not_a_file",
                f"{where} is a prefix (a folder), not an object"
                + (": only the folder marker object {where}/ is there." if marker else ", with objects under it."),
                f"Delete the marker object (aws s3 rm {where}/) and upload the file as {where}."
                if marker
                else f"Move the objects under {where}/ elsewhere, and upload the file as {where}.",
            )
        size = self._listing.objects.get(name, 0)
        if size > self.max_bytes:
            raise self._too_large(name, size)
        try:
            with aws.translated("reading", where, permission="s3:GetObject"):
                response = self.client.get_object(Bucket=self.uri.bucket, Key=self.uri.key(name))
                size = int(response.get("ContentLength", 0))
                if size > self.max_bytes:
                    response["Body"].close()
                    raise self._too_large(name, size)
                return bytes(response["Body"].read(self.max_bytes + 1))
        except aws.NotFound as exc:
            raise InputProblem(
                "gather.file.unreadable", f"{where} was deleted while the job ran.", "Run the job again."
            ) from exc
        except UsageError as exc:  # e.g. access denied on this one object: a finding, the others are still read
            raise InputProblem("gather.file.unreadable", exc.message, exc.hint or "Check its permissions.") from exc

    def _too_large(self, name: str, size: int) -> InputProblem:
        return InputProblem(
            "gather.file.too_large",
            f"{name} is {size} bytes, above the {self.max_bytes}-byte limit.",
            "Metadata files are small JSON documents; is this the right object?",
        )
