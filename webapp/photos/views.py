import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import content_disposition_header, urlencode
from django.utils.text import slugify
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.photos import events, images, services, uploads
from webapp.photos import gallery as gallery_choices
from webapp.photos.forms import RerunForm
from webapp.photos.images import UploadRejected
from webapp.photos.models import Album, Photo

GALLERY_PAGE_SIZE = 24
PRIVATE_CACHE = "private, max-age=86400"  # file names never change content; only the owner's browser may cache
CONTENT_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
                 "TIFF": "image/tiff", "BMP": "image/bmp", "GIF": "image/gif"}


def upload_limits() -> dict:
    return {
        "max_bytes": settings.UPLOAD_MAX_BYTES,
        "max_bytes_label": images.describe_bytes(settings.UPLOAD_MAX_BYTES),
        "max_pixels_label": images.describe_pixels(settings.UPLOAD_MAX_PIXELS),
        "accepted": images.ACCEPTED,
    }


@csrf_exempt  # upload_page checks the token: the check reads the body, so the size limit must be in place first
@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    """The upload page; a POST takes one file per request from the page's script, or many from the plain form."""
    request.upload_handlers.insert(0, uploads.PhotoSizeLimit(request, settings.UPLOAD_MAX_BYTES))
    return upload_page(request)


@csrf_protect
def upload_page(request):
    if request.method == "GET":
        return render(request, "photos/upload.html", {"limits": upload_limits()})
    files = request.FILES.getlist("files")
    if "application/json" in request.headers.get("Accept", ""):
        return upload_one(request, files)
    if not files:
        messages.error(request, "Choose one or more photos to upload.")
        return redirect("photos:upload")
    accepted = 0
    for file in files:
        try:
            photo = services.accept_upload(request.user, file)
        except UploadRejected as rejection:
            messages.error(request, f"{file.name}: {rejection}")
            continue
        accepted += 1
        for note in photo.notes:
            messages.info(request, f"{photo.original_name}: {note}")
    if not accepted:
        return redirect("photos:upload")
    messages.success(request, f"{accepted} photo{'s' if accepted != 1 else ''} uploaded. Colorizing now.")
    return redirect("photos:gallery")


def upload_one(request, files) -> JsonResponse:
    if len(files) != 1:
        return JsonResponse({"error": "Send exactly one file in the field “files”."}, status=400)
    file = files[0]
    try:
        photo = services.accept_upload(request.user, file)
    except UploadRejected as rejection:
        return JsonResponse({"name": file.name, "error": str(rejection)}, status=400)
    job = photo.colorizations.select_related("photo").get()
    return JsonResponse(
        {"photo": {"id": str(photo.pk), "url": photo.get_absolute_url(), "name": photo.original_name,
                   "width": photo.width, "height": photo.height, "notes": photo.notes},
         "job": events.job_payload(job)},
        status=201,
    )


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
        from webapp.photos.sharing import live_links

        context["share_links"] = live_links(owner=request.user, album=album)
    return render(request, "photos/gallery.html", context)


def selection(request, source) -> tuple:
    """(the photos a bulk action is about, the album it was asked from or None) from the gallery's form."""
    album = None
    if source.get("album"):
        album = get_album_for(request.user, source["album"])
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


# --- Albums -------------------------------------------------------------------------------------


def get_album_for(user, album_id) -> Album:
    """`user`'s album, or 404 (someone else's, a deleted one, or not an album id at all)."""
    try:
        album_id = uuid.UUID(str(album_id))
    except ValueError:
        raise Http404("No such album.") from None
    return get_object_or_404(Album, pk=album_id, owner=user)


def album_name(request, value: str) -> str | None:
    """A new album name from a form, or None after telling the person what is wrong with it."""
    name = " ".join((value or "").split())[:120]
    if not name:
        messages.error(request, "Give the album a name.")
        return None
    return name


@login_required
@require_http_methods(["GET", "POST"])
def albums(request):
    """The owner's albums; a POST makes a new, empty one."""
    if request.method == "POST":
        name = album_name(request, request.POST.get("name"))
        if name is None:
            return redirect("photos:albums")
        album, created = Album.objects.get_or_create(owner=request.user, name=name)
        if not created:
            messages.info(request, f"You already have an album called “{name}”: here it is.")
        return redirect(album)
    listing = (Album.objects.filter(owner=request.user).annotate(count=Count("photos"))
               .prefetch_related(Prefetch("photos", queryset=Photo.objects.order_by("-created_at"))))
    return render(request, "photos/albums.html", {"albums": listing})


@login_required
@require_GET
def album(request, album_id):
    return render_gallery(request, album=get_album_for(request.user, album_id))


@login_required
@require_POST
def album_add(request):
    """Put the ticked photos in an album: an existing one, or a new one named in the form."""
    photos, _ = selection(request, request.POST)
    photos = list(photos)
    if not photos:
        messages.error(request, "Tick the photos to put in an album first.")
        return back_to_gallery(request.POST)
    target = request.POST.get("target_album", "")
    if target == "new":
        name = album_name(request, request.POST.get("new_album_name"))
        if name is None:
            return back_to_gallery(request.POST)
        target_album, _ = Album.objects.get_or_create(owner=request.user, name=name)
    else:
        target_album = get_album_for(request.user, target)
    target_album.photos.add(*photos)
    messages.success(request, f"Added {len(photos)} photo{'s' if len(photos) != 1 else ''} to "
                              f"“{target_album.name}”.")
    return back_to_gallery(request.POST)


@login_required
@require_POST
def album_remove(request, album_id):
    """Take the ticked photos out of the album (they stay in the gallery)."""
    target_album = get_album_for(request.user, album_id)
    photos, _ = selection(request, request.POST)
    photos = list(photos)
    target_album.photos.remove(*photos)
    messages.success(request, f"Removed {len(photos)} photo{'s' if len(photos) != 1 else ''} from "
                              f"“{target_album.name}”; they stay in your gallery.")
    return back_to_gallery(request.POST, target_album)


@login_required
@require_POST
def album_rename(request, album_id):
    target_album = get_album_for(request.user, album_id)
    name = album_name(request, request.POST.get("name"))
    if name is not None:
        if Album.objects.filter(owner=request.user, name=name).exclude(pk=target_album.pk).exists():
            messages.error(request, f"You already have an album called “{name}”.")
        else:
            target_album.name = name
            target_album.save(update_fields=["name"])
            messages.success(request, f"Renamed the album to “{name}”.")
    return redirect(target_album)


@login_required
@require_POST
def album_delete(request, album_id):
    target_album = get_album_for(request.user, album_id)
    name = target_album.name
    target_album.delete()
    messages.success(request, f"Deleted the album “{name}”. Its photos stay in your gallery.")
    return redirect("photos:albums")


def select_result(runs: list, wanted: str | None):
    """The colorization asked for in ?result=, else the newest finished one, else the newest."""
    if wanted:
        try:
            wanted_id = uuid.UUID(wanted)
        except ValueError:
            wanted_id = None
        for run in runs:
            if run.pk == wanted_id:
                return run
    return next((run for run in runs if run.has_result), runs[0] if runs else None)


@login_required
@require_GET
def detail(request, photo_id):
    photo = services.get_photo_for(request.user, photo_id)
    return render_detail(request, photo, request.GET.get("result"))


def render_detail(request, photo: Photo, wanted: str | None):
    runs = list(photo.colorizations.select_related("model_version", "photo").order_by("-created_at"))
    selected = select_result(runs, wanted)
    form = RerunForm(photo, initial={"render_size": selected.render_size if selected else None,
                                     "intensity": selected.intensity if selected else 1.0}, user=request.user)
    from webapp.photos.sharing import live_links

    context = {"photo": photo, "runs": runs, "selected": selected, "form": form,
               "share_links": live_links(owner=request.user, photo=photo),
               "selected_payload": events.job_payload(selected) if selected else None}
    return render(request, "photos/detail.html", context)


@login_required
@require_POST
def rerun(request, photo_id):
    """Queue another colorization, then redirect (a reload never posts again): to the new result, to the
    result these settings already made, or back to the photo with what was wrong."""
    photo = services.get_photo_for(request.user, photo_id, viewing=False)
    form = RerunForm(photo, request.POST, user=request.user)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(photo.get_absolute_url())
    same = form.same_result()
    if same is not None:
        messages.info(request, f"This photo already has that result ({same.render_size} px, "
                               f"{form.version_label()}, intensity {same.intensity_label.lower()}): here it is. Ask for a new variation to get another.")
        return redirect(same.get_absolute_url())
    seed = services.new_variation_seed() if form.cleaned_data["variation"] else None
    job = services.request_colorization(photo, render_size=form.cleaned_data["render_size"], seed=seed,
                                        version=form.cleaned_data.get("model_version"),
                                        intensity=form.cleaned_data["intensity"])
    messages.success(request, "Colorizing again. The new result appears here when it is ready.",
                     extra_tags=f"until-done job-{job.pk}")
    return redirect(job.get_absolute_url())


@login_required
@require_http_methods(["GET", "POST"])
def delete(request, photo_id):
    photo = services.get_photo_for(request.user, photo_id, viewing=False)
    if request.method == "GET":
        return render(request, "photos/confirm_delete.html", {"photo": photo})
    name = photo.original_name
    services.delete_photo(photo)
    messages.success(request, f"Deleted {name} and its colorizations.")
    return redirect("photos:gallery")


# --- Files: streamed to the owner (or staff with photos.view_any_photo) only, never from a public URL ---------------------


def stream(file: FieldFile, content_type: str, download_name: str | None = None) -> FileResponse:
    """A stored file, read through the storage API in chunks (originals and full-resolution results)."""
    if not file:
        raise Http404("No such file.")
    try:
        handle = file.storage.open(file.name, "rb")
    except FileNotFoundError:
        raise Http404("No such file.") from None
    response = FileResponse(handle, content_type=content_type, as_attachment=download_name is not None,
                            filename=download_name or "")
    response["Cache-Control"] = PRIVATE_CACHE
    return response


def small_image(file: FieldFile) -> HttpResponse:
    """A thumbnail or preview JPEG (tens of kB), read in one go."""
    if not file:
        raise Http404("No such file.")
    try:
        with file.storage.open(file.name, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Http404("No such file.") from None
    response = HttpResponse(data, content_type="image/jpeg")
    response["Cache-Control"] = PRIVATE_CACHE
    return response


@login_required
@require_GET
def original(request, photo_id):
    photo = services.get_photo_for(request.user, photo_id, what="original")
    return stream(photo.original, CONTENT_TYPES.get(photo.format, "application/octet-stream"), photo.original_name)


@login_required
@require_GET
def thumbnail(request, photo_id):
    return small_image(services.get_photo_for(request.user, photo_id, what="thumbnail").thumbnail)


@login_required
@require_GET
def preview(request, photo_id):
    return small_image(services.get_photo_for(request.user, photo_id, what="preview").preview)


@login_required
@require_GET
def result_thumbnail(request, colorization_id):
    return small_image(services.get_colorization_for(request.user, colorization_id, what="result thumbnail")
                       .result_thumbnail)


@login_required
@require_GET
def result_preview(request, colorization_id):
    return small_image(services.get_colorization_for(request.user, colorization_id, what="result preview")
                       .result_preview)


@login_required
@require_GET
def download(request, colorization_id, format):
    job = services.get_colorization_for(request.user, colorization_id, what="download of result")
    if not job.has_result:
        raise Http404("This colorization has no result yet.")
    name = f"{job.photo.stem}-colorized"
    if format == "png":
        return stream(job.result, "image/png", f"{name}.png")
    try:
        with job.result.storage.open(job.result.name, "rb") as handle:
            jpeg = images.png_to_jpeg(handle)
    except FileNotFoundError:
        raise Http404("No such file.") from None
    response = HttpResponse(jpeg, content_type="image/jpeg")
    response["Content-Disposition"] = content_disposition_header(True, f"{name}.jpg")
    response["Cache-Control"] = PRIVATE_CACHE
    return response
