from __future__ import annotations

from django.conf import settings
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webapp.core.jobs import JobState
from webapp.photos.models import Colorization, Photo
from webapp.registry.models import ModelVersion


def absolute(context: dict, path: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(path) if request is not None else path


class ColorizationSerializer(serializers.ModelSerializer):
    photo_id = serializers.UUIDField(source="photo.pk", read_only=True)
    model = serializers.CharField(source="model_label", read_only=True,
                                  help_text="The name of the model version that made the result.")
    model_version = serializers.SerializerMethodField(help_text="Its number (empty until it has run).")
    duration_seconds = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField()
    result_png_url = serializers.SerializerMethodField(help_text="Full-resolution PNG, once the state is done.")
    result_jpeg_url = serializers.SerializerMethodField(help_text="Full-resolution JPEG, once the state is done.")

    class Meta:
        model = Colorization
        fields = ["id", "photo_id", "state", "message", "attempts", "render_size", "seed", "intensity", "hints",
                  "model", "model_version", "created_at", "started_at", "finished_at", "duration_seconds", "url",
                  "result_png_url", "result_jpeg_url"]
        read_only_fields = fields

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_model_version(self, job) -> int | None:
        return job.model_version.number if job.model_version_id and job.model_version else None

    @extend_schema_field(serializers.FloatField(allow_null=True))
    def get_duration_seconds(self, job) -> float | None:
        return round(job.duration.total_seconds(), 1) if job.duration else None

    def get_url(self, job) -> str:
        return absolute(self.context, reverse("api:colorization-detail", args=[job.pk]))

    def result_url(self, job, extension: str) -> str | None:
        if job.state != JobState.DONE or not job.result:
            return None
        return absolute(self.context, reverse("api:colorization-result", args=[job.pk, extension]))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_result_png_url(self, job) -> str | None:
        return self.result_url(job, "png")

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_result_jpeg_url(self, job) -> str | None:
        return self.result_url(job, "jpg")


class PhotoSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="original_name", read_only=True)
    url = serializers.SerializerMethodField()
    colorizations = serializers.SerializerMethodField(help_text="Newest first.")

    class Meta:
        model = Photo
        fields = ["id", "name", "format", "width", "height", "size", "notes", "created_at", "url", "colorizations"]
        read_only_fields = fields

    def get_url(self, photo) -> str:
        return absolute(self.context, reverse("api:photo-detail", args=[photo.pk]))

    @extend_schema_field(ColorizationSerializer(many=True))
    def get_colorizations(self, photo) -> list:
        jobs = sorted(photo.colorizations.all(), key=lambda job: job.created_at, reverse=True)
        for job in jobs:
            job.photo = photo
        return ColorizationSerializer(jobs, many=True, context=self.context).data


class UploadedPhotoSerializer(PhotoSerializer):
    job = serializers.SerializerMethodField(help_text="The colorization the upload queued.")

    class Meta(PhotoSerializer.Meta):
        fields = PhotoSerializer.Meta.fields + ["job"]
        read_only_fields = fields

    @extend_schema_field(ColorizationSerializer)
    def get_job(self, photo) -> dict:
        job = sorted(photo.colorizations.all(), key=lambda job: job.created_at)[0]
        job.photo = photo
        return ColorizationSerializer(job, context=self.context).data


class UploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="One photo: JPEG, PNG, WebP, TIFF, BMP or GIF.")
    callback_url = serializers.URLField(required=False, allow_blank=True, max_length=500,
                                        help_text="POSTed a signed JSON body once the colorization ends "
                                                  "(default: the token's callback URL).")


class ColorizationRequestSerializer(serializers.Serializer):
    render_size = serializers.IntegerField(required=False, help_text="Pixels per side the network works at; "
                                           "one of COLORIZE_RENDER_SIZES (default: the first).")
    variation = serializers.BooleanField(required=False, default=False,
                                         help_text="A new variation with a random seed.")
    seed = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**31 - 1,
                                    help_text="A variation's seed, to make it again (implies a variation).")
    model_version = serializers.IntegerField(required=False, allow_null=True,
                                             help_text="A model version number: the active one or a public one "
                                                       "(see /api/v1/models/). Default: the active one.")
    intensity = serializers.FloatField(required=False, default=1.0, min_value=0.5, max_value=1.5)
    hints = serializers.JSONField(required=False, default=list,
                                  help_text="Colour hints, for a model version that takes them (see /api/v1/models/, "
                                            "takes_hints): up to 64 of "
                                            "{\"x\": 120, \"y\": 80, \"color\": \"#c81e28\"}, "
                                            "x and y in the upright photo's pixels.")
    callback_url = serializers.URLField(required=False, allow_blank=True, max_length=500)

    def validate_render_size(self, value):
        if value not in settings.COLORIZE_RENDER_SIZES:
            sizes = ", ".join(str(size) for size in settings.COLORIZE_RENDER_SIZES)
            raise serializers.ValidationError(f"Choose one of the render sizes {sizes}.")
        return value


class ModelVersionSerializer(serializers.ModelSerializer):
    name = serializers.CharField(source="public_label", read_only=True)
    takes_hints = serializers.BooleanField(read_only=True, help_text="It takes colour hints (`hints`).")

    class Meta:
        model = ModelVersion
        fields = ["number", "name", "is_active", "takes_hints"]
        read_only_fields = fields


class AccountSerializer(serializers.Serializer):
    username = serializers.CharField()
    photos = serializers.IntegerField()
    colorizations = serializers.DictField(child=serializers.IntegerField(), help_text="Counts by state.")
    queued_cap = serializers.IntegerField(help_text="The most colorizations that may wait at once.")
    rate = serializers.CharField(help_text="Requests allowed per token.")
    upload_max_bytes = serializers.IntegerField()
    render_sizes = serializers.ListField(child=serializers.IntegerField())
