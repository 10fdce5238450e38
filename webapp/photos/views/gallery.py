"""The gallery (and an album's page): search, sort, pages, and the bulk actions on ticked photos
(download as a ZIP, delete)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, urlencode
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from webapp.photos import gallery as gallery_choices
from webapp.photos import services
from webapp.photos.models import Album, Photo
from webapp.photos.sharing import live_links

GALLERY_PAGE_SIZE = 24


@login_required
@require_GET
def gallery(request):
    return render_gallery(request)


def render_gallery(request, album=None):
    """The gallery (or an album): searched by name, sorted, paged; each card can be ticked for a bulk action."""
    query = request.GET.get("q", "").strip()[:200]
    sort = gallery_choices.sort_key(request.GET.get("sort"))
    photos = gallery_choices.photos_for_gallery(request.user, query=query, sort=sort, album=album)
    page = Paginator(photos, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    latest = services.latest_colorizations(list(page))
    cards = [(photo, latest.get(photo.pk)) for photo in page]
    keep = {key: value for key, value in (("q", query), ("sort", sort if sort != gallery_choices.DEFAULT_SORT else ""))
            if value}
    context = {"page": page, "cards": cards, "query": query, "sort": sort, "album": album,
               "sorts": [(key, label) for key, (_, label) in gallery_choices.SORTS.items()],
               "keep": urlencode(keep), "total": Photo.objects.filter(owner=request.user).count(),
               "user_albums": Album.objects.filter(owner=request.user)}
    if album is not None:
        context["share_links"] = live_links(owner=request.user, album=album)
    return render(request, "photos/gallery.html", context)


def selection(request, source) -> tuple:
    """(the photos a bulk action is about, the album it was asked from or None) from the gallery's form."""
    album = None
    if source.get("album"):
        album = services.get_album_for(request.user, source["album"])
    photos = gallery_choices.selected_photos(request.user, source.getlist("photos"), everything=source.get("all") == "1",
                                            query=source.get("q", ""), album=album)
    return photos, album


def back_to_gallery(source, album=None):
    url = album.get_absolute_url() if album is not None else reverse("photos:gallery")
    keep = {key: source[key] for key in ("q", "sort", "page") if source.get(key)}
    return redirect(f"{url}?{urlencode(keep)}" if keep else url)


@login_required
@require_POST
def download_zip(request):
    """The ticked photos (or all the search shows) as one ZIP, streamed: each newest result at full
    resolution, and the originals when asked. (A POST: the browser saves the answer and stays on the page.)"""
    photos, album = selection(request, request.POST)
    photos = list(photos)
    archive, count = gallery_choices.photos_zip(photos, originals=request.POST.get("originals") == "1")
    if not count:
        messages.error(request, "None of those photos has a finished result yet. Tick “Include the originals” "
                                "to download the uploaded files." if photos else "Tick the photos to download first.")
        return back_to_gallery(request.POST, album)
    stream = gallery_choices.in_threads(archive) if isinstance(request, ASGIRequest) else archive
    response = StreamingHttpResponse(stream, content_type="application/zip")
    response["Content-Length"] = str(len(archive))
    stem = slugify(album.name) if album is not None else "hue-photos"
    response["Content-Disposition"] = content_disposition_header(True, f"{stem or 'hue-photos'}.zip")
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_POST
def delete_selected(request):
    """Delete the ticked photos, after a confirmation page that names them."""
    photos, album = selection(request, request.POST)
    photos = list(photos)
    if not photos:
        messages.error(request, "Tick the photos to delete first.")
        return back_to_gallery(request.POST, album)
    if request.POST.get("confirm") != "yes":
        return render(request, "photos/confirm_delete_selected.html", {"photos": photos, "album": album,
                                                                        "keep": request.POST})
    for photo in photos:
        services.delete_photo(photo)
    messages.success(request, f"Deleted {len(photos)} photo{'s' if len(photos) != 1 else ''} and their colorizations.")
    return back_to_gallery(request.POST, album)
