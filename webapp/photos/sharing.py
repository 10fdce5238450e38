"""Share links: an owner makes a read-only link to one photo or one album; whoever has the link sees the
before/after and can download the result, and nothing else (no name of the owner, no other photo, no
settings). Links are unguessable (256 random bits), revocable, and may expire; a dead link is a 404, the
same answer as a link that never existed."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from webapp.photos import gallery, services
from webapp.photos.views.files import small_image, stream
from webapp.photos.models import Photo, ShareLink

EXPIRY_CHOICES = {"": "Until I revoke it", "1": "1 day", "7": "7 days", "30": "30 days"}
SHARED_PAGE_HEADERS = {
    "Referrer-Policy": "no-referrer",  # the token is in the URL: never pass it on to another site
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "private, no-store",
}
SHARED_FILE_CACHE = "private, max-age=60"  # a revoked link stops working within a minute, even in a browser


def live_links(**owner_and_target):
    now = timezone.now()
    return ShareLink.objects.filter(revoked_at__isnull=True, **owner_and_target).exclude(expires_at__lte=now)


def create_link(request, *, photo=None, album=None) -> ShareLink:
    days = request.POST.get("expires_in", "")
    expires_at = timezone.now() + timedelta(days=int(days)) if days in EXPIRY_CHOICES and days else None
    link = ShareLink.objects.create(owner=request.user, photo=photo, album=album, expires_at=expires_at)
    messages.success(request, "Share link made. Anyone who has it can see the before and after and download "
                              "the result" + (" of every photo in the album" if album else "") + ", until you revoke it"
                              + (f" or it expires ({EXPIRY_CHOICES[days]})." if expires_at else "."))
    return link


@login_required
@require_POST
def share_photo(request, photo_id):
    photo = get_object_or_404(Photo, pk=photo_id, owner=request.user)  # only the owner shares, not staff
    create_link(request, photo=photo)
    return redirect(photo)


@login_required
@require_POST
def share_album(request, album_id):
    album = services.get_album_for(request.user, album_id)
    create_link(request, album=album)
    return redirect(album)


@login_required
@require_POST
def revoke(request, link_id):
    link = get_object_or_404(ShareLink, pk=link_id, owner=request.user)
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    messages.success(request, "Share link revoked: it no longer shows anything.")
    return redirect(link.photo or link.album)


# --- What the link shows ---------------------------------------------------------------------------


def resolve(token: str, photo_id=None) -> tuple[ShareLink, Photo | None]:
    """The live link and the photo it lets someone see (for an album link, one of the album's photos now);
    404 for anything else."""
    link = ShareLink.objects.select_related("photo", "album").filter(token=token).first()
    if link is None or not link.is_live:
        raise Http404("This link does not exist, was revoked or has expired.")
    if link.photo is not None:
        if photo_id is not None and photo_id != link.photo_id:
            raise Http404("No such photo.")
        return link, link.photo
    if photo_id is None:
        return link, None
    photo = link.album.photos.filter(pk=photo_id, owner=link.owner).first()
    if photo is None:
        raise Http404("No such photo.")
    return link, photo


def with_headers(response, headers: dict):
    for name, value in headers.items():
        response[name] = value
    return response


def not_shared(request):
    return with_headers(render(request, "photos/shared_gone.html", status=404), SHARED_PAGE_HEADERS)


@require_GET
def shared(request, token, photo_id=None):
    try:
        link, photo = resolve(token, photo_id)
    except Http404:
        return not_shared(request)
    if photo is None:  # an album
        photos = list(link.album.photos.filter(owner=link.owner).order_by("created_at"))
        results = gallery.newest_results(photos)
        context = {"link": link, "album": link.album, "cards": [(item, results.get(item.pk)) for item in photos]}
        return with_headers(render(request, "photos/shared_album.html", context), SHARED_PAGE_HEADERS)
    result = gallery.newest_results([photo]).get(photo.pk)
    context = {"link": link, "photo": photo, "result": result, "album": link.album}
    return with_headers(render(request, "photos/shared_photo.html", context), SHARED_PAGE_HEADERS)


def shared_file(file, content_type: str = "image/jpeg"):
    response = small_image(file) if content_type == "image/jpeg" else stream(file, content_type)
    response["Cache-Control"] = SHARED_FILE_CACHE
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
def shared_image(request, token, photo_id, kind):
    """before.jpg / after.jpg (the slider's previews) and before-small.jpg / after-small.jpg (an album's grid)."""
    try:
        _, photo = resolve(token, photo_id)
    except Http404:
        raise Http404("No such file.") from None
    if kind not in ("before", "after", "before-small", "after-small"):
        raise Http404("No such file.")
    if kind.startswith("before"):
        return shared_file(photo.preview if kind == "before" else photo.thumbnail)
    result = gallery.newest_results([photo]).get(photo.pk)
    if result is None:
        raise Http404("No result yet.")
    return shared_file(result.result_preview if kind == "after" else result.result_thumbnail)


@require_GET
def shared_download(request, token, photo_id):
    """The newest result at full resolution (PNG)."""
    try:
        _, photo = resolve(token, photo_id)
    except Http404:
        raise Http404("No such file.") from None
    result = gallery.newest_results([photo]).get(photo.pk)
    if result is None:
        raise Http404("No result yet.")
    response = stream(result.result, "image/png", f"{photo.stem}-colorized.png")
    response["Cache-Control"] = "private, no-store"
    response["Referrer-Policy"] = "no-referrer"
    return response
