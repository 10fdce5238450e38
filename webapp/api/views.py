"""The HTTP API, /api/v1/ (Django REST framework): photos, colorizations, results, the account."""

from __future__ import annotations

import io
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, OuterRef, Prefetch, Subquery
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.api import callbacks
from webapp.api.models import ApiToken, UploadKey
from webapp.api.serializers import (AccountSerializer, ColorizationRequestSerializer, ColorizationSerializer,
                                    ModelVersionSerializer, PhotoSerializer, UploadedPhotoSerializer, UploadSerializer)
from webapp.api.throttles import check_queue_room
from webapp.core.jobs import JobState
from webapp.photos import images, services, uploads
from webapp.photos.forms import RerunForm
from webapp.photos.gallery import in_threads
from webapp.photos.images import UploadRejected
from webapp.photos.models import Colorization, Photo
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_version

ERROR = OpenApiResponse(description='{"error": "what went wrong and what to do"}')
STATES = [state for state, _ in JobState.choices]


def token_of(request) -> ApiToken | None:
    return request.auth if isinstance(request.auth, ApiToken) else None


def checked_callback_url(request, given: str | None) -> str:
    """The callback URL of this request (its own, else its token's), checked; "" for none."""
    url = callbacks.callback_url_for(given, token_of(request))
    if not url:
        return ""
    if token_of(request) is None:
        raise ValidationError({"callback_url": ["Callbacks need an API token: they are signed with its secret."]})
    try:
        callbacks.check_url(url)
    except callbacks.CallbackRefused as refused:
        raise ValidationError({"callback_url": [str(refused)]}) from None
    return url


def photos_with_jobs(user):
    return services.photos_of(user, viewing=False).prefetch_related(
        Prefetch("colorizations", queryset=Colorization.objects.select_related("model_version")))


def get_photo(request, photo_id) -> Photo:
    return generics.get_object_or_404(photos_with_jobs(request.user), pk=photo_id)


def get_colorization(request, colorization_id) -> Colorization:
    jobs = Colorization.objects.select_related("photo", "model_version").filter(photo__owner=request.user)
    return generics.get_object_or_404(jobs, pk=colorization_id)


class PhotoList(generics.ListCreateAPIView):
    """Your photos, newest first; upload one (multipart, field `file`)."""

    serializer_class = PhotoSerializer
    parser_classes = [MultiPartParser, FormParser]

    def initialize_request(self, request, *args, **kwargs):
        # Before anything reads the body: a file over UPLOAD_MAX_BYTES is counted, never kept.
        if request.method == "POST":
            request.upload_handlers.insert(0, uploads.PhotoSizeLimit(request, settings.UPLOAD_MAX_BYTES))
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self):
        photos = photos_with_jobs(self.request.user).order_by("-created_at", "-pk")
        state = self.request.query_params.get("state")
        if state:
            if state not in STATES:
                raise ValidationError({"state": [f"Choose one of {', '.join(STATES)}."]})
            latest = Colorization.objects.filter(photo=OuterRef("pk")).order_by("-created_at").values("state")[:1]
            photos = photos.annotate(latest_state=Subquery(latest)).filter(latest_state=state)
        return photos

    @extend_schema(parameters=[OpenApiParameter("state", str, enum=STATES,
                                                description="Only photos whose newest colorization is in this state.")],
                   responses={200: PhotoSerializer(many=True), 400: ERROR, 401: ERROR, 429: ERROR})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        request={"multipart/form-data": UploadSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False,
                                     description="Any unique string per photo (at most 128 characters): sending "
                                                 "it again answers 200 with the photo already made, never a copy.")],
        responses={201: UploadedPhotoSerializer, 200: UploadedPhotoSerializer, 400: ERROR, 401: ERROR,
                   413: ERROR, 429: ERROR},
    )
    def post(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()[:128]
        if key:
            earlier = UploadKey.objects.filter(user=request.user, key=key).select_related("photo").first()
            if earlier is not None:
                photo = get_photo(request, earlier.photo_id)
                return Response(UploadedPhotoSerializer(photo, context={"request": request}).data)
        check_queue_room(request.user)
        form = UploadSerializer(data=request.data)
        if not form.is_valid():
            if "file" in form.errors:
                raise ValidationError({"file": ["Send one photo in the multipart field “file”."]})
            raise ValidationError(form.errors)
        callback_url = checked_callback_url(request, form.validated_data.get("callback_url"))
        upload = form.validated_data["file"]
        try:
            with transaction.atomic():
                photo = services.accept_upload(request.user, upload)
                job = photo.colorizations.get()
                callbacks.register(job, token_of(request), callback_url)
                if key:
                    UploadKey.objects.create(user=request.user, key=key, photo=photo)
        except UploadRejected as rejection:
            return Response({"error": str(rejection), "name": upload.name}, status=status.HTTP_400_BAD_REQUEST)
        except IntegrityError:  # the same key, sent twice at once: the other request made the photo
            earlier = UploadKey.objects.get(user=request.user, key=key)
            photo = get_photo(request, earlier.photo_id)
            return Response(UploadedPhotoSerializer(photo, context={"request": request}).data)
        photo = get_photo(request, photo.pk)
        return Response(UploadedPhotoSerializer(photo, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class PhotoDetail(generics.RetrieveDestroyAPIView):
    """One of your photos with its colorizations (newest first); delete it with them."""

    serializer_class = PhotoSerializer
    lookup_url_kwarg = "photo_id"

    def get_queryset(self):
        return photos_with_jobs(self.request.user)

    @extend_schema(responses={200: PhotoSerializer, 401: ERROR, 404: ERROR})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(responses={204: None, 401: ERROR, 404: ERROR})
    def delete(self, request, *args, **kwargs):
        return super().delete(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.delete_photo(instance)


def wanted_version(request, number: int | None) -> ModelVersion | None:
    """The version asked for by number: the active one or a public one (staff: any); None for the active one."""
    if number is None:
        return None
    versions = ModelVersion.objects.all() if request.user.is_staff else ModelVersion.objects.filter(public=True)
    active = active_version()
    if active is not None and active.number == number:
        return None
    version = versions.filter(number=number).first()
    if version is None:
        offered = offered_versions(request)
        listing = ", ".join(str(v.number) for v in offered) or "none yet"
        raise ValidationError({"model_version": [f"There is no model version {number} you may use. "
                                                 f"Offered: {listing} (see /api/v1/models/)."]})
    return version


def offered_versions(request) -> list[ModelVersion]:
    versions = ModelVersion.objects.order_by("-number")
    if not request.user.is_staff:
        from django.db.models import Q

        versions = versions.filter(Q(public=True) | Q(is_active=True))
    return list(versions)


class ColorizationCreate(APIView):
    parser_classes = [JSONParser, FormParser, MultiPartParser]

    @extend_schema(request=ColorizationRequestSerializer,
                   responses={201: ColorizationSerializer, 200: ColorizationSerializer, 400: ERROR, 401: ERROR,
                              404: ERROR, 429: ERROR},
                   description="Colorize the photo again. Settings that would repeat an existing result (done or "
                               "on its way) answer 200 with that one; ask for a variation to get another.")
    def post(self, request, photo_id):
        photo = get_photo(request, photo_id)
        form = ColorizationRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        version = wanted_version(request, data.get("model_version"))
        callback_url = checked_callback_url(request, data.get("callback_url"))
        render_size = data.get("render_size") or services.default_render_size()
        seed = data.get("seed") or (services.new_variation_seed() if data["variation"] else None)
        rerun = RerunForm(photo, {"render_size": render_size, "variation": seed is not None,
                                  "model_version": version.pk if version else "",
                                  "intensity": data["intensity"], "hints": json.dumps(data["hints"])},
                           user=request.user)
        valid = rerun.is_valid()
        if "hints" in rerun.errors:
            raise ValidationError({"hints": list(rerun.errors["hints"])})
        hints = rerun.cleaned_data["hints"]
        same = rerun.same_result() if valid and data.get("seed") is None else None
        if same is not None:
            with transaction.atomic():
                callbacks.register(same, token_of(request), callback_url)
            callbacks.job_changed(job=same)  # already finished: its callback goes now
            return Response(ColorizationSerializer(same, context={"request": request}).data)
        check_queue_room(request.user)
        with transaction.atomic():
            job = services.request_colorization(photo, render_size=render_size, seed=seed, version=version,
                                                intensity=round(data["intensity"], 2), hints=hints)
            callbacks.register(job, token_of(request), callback_url)
        return Response(ColorizationSerializer(job, context={"request": request}).data,
                        status=status.HTTP_201_CREATED)


class ColorizationList(generics.ListAPIView):
    """Your colorizations. With `finished_after`, those that ended since then, oldest first: how a client
    waits for many results with one request per round."""

    serializer_class = ColorizationSerializer

    def get_queryset(self):
        jobs = Colorization.objects.select_related("photo", "model_version").filter(photo__owner=self.request.user)
        states = [state for state in self.request.query_params.getlist("state") if state]
        for state in states:
            if state not in STATES:
                raise ValidationError({"state": [f"Choose one of {', '.join(STATES)}."]})
        if states:
            jobs = jobs.filter(state__in=states)
        since = self.request.query_params.get("finished_after")
        if since:
            moment = parse_datetime(since)
            if moment is None:
                raise ValidationError({"finished_after": ["Give a date and time such as 2025-01-31T12:00:00Z."]})
            return jobs.filter(finished_at__gt=moment).order_by("finished_at", "pk")
        return jobs.order_by("-created_at", "-pk")

    @extend_schema(parameters=[
        OpenApiParameter("state", str, enum=STATES, many=True, description="Only these states (repeatable)."),
        OpenApiParameter("finished_after", OpenApiTypes.DATETIME,
                         description="Only those that ended after this moment, oldest first.")],
        responses={200: ColorizationSerializer(many=True), 400: ERROR, 401: ERROR})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class ColorizationDetail(APIView):
    @extend_schema(responses={200: ColorizationSerializer, 401: ERROR, 404: ERROR})
    def get(self, request, colorization_id):
        job = get_colorization(request, colorization_id)
        return Response(ColorizationSerializer(job, context={"request": request}).data)


class ColorizationResult(APIView):
    """The result at full resolution, streamed: PNG (lossless, as stored) or JPEG."""

    @extend_schema(responses={(200, "image/png"): OpenApiTypes.BINARY, (200, "image/jpeg"): OpenApiTypes.BINARY,
                              401: ERROR, 404: ERROR, 409: ERROR})
    def get(self, request, colorization_id, extension):
        job = get_colorization(request, colorization_id)
        if not job.has_result:
            message = (f"This colorization has no result: it failed ({job.message})" if job.state == JobState.FAILED
                       else f"This colorization is {job.state}; its result is not ready yet.")
            return Response({"error": message, "state": job.state}, status=status.HTTP_409_CONFLICT)
        name = f"{job.photo.stem}-colorized.{extension}"
        try:
            handle = job.result.storage.open(job.result.name, "rb")
        except FileNotFoundError:
            raise Http404("The result file is missing. Request another colorization of this photo.") from None
        if extension == "jpg":
            with handle:
                handle = io.BytesIO(images.png_to_jpeg(handle))
        content_type = "image/png" if extension == "png" else "image/jpeg"
        if isinstance(request._request, ASGIRequest):
            # Chunk by chunk from a thread: over ASGI Django would read a file to its end before sending.
            size = handle.getbuffer().nbytes if isinstance(handle, io.BytesIO) else job.result.size
            response = StreamingHttpResponse(in_threads(chunks(handle)), content_type=content_type)
            response["Content-Length"] = str(size)
            response["Content-Disposition"] = content_disposition_header(True, name)
        else:
            response = FileResponse(handle, as_attachment=True, filename=name, content_type=content_type)
        response["Cache-Control"] = "private, max-age=86400"
        return response


def chunks(handle, size: int = 256 * 1024):
    try:
        while block := handle.read(size):
            yield block
    finally:
        handle.close()


class ModelList(APIView):
    """The model versions you may ask for: the active one and those made public."""

    @extend_schema(responses={200: ModelVersionSerializer(many=True), 401: ERROR})
    def get(self, request):
        return Response(ModelVersionSerializer(offered_versions(request), many=True).data)


class Account(APIView):
    """Who you are, what you have, and your limits."""

    @extend_schema(responses={200: AccountSerializer, 401: ERROR})
    def get(self, request):
        jobs = Colorization.objects.filter(photo__owner=request.user).values("state").annotate(count=Count("pk"))
        counts = {state: 0 for state in STATES}
        counts.update({row["state"]: row["count"] for row in jobs})
        return Response(AccountSerializer({
            "username": request.user.get_username(),
            "photos": Photo.objects.filter(owner=request.user).count(),
            "colorizations": counts,
            "queued_cap": settings.API_MAX_QUEUED_JOBS,
            "rate": settings.API_RATE,
            "upload_max_bytes": settings.UPLOAD_MAX_BYTES,
            "render_sizes": settings.COLORIZE_RENDER_SIZES,
        }).data)

