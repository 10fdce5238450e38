import secrets
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
    def box_style(self) -> str:
        """Inline style of the before/after box: the photo's own shape, at most 80% of the screen's height
        (narrower for a portrait photo, so no black bars sit beside it under the labels)."""
        return (f"aspect-ratio: {self.width} / {self.height}; "
                f"width: min(100%, calc(80vh * {self.width} / {self.height}))")

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000


# What people read about a colorization in each state, on the pages and in their scripts (which get it in
# each job's payload, webapp.photos.events): the badge is the state's label (JobState's choices); `waiting`
# stands in a gallery card until the result arrives; `status` is the line over a result being made.
COLORIZATION_WORDING = {
    JobState.QUEUED: {"waiting": "Colorizing…", "status": "Waiting for a worker…"},
    JobState.RUNNING: {"waiting": "Colorizing…", "status": "Colorizing…"},
    JobState.DONE: {"waiting": "", "status": ""},
    JobState.FAILED: {"waiting": "Failed", "status": "Colorization failed."},
}


class Colorization(Job):
    """One colorization of a photo: a job while it runs, then its result files."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="colorizations")
    render_size = models.PositiveSmallIntegerField(help_text="Pixels per side the network works at (aspect kept).")
    seed = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the model's standard result; a number: a variation (dropout noise)."
    )
    intensity = models.FloatField(default=1.0, help_text="Colour intensity: the predicted colour scaled by this "
                                  "before it is merged with the photo's own luminance (1: as the model made it).")
    hints = models.JSONField(default=list, blank=True, help_text="Colour hints: [{x, y, color}] in the upright "
                             "photo's pixels, color #rrggbb (webapp.photos.hints).")
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
    def intensity_label(self) -> str:
        return "Standard" if self.intensity == 1.0 else f"{self.intensity:.1f}×"

    @property
    def hint_marks(self) -> list[dict]:
        """Its colour hints as markers over the photo: left and top in percent of the upright photo."""
        width, height = self.photo.width or 1, self.photo.height or 1
        return [{"left": round(100 * h["x"] / width, 3), "top": round(100 * h["y"] / height, 3), "color": h["color"],
                 "number": n} for n, h in enumerate(self.hints or [], start=1)]

    @property
    def is_variation(self) -> bool:
        return self.seed is not None

    @property
    def waiting_label(self) -> str:
        return COLORIZATION_WORDING[self.state]["waiting"]

    @property
    def status_text(self) -> str:
        return COLORIZATION_WORDING[self.state]["status"]

    @property
    def has_result(self) -> bool:
        return self.state == JobState.DONE and bool(self.result)


class Album(models.Model):
    """A named set of one owner's photos (a family box uploaded one at a time); opens as its own gallery.
    A photo may be in several albums; deleting an album keeps its photos."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="albums")
    name = models.CharField(max_length=120)
    photos = models.ManyToManyField(Photo, related_name="albums", blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "created_at"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="album_name_unique_per_owner")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("photos:album", args=[self.pk])


def new_share_token() -> str:
    return secrets.token_urlsafe(32)  # 256 random bits: unguessable


class ShareLink(models.Model):
    """A read-only link to one photo or one album, made by its owner: anyone with the link sees the
    before/after and can download the result, nothing else. Revocable, and optionally expiring."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    token = models.CharField(max_length=64, unique=True, default=new_share_token, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links")
    photo = models.ForeignKey(Photo, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links")
    album = models.ForeignKey(Album, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: until revoked.")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(photo__isnull=False, album__isnull=True)
                                   | models.Q(photo__isnull=True, album__isnull=False),
                                   name="share_link_one_photo_or_one_album"),
        ]

    def __str__(self) -> str:
        return f"Share link to {self.photo or self.album}"

    def get_absolute_url(self) -> str:
        return reverse("share", args=[self.token])

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())
