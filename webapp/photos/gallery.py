"""The gallery's choices (search, sort, album) and what people do with several photos at once:
download them as one ZIP, streamed, or delete them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import PurePosixPath

from asgiref.sync import sync_to_async
from django.db.models import QuerySet
from django.db.models.functions import Lower
from zipstream import ZIP_STORED, ZipStream

from webapp.core.jobs import JobState
from webapp.photos.models import Colorization, Photo

# ?sort= -> (ordering, label). Ties on a name keep the newest first.
SORTS = {
    "newest": (("-created_at",), "Newest first"),
    "oldest": (("created_at",), "Oldest first"),
    "name": ((Lower("original_name"), "-created_at"), "Name A–Z"),
    "name-desc": ((Lower("original_name").desc(), "-created_at"), "Name Z–A"),
}
DEFAULT_SORT = "newest"
READ_CHUNK = 256 * 1024  # bytes read from storage at a time while a ZIP streams
ASYNC_BATCH = 4 * 1024 * 1024  # bytes gathered per hop to a thread when the ZIP is served over ASGI


def sort_key(value: str | None) -> str:
    return value if value in SORTS else DEFAULT_SORT


def photos_for_gallery(user, *, query: str = "", sort: str = DEFAULT_SORT, album=None) -> QuerySet[Photo]:
    """`user`'s own photos (the gallery shows nobody else's, staff included), searched by name and sorted."""
    photos = Photo.objects.filter(owner=user)
    if album is not None:
        photos = photos.filter(albums=album)
    query = query.strip()
    if query:
        photos = photos.filter(original_name__icontains=query)
    return photos.order_by(*SORTS[sort_key(sort)][0])


def selected_photos(user, ids: Iterable[str], *, everything: bool = False, query: str = "",
                    album=None) -> QuerySet[Photo]:
    """The photos of `user` a bulk action is about: the ids ticked (others' and malformed ids are
    ignored), or with `everything` all that the gallery's search (and album) shows."""
    if everything:
        return photos_for_gallery(user, query=query, album=album)
    wanted = []
    for value in ids:
        try:
            wanted.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return Photo.objects.filter(owner=user, pk__in=wanted).order_by("-created_at")


def newest_results(photos: Iterable[Photo]) -> dict:
    """photo id -> its newest finished colorization (the one a download means)."""
    newest = {}
    done = Colorization.objects.filter(photo__in=list(photos), state=JobState.DONE).exclude(result="")
    for job in done.order_by("photo", "-created_at"):
        newest.setdefault(job.photo_id, job)
    return newest


def _stored_chunks(file) -> Iterator[bytes]:
    """A stored file, opened only when the ZIP reaches it and read in chunks."""
    with file.storage.open(file.name, "rb") as handle:
        while chunk := handle.read(READ_CHUNK):
            yield chunk


def _safe(name: str) -> str:
    return name.replace("/", "_").replace("\\", "_").strip() or "photo"


class _Names:
    """Unique names inside the archive: a second "scan.png" becomes "scan (2).png"."""

    def __init__(self):
        self.used: set[str] = set()

    def __call__(self, name: str) -> str:
        path = PurePosixPath(name)
        candidate, number = name, 1
        while candidate.lower() in self.used:
            number += 1
            candidate = str(path.with_name(f"{path.stem} ({number}){path.suffix}"))
        self.used.add(candidate.lower())
        return candidate


def photos_zip(photos: Iterable[Photo], *, originals: bool = False) -> tuple[ZipStream, int]:
    """A ZIP of each photo's newest result at full resolution (PNG), and with `originals` the uploaded files
    under originals/. Nothing is read until the stream is iterated, one file at a time, so memory stays
    flat however many photos it holds. Stored uncompressed (PNG and JPEG are compressed already), so its
    length is known before it starts. Returns (stream, number of files in it)."""
    photos = list(photos)
    results = newest_results(photos)
    archive = ZipStream(compress_type=ZIP_STORED, sized=True)
    name = _Names()
    count = 0
    for photo in photos:
        job = results.get(photo.pk)
        if job is not None:
            archive.add(_stored_chunks(job.result), name(f"{_safe(photo.stem)}-colorized.png"), size=job.result.size)
            count += 1
        if originals:
            archive.add(_stored_chunks(photo.original), name(f"originals/{_safe(photo.original_name)}"),
                        size=photo.size)
            count += 1
    return archive, count


async def in_threads(stream: Iterable[bytes]) -> AsyncIterator[bytes]:
    """A synchronous stream served over ASGI chunk by chunk: Django would otherwise read a synchronous
    iterator to its end, into memory, before sending the first byte."""
    iterator = iter(stream)

    def gather() -> bytes:
        parts, size = [], 0
        for part in iterator:
            parts.append(part)
            size += len(part)
            if size >= ASYNC_BATCH:
                break
        return b"".join(parts)

    while chunk := await sync_to_async(gather, thread_sensitive=False)():
        yield chunk
