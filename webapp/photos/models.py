import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from webapp.core.jobs import Job, JobState


def original_upload_to(photo: "Photo", filename: str) -> str:
    suffix = PurePosixPath(filename).suffix.lower()[:8]
    return f"photos/{photo.pk}/original{suffix}"


def rendition_upload_to(photo: "Photo", filename: str) -> str:
    return f"photos/{photo.pk}/{filename}"


class Photo(models.Model):
    """One uploaded photo. Its files are private: views stream them to the owner only, and to staff
    granted "view_any_photo" (each such view is written to the audit log)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="photos")
    original = models.FileField(upload_to=original_upload_to, max_length=255, help_text="The file as uploaded.")
    thumbnail = models.FileField(upload_to=rendition_upload_to, max_length=255, blank=True,
                                 help_text="Small upright JPEG for the gallery.")
    preview = models.FileField(upload_to=rendition_upload_to, max_length=255, blank=True,
                               help_text="Upright JPEG for the compare slider.")
    original_name = models.CharField(max_length=255, help_text="The name of the uploaded file.")
    format = models.CharField(max_length=16, help_text="Pillow's name of the file format.")
    width = models.PositiveIntegerField(help_text="Upright width in pixels.")
    height = models.PositiveIntegerField(help_text="Upright height in pixels.")
    size = models.PositiveBigIntegerField(help_text="File size in bytes.")
    notes = models.JSONField(default=list, blank=True, help_text="What the user was told about how it was read.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="photo_owner_newest")]
        permissions = [("view_any_photo", "Can view every user's photos and results (each view is logged)")]

    def __str__(self) -> str:
        return self.original_name

    def get_absolute_url(self) -> str:
        return reverse("photos:detail", args=[self.pk])

    @property
    def stem(self) -> str:
        """The uploaded name without its extension, for download names."""
        return PurePosixPath(self.original_name).stem or "photo"

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000


class Colorization(Job):
    """One colorization of a photo: a job while it runs, then its result files."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="colorizations")
    render_size = models.PositiveSmallIntegerField(help_text="Pixels per side the network works at (aspect kept).")
    seed = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the model's standard result; a number: a variation (dropout noise)."
    )
    requested_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text="Empty: whichever version is active when the job runs.",
    )
    model_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="colorizations",
        help_text="The version that made the result.",
    )
    model_label = models.CharField(max_length=140, blank=True, help_text="That version's name, kept if it is deleted.")
    result = models.FileField(max_length=255, blank=True, help_text="Full-resolution PNG.")
    result_thumbnail = models.FileField(max_length=255, blank=True)
    result_preview = models.FileField(max_length=255, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["state", "heartbeat_at"], name="colorization_running"),
            models.Index(fields=["state", "enqueued_at"], name="colorization_queued"),
        ]

    def __str__(self) -> str:
        return f"{self.photo} at {self.render_size}px ({self.get_state_display()})"

    def get_absolute_url(self) -> str:
        return f"{self.photo.get_absolute_url()}?result={self.pk}"

    @property
    def is_variation(self) -> bool:
        return self.seed is not None

    @property
    def has_result(self) -> bool:
        return self.state == JobState.DONE and bool(self.result)
