import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from webapp.photos import events, images, services, uploads
from webapp.photos.forms import RerunForm
from webapp.photos.images import UploadRejected
from webapp.photos.models import Photo

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
    photos = Photo.objects.filter(owner=request.user).order_by("-created_at")
    page = Paginator(photos, GALLERY_PAGE_SIZE).get_page(request.GET.get("page"))
    latest = services.latest_colorizations(list(page))
    cards = [(photo, latest.get(photo.pk)) for photo in page]
    return render(request, "photos/gallery.html", {"page": page, "cards": cards})


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


def render_detail(request, photo: Photo, wanted: str | None, form: RerunForm | None = None, status: int = 200):
    runs = list(photo.colorizations.select_related("model_version", "photo").order_by("-created_at"))
    selected = select_result(runs, wanted)
    if form is None:
        form = RerunForm(photo, initial={"render_size": selected.render_size if selected else None})
    context = {"photo": photo, "runs": runs, "selected": selected, "form": form,
               "selected_payload": events.job_payload(selected) if selected else None}
    return render(request, "photos/detail.html", context, status=status)


@login_required
@require_POST
def rerun(request, photo_id):
    photo = services.get_photo_for(request.user, photo_id, viewing=False)
    form = RerunForm(photo, request.POST)
    if not form.is_valid():
        return render_detail(request, photo, request.GET.get("result"), form=form, status=400)
    seed = services.new_variation_seed() if form.cleaned_data["variation"] else None
    job = services.request_colorization(photo, render_size=form.cleaned_data["render_size"], seed=seed,
                                        version=form.cleaned_data.get("model_version"))
    messages.success(request, "Colorizing again. The new result appears here when it is ready.")
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
