from django.db import models
from django.db.models import Q


class ModelVersion(models.Model):
    """One trained generator that workers can colorize with.

    At most one row is active (a partial unique constraint); workers load the active
    one and notice when it changes.
    """

    number = models.PositiveIntegerField(unique=True, help_text="Human-facing version number (v1, v2, ...).")
    name = models.CharField(max_length=120, blank=True)
    weights = models.FileField(upload_to="models/", help_text="Generator weights (safetensors, config in metadata).")
    sha256 = models.CharField(max_length=64, blank=True, db_index=True,
                              help_text="Of the weights file: the same file is not registered twice by default.")
    config = models.JSONField(default=dict, blank=True, help_text="Generator config read from the weights file.")
    metrics = models.JSONField(default=dict, blank=True, help_text="Validation metrics from the engine's eval.")
    history = models.JSONField(default=list, blank=True, help_text="Per-epoch training losses and metrics.")
    sample_grid = models.FileField(upload_to="models/samples/", blank=True)
    base_version = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="derived_versions"
    )
    notes = models.TextField(blank=True)
    # Where a fine-tuned version came from, kept when its dataset or job is deleted: the name is a
    # snapshot, and the comparison with its base on the job's held-out photos a copy of the job's.
    dataset = models.ForeignKey("finetune.Dataset", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="model_versions")
    dataset_name = models.CharField(max_length=120, blank=True)
    comparison = models.JSONField(default=dict, blank=True,
                                  help_text="Its metrics and its base's on the same held-out photos.")
    # What people who colorize photos see: the active version always; others only when staff make them public.
    public = models.BooleanField(default=False, help_text="Offer it to everyone under “Colorize again” → Model "
                                 "(the active version is always offered).")
    public_name = models.CharField(max_length=80, blank=True, help_text="The name people see, e.g. “Portraits: "
                                   "warmer skin tones”. Empty: just its number.")
    is_active = models.BooleanField(default=False)
    activated_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["is_active"], condition=Q(is_active=True), name="one_active_model_version")
        ]

    def __str__(self) -> str:
        label = f"v{self.number}"
        return f"{label} {self.name}".strip()

    @property
    def public_label(self) -> str:
        """Its name for the people who colorize photos (never the internal one)."""
        return f"v{self.number} {self.public_name}".strip() if self.public_name else f"v{self.number}"

    @property
    def takes_hints(self) -> bool:
        """Its generator takes colour hints (the config read from its weights file says so)."""
        return bool((self.config or {}).get("hints"))
