"""Checking a dataset's photos and recording what was kept and why the rest was skipped.

An uploaded archive is validated as a whole (webapp.finetune.archive) before anything is
extracted; each member is then decoded, and only real colour photos are stored, under
names we choose. A server folder is walked without following links and never copied:
its manifest lists the accepted files by their path relative to the folder.
"""

from __future__ import annotations

import io
import json
import os
import stat
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image, UnidentifiedImageError

from colorizer.photos import IMAGE_EXTENSIONS
from webapp.core.sizes import describe_size_and_limit
from webapp.finetune.archive import MiB, ArchiveLimits, ArchiveRejected, inspect, open_archive, read_members

IMAGE_SUFFIXES = frozenset(IMAGE_EXTENSIONS)  # the engine's list: what training can read
MIN_SIDE = 64  # smaller photos carry too little to learn colour from
THUMBNAIL_COUNT = 12
THUMBNAIL_SIZE = 160
MAX_SKIP_EXAMPLES = 500


class DatasetRejected(ValueError):
    """The dataset as a whole cannot be used; the message says why, for a person."""


@dataclass
class IngestReport:
    kept: list[str] = field(default_factory=list)  # storage names (archive) or relative paths (folder)
    folder: str = ""  # a server folder's resolved path: what the relative paths are relative to
    skipped: list[dict] = field(default_factory=list)  # [{"name": ..., "reason": ...}]
    thumbnails: list[str] = field(default_factory=list)

    def skip(self, name: str, reason: str) -> None:
        self.skipped.append({"name": name, "reason": reason})

    @property
    def skipped_by_reason(self) -> dict[str, int]:
        return dict(Counter(item["reason"] for item in self.skipped).most_common())


def archive_limits() -> ArchiveLimits:
    return ArchiveLimits(
        max_files=settings.DATASET_MAX_FILES,
        max_total_bytes=settings.DATASET_MAX_BYTES,
        max_member_bytes=settings.DATASET_MAX_PHOTO_BYTES,
    )


def check_archive_size(size: int) -> None:
    """ArchiveRejected when the uploaded file itself is over DATASET_MAX_ARCHIVE_BYTES."""
    limit = settings.DATASET_MAX_ARCHIVE_BYTES
    if size > limit:
        size_label, limit_label = describe_size_and_limit(size, limit)
        raise ArchiveRejected(f"the archive is {size_label}; the limit is {limit_label}")


def name_reason(name: str) -> str:
    """Why a file is skipped by its name alone (before anything reads it), or ""."""
    if PurePosixPath(name).name.startswith(".") or "__MACOSX" in name:
        return "system file"
    if PurePosixPath(name).suffix.lower() not in IMAGE_SUFFIXES:
        return "not a photo file"
    return ""


def judge_photo(name: str, data: bytes) -> tuple[Image.Image | None, str]:
    """(decoded image, "") for a usable colour photo, else (None, reason)."""
    from colorizer.data import is_grayscale

    reason = name_reason(name)
    if reason:
        return None, reason
    try:
        image = Image.open(io.BytesIO(data))
        width, height = image.size
        if width * height > settings.UPLOAD_MAX_PIXELS:
            return None, "too many pixels"
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None, "unreadable image"
    if min(width, height) < MIN_SIDE:
        return None, f"smaller than {MIN_SIDE} px"
    image = image.convert("RGB")
    if is_grayscale(image):
        return None, "already black-and-white"
    return image, ""


def _thumbnail(image: Image.Image, name: str) -> str:
    thumb = image.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=82)
    return default_storage.save(name, ContentFile(buffer.getvalue()))


def ingest_archive(dataset) -> IngestReport:
    """Validate the dataset's uploaded archive, then store its colour photos under our own names."""
    report = IngestReport()
    check_archive_size(dataset.archive.size)
    with dataset.archive.open("rb") as upload:
        archive = open_archive(upload)
        members = inspect(archive, archive_limits())
        for member, data, error in read_members(archive, members):
            if data is None:
                report.skip(member.name, error)
                continue
            image, reason = judge_photo(member.name, data)
            if image is None:
                report.skip(member.name, reason)
                continue
            index = len(report.kept)
            suffix = PurePosixPath(member.name).suffix.lower()
            stored = default_storage.save(f"{dataset.storage_prefix}/photos/{index:06d}{suffix}", ContentFile(data))
            report.kept.append(stored)
            if len(report.thumbnails) < THUMBNAIL_COUNT:
                report.thumbnails.append(_thumbnail(image, f"{dataset.storage_prefix}/thumbs/{index:06d}.jpg"))
    return report


def allowed_folder(path: str) -> Path:
    """The folder, resolved, if it lies under one of settings.DATASET_FOLDER_ROOTS."""
    if not path or not os.path.isabs(path):
        raise DatasetRejected("give the folder's absolute path on the server")
    resolved = Path(path).resolve()
    for root in settings.DATASET_FOLDER_ROOTS:
        root = Path(root).resolve()
        if resolved == root or root in resolved.parents:
            if not resolved.is_dir():
                raise DatasetRejected(f"{path} is not a folder on the server")
            return resolved
    roots = ", ".join(str(root) for root in settings.DATASET_FOLDER_ROOTS) or "(none configured)"
    raise DatasetRejected(f"{path} is outside the folders datasets may come from: {roots}")


def photo_in_folder(root: Path, name: str) -> Path:
    """The file `name` (relative, from a manifest) resolves to, if it still lies inside `root`."""
    path = (root / name).resolve()
    if root not in path.parents:
        raise DatasetRejected(f"{name} now leads outside the dataset's folder {root}")
    return path


def read_regular_file(path: Path) -> bytes | None:
    """The file's bytes, or None unless it is a regular file (a FIFO would block the worker for ever, a
    device would never end), checked on the open descriptor so nothing can swap it in after the check."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return None
        return handle.read(settings.DATASET_MAX_PHOTO_BYTES + 1)


def ingest_folder(dataset) -> IngestReport:
    """Check every photo under the dataset's server folder, without following links or copying."""
    root = allowed_folder(dataset.folder)
    report = IngestReport(folder=str(root))
    count = 0
    for directory, subdirectories, files in os.walk(root, followlinks=False):
        subdirectories.sort()
        for file_name in sorted(files):
            path = Path(directory) / file_name
            relative = path.relative_to(root).as_posix()
            count += 1
            if count > settings.DATASET_MAX_FILES:
                raise DatasetRejected(f"the folder holds more than {settings.DATASET_MAX_FILES:,} files")
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                report.skip(relative, "link (not followed)")
                continue
            if not stat.S_ISREG(info.st_mode):
                report.skip(relative, "not a regular file")
                continue
            reason = name_reason(relative)
            if reason:
                report.skip(relative, reason)
                continue
            if info.st_size > settings.DATASET_MAX_PHOTO_BYTES:
                report.skip(relative, "file too large")
                continue
            data = read_regular_file(path)
            if data is None:
                report.skip(relative, "not a regular file")
                continue
            if len(data) > settings.DATASET_MAX_PHOTO_BYTES:  # it grew since
                report.skip(relative, "file too large")
                continue
            image, reason = judge_photo(relative, data)
            if image is None:
                report.skip(relative, reason)
                continue
            report.kept.append(relative)
            if len(report.thumbnails) < THUMBNAIL_COUNT:
                index = len(report.kept) - 1
                report.thumbnails.append(_thumbnail(image, f"{dataset.storage_prefix}/thumbs/{index:06d}.jpg"))
    return report


def write_manifest(dataset, report: IngestReport) -> None:
    payload = {"source": dataset.source, "folder": report.folder, "photos": report.kept}
    if default_storage.exists(dataset.manifest_name):
        default_storage.delete(dataset.manifest_name)
    default_storage.save(dataset.manifest_name, ContentFile(json.dumps(payload).encode()))


def read_manifest(dataset) -> dict:
    with default_storage.open(dataset.manifest_name, "rb") as handle:
        return json.load(handle)


__all__ = ["ArchiveRejected", "DatasetRejected", "IngestReport", "ingest_archive", "ingest_folder",
           "judge_photo", "write_manifest", "read_manifest", "allowed_folder", "photo_in_folder",
           "check_archive_size", "MAX_SKIP_EXAMPLES"]
