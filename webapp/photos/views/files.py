"""Files: streamed to the owner (or staff with photos.view_any_photo) only, never from a public URL."""

from django.contrib.auth.decorators import login_required
from django.db.models.fields.files import FieldFile
from django.http import FileResponse, Http404, HttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET

from webapp.photos import images, services

PRIVATE_CACHE = "private, max-age=86400"  # file names never change content; only the owner's browser may cache
CONTENT_TYPES = {"JPEG": "image/jpeg", "MPO": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp",
                 "TIFF": "image/tiff", "BMP": "image/bmp", "GIF": "image/gif"}


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
