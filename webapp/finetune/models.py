import uuid

from django.conf import settings
from django.db import models

from webapp.core.jobs import Job


class DatasetState(models.TextChoices):
    QUEUED = "queued", "Waiting to be checked"
    RUNNING = "running", "Checking photos"
    DONE = "done", "Ready"
    FAILED = "failed", "Rejected"


class Dataset(Job):
    """A collection of colour photos that admins train on: an uploaded .zip or a server folder.

    Checking its photos is its job (webapp.core.jobs): claimed, heartbeaten, finished and reaped
    like every other, and done means ready to train on.
    """

    State = DatasetState

    class Source(models.TextChoices):
        ARCHIVE = "archive", "Uploaded .zip"
        FOLDER = "folder", "Folder on the server"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=120)
    source = models.CharField(max_length=10, choices=Source.choices)
    archive = models.FileField(upload_to="datasets/uploads/", blank=True,
                               help_text="A .zip of colour photos (jpg, png, webp, bmp, tif).")
    folder = models.CharField(max_length=500, blank=True,
                              help_text="Absolute path of a folder of colour photos on the server.")
    state = models.CharField(max_length=16, choices=DatasetState.choices, default=DatasetState.QUEUED, db_index=True)
    message = models.TextField(blank=True)  # a rejection may name many reasons
    image_count = models.PositiveIntegerField(default=0)
    skipped_count = models.PositiveIntegerField(default=0)
    skipped_by_reason = models.JSONField(default=dict, blank=True)  # {"already black-and-white": 12, ...}
    skipped_examples = models.JSONField(default=list, blank=True)  # [{"name": ..., "reason": ...}], capped
    thumbnails = models.JSONField(default=list, blank=True)  # storage names of a strip of thumbnails
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_ready(self) -> bool:
        return self.state == DatasetState.DONE

    @property
    def storage_prefix(self) -> str:
        """Where this dataset's accepted photos and manifest live in the media storage."""
        return f"datasets/{self.pk}"

    @property
    def manifest_name(self) -> str:
        return f"{self.storage_prefix}/manifest.json"


class FineTuneState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Training"
    DONE = "done", "Finished"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    INTERRUPTED = "interrupted", "Interrupted (worker lost)"


class FineTuneJob(Job):
    """One training run that turns a base model version and a dataset into a candidate version.

    Claimed, heartbeaten and finished like every Job (webapp.core.jobs); unlike a
    colorization, a run whose worker died is not retried by itself but shown as
    interrupted, and an admin resumes it from its last checkpoint.
    """

    State = FineTuneState
    END_STATES = (FineTuneState.DONE, FineTuneState.FAILED, FineTuneState.CANCELLED, FineTuneState.INTERRUPTED)
    RESUMABLE = (FineTuneState.INTERRUPTED, FineTuneState.FAILED, FineTuneState.CANCELLED)
    # Training crops the engine can also score at: scoring renders at the training size, and the engine
    # renders between colorizer.inference.MIN_RENDER_SIZE (64) and MAX_RENDER_SIZE; 1024 bounds memory.
    IMAGE_SIZE_MIN = 64
    IMAGE_SIZE_MAX = 1024

    state = models.CharField(max_length=16, choices=FineTuneState.choices, default=FineTuneState.QUEUED,
                             db_index=True)
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="jobs")
    base_version = models.ForeignKey("registry.ModelVersion", null=True, on_delete=models.SET_NULL,
                                     related_name="finetune_jobs",
                                     help_text="The model version to start from: its network and weights.")
    # Recipe (see colorizer.train.TrainConfig).
    l1_epochs = models.PositiveIntegerField(default=1, help_text="Stage 1: epochs of L1-only training.")
    gan_epochs = models.PositiveIntegerField(default=3, help_text="Stage 2: epochs of GAN + lambda x L1 training.")
    batch_size = models.PositiveIntegerField(default=16)
    learning_rate = models.FloatField(default=1e-4, help_text="Adam learning rate (the paper trains from scratch "
                                      "at 2e-4; fine-tuning does better a little lower).")
    lambda_l1 = models.FloatField(default=100.0, help_text="Weight of the L1 term against the GAN term.")
    val_split = models.FloatField(default=0.1, help_text="Fraction of the dataset held out for validation.")
    image_size = models.PositiveIntegerField(default=256, help_text="Training crop size (render size), pixels.")
    # State.
    cancel_requested = models.BooleanField(default=False)
    progress = models.JSONField(default=dict, blank=True)  # the latest progress event
    loss_history = models.JSONField(default=list, blank=True)  # [{"step":..,"D_real":..,...}] for the chart
    epoch_history = models.JSONField(default=list, blank=True)  # per-epoch losses and validation metrics
    sample_grid = models.FileField(upload_to="finetune/samples/", blank=True)
    checkpoint_prefix = models.CharField(max_length=200, blank=True)  # storage folder of the last checkpoint
    comparison = models.JSONField(default=dict, blank=True)  # candidate vs base metrics on the same held-out photos
    result_version = models.OneToOneField("registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL,
                                          related_name="trained_by")
    worker = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Fine-tune on {self.dataset} ({self.get_state_display().lower()})"

    @property
    def can_cancel(self) -> bool:
        return self.state in (FineTuneState.QUEUED, FineTuneState.RUNNING) and not self.cancel_requested

    @property
    def can_resume(self) -> bool:
        """Resume is offered only where resuming can succeed."""
        return self.state in self.RESUMABLE and not self.resume_blocker

    @property
    def resume_blocker(self) -> str:
        """Why resuming this job cannot succeed, for a person; "" when it can (or it is not resumable)."""
        if self.state not in self.RESUMABLE:
            return ""
        if self.base_version_id is None:
            return "Its base model version was deleted, so it cannot be resumed: start a new job."
        if not self.dataset.is_ready:
            return "Its dataset is no longer ready, so it cannot be resumed: start a new job."
        if not self.IMAGE_SIZE_MIN <= self.image_size <= self.IMAGE_SIZE_MAX:
            return (f"Its image size ({self.image_size} px) is outside what the engine can train and score "
                    f"({self.IMAGE_SIZE_MIN}–{self.IMAGE_SIZE_MAX} px), so resuming would fail the same way: "
                    "start a new job with a size in that range.")
        return ""
