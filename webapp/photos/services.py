"""Photos on the web side: who sees what, uploads, queueing colorizations, deleting. Running them in a
worker, and rescuing lost ones: webapp.photos.colorizing."""

from __future__ import annotations

import logging
import secrets
import uuid

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import QuerySet
from django.http import Http404
from django.shortcuts import get_object_or_404

from webapp.core import queue
from webapp.core.jobs import UNFINISHED
from webapp.photos import events, images
from webapp.photos.models import Album, Colorization, Photo
from webapp.registry.models import ModelVersion

log = logging.getLogger(__name__)
# Who opened another user's photo (staff with photos.view_any_photo), one line per view.
audit = logging.getLogger("webapp.audit")
VIEW_ANY_PHOTO = "photos.view_any_photo"


# --- Who sees what ---------------------------------------------------------------------


def may_view_any_photo(user) -> bool:
    """Staff granted photos.view_any_photo (explicitly, or as superusers); being staff is not enough."""
    return user.is_authenticated and user.is_active and user.is_staff and user.has_perm(VIEW_ANY_PHOTO)


def photos_of(user, *, viewing: bool = True) -> QuerySet[Photo]:
    """The photos `user` may see (`viewing`) or change: their own; staff with photos.view_any_photo may
    view every photo, and change none but their own."""
    if not user.is_authenticated:
        return Photo.objects.none()
    return Photo.objects.all() if viewing and may_view_any_photo(user) else Photo.objects.filter(owner=user)


def colorizations_of(user) -> QuerySet[Colorization]:
    if not user.is_authenticated:
        return Colorization.objects.none()
    everything = Colorization.objects.select_related("photo", "model_version")
    return everything if may_view_any_photo(user) else everything.filter(photo__owner=user)


def get_photo_for(user, photo_id, *, viewing: bool = True, what: str = "photo") -> Photo:
    """The photo, or 404 when it does not exist or `user` may not see it (change it, unless `viewing`).
    Another user's photo opened with photos.view_any_photo is written to the audit log."""
    photo = get_object_or_404(photos_of(user, viewing=viewing), pk=photo_id)
    log_other_users_photo(user, photo, what)
    return photo


def get_colorization_for(user, colorization_id, *, what: str = "result") -> Colorization:
    job = get_object_or_404(colorizations_of(user), pk=colorization_id)
    log_other_users_photo(user, job.photo, f"{what} {job.pk}")
    return job


def get_album_for(user, album_id) -> Album:
    """`user`'s album, or 404 (someone else's, a deleted one, or not an album id at all)."""
    try:
        album_id = uuid.UUID(str(album_id))
    except ValueError:
        raise Http404("No such album.") from None
    return get_object_or_404(Album, pk=album_id, owner=user)


def log_other_users_photo(user, photo: Photo, what: str) -> None:
    if photo.owner_id != user.pk:
        audit.info("user %s (id %s) viewed the %s of photo %s, owned by user id %s", user.get_username(), user.pk,
                   what, photo.pk, photo.owner_id)


def unfinished_jobs(user) -> list[Colorization]:
    """The user's own queued and running jobs, oldest first (what a page is waiting for)."""
    return list(
        Colorization.objects.select_related("photo").filter(photo__owner=user, state__in=UNFINISHED)
        .order_by("created_at")
    )


def latest_colorizations(photos: list[Photo]) -> dict:
    """photo id -> its newest colorization, for a page of photos, in one query."""
    latest = {}
    for job in Colorization.objects.filter(photo__in=photos).select_related("photo").order_by("photo", "-created_at"):
        latest.setdefault(job.photo_id, job)
    return latest


# --- Uploads and requests ------------------------------------------------------------------


def default_render_size() -> int:
    return settings.COLORIZE_RENDER_SIZES[0]


def accept_upload(owner, upload: UploadedFile) -> Photo:
    """Check an uploaded file, store it with its renditions and queue its colorization.

    Raises images.UploadRejected (nothing stored) when the file cannot be used. The stored files are
    removed only when the rows did not commit: once they have, nothing (an event or task send after
    the commit, the request being cancelled) can leave a photo without its files.
    """
    inspected = images.inspect_upload(
        upload, upload.size, max_bytes=settings.UPLOAD_MAX_BYTES, max_pixels=settings.UPLOAD_MAX_PIXELS
    )
    name = (upload.name or "photo").replace("\x00", "")[-255:]
    photo = Photo(owner=owner, original_name=name, format=inspected.format, width=inspected.width,
                  height=inspected.height, size=upload.size, notes=inspected.notes)
    stored = []
    committed = []
    try:
        upload.seek(0)
        photo.original.save(name, upload, save=False)
        stored.append(photo.original.name)
        photo.thumbnail.save("thumbnail.jpg", ContentFile(images.rendition(inspected.image, images.THUMBNAIL_SIDE)),
                             save=False)
        stored.append(photo.thumbnail.name)
        photo.preview.save("preview.jpg", ContentFile(images.rendition(inspected.image, images.PREVIEW_SIDE)),
                           save=False)
        stored.append(photo.preview.name)
        with transaction.atomic():
            photo.save()
            transaction.on_commit(lambda: committed.append(True))  # the first callback of the commit
            request_colorization(photo, render_size=default_render_size())
    except BaseException:
        if not committed:
            for stored_name in stored:  # a failed upload leaves nothing behind
                default_storage.delete(stored_name)
        raise
    log.info("user %s uploaded photo %s (%dx%d %s)", owner.pk, photo.pk, photo.width, photo.height, photo.format)
    return photo


def request_colorization(photo: Photo, *, render_size: int, seed: int | None = None,
                         version: ModelVersion | None = None, intensity: float = 1.0,
                         hints: list[dict] | None = None) -> Colorization:
    """Queue a colorization of `photo` (with colour hints already checked by webapp.photos.hints); its task
    is sent once the transaction commits."""
    job = Colorization.objects.create(photo=photo, render_size=render_size, seed=seed, requested_version=version,
                                      intensity=intensity, hints=hints or [])
    job.photo = photo
    # Tell the page first: once the task is sent, a worker may already report "running". Each runs on its
    # own (robust: an error is logged): a failed event never keeps the task from being sent.
    transaction.on_commit(lambda: events.job_changed(job), robust=True)
    transaction.on_commit(lambda: send_task(job), robust=True)
    return job


def new_variation_seed() -> int:
    return secrets.randbelow(2**31 - 1) + 1


def send_task(job: Colorization) -> None:
    """Send the job's task message. If the broker is down the job stays queued and the reaper sends it later."""
    try:
        queue.send(queue.COLORIZE_PHOTO, job.pk)
    except Exception:
        log.warning("could not send colorization %s to the broker; the reaper will retry", job.pk, exc_info=True)


def delete_photo(photo: Photo) -> None:
    """Delete a photo, its colorizations and every file of them (see signals)."""
    with transaction.atomic():
        photo.delete()
        transaction.on_commit(lambda: events.photo_deleted(photo))
