"""The upload page: one photo per request from the page's script, or many from the plain form."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from webapp.photos import events, images, services, uploads
from webapp.photos.images import UploadRejected


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
