"""Registering and activating model versions."""

import logging

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from webapp.registry.models import ModelVersion

log = logging.getLogger(__name__)


def next_version_number() -> int:
    return (ModelVersion.objects.aggregate(top=Max("number"))["top"] or 0) + 1


@transaction.atomic
def register_version(weights: File, *, name: str = "", base_version=None, metrics=None, history=None,
                     sample_grid: File | None = None, notes: str = "", activate: bool = False, dataset=None,
                     comparison=None) -> ModelVersion:
    """Store a generator file as a new version; its config comes from the file itself. A fine-tuned one
    names its dataset and carries its comparison with its base (both outlive the dataset and the job)."""
    from colorizer.checkpoint import read_generator_config

    weights.seek(0)
    config = read_generator_config(weights)  # raises ValueError on anything that is not ours
    weights.seek(0)
    version = ModelVersion(
        number=next_version_number(), name=name, config=config, base_version=base_version,
        metrics=metrics or {}, history=history or [], notes=notes, dataset=dataset,
        dataset_name=dataset.name if dataset is not None else "", comparison=comparison or {},
    )
    version.weights.save(f"v{version.number}.safetensors", weights, save=False)
    if sample_grid is not None:
        version.sample_grid.save(f"v{version.number}-samples.png", sample_grid, save=False)
    version.save()
    if activate:
        activate_version(version)
    return version


@transaction.atomic
def activate_version(version: ModelVersion) -> ModelVersion:
    """Make `version` the only active one. Workers switch before their next job."""
    ModelVersion.objects.select_for_update().filter(is_active=True).exclude(pk=version.pk).update(is_active=False)
    ModelVersion.objects.filter(pk=version.pk).update(is_active=True, activated_at=timezone.now())
    version.refresh_from_db()
    log.info("activated model version %s", version)
    return version


def active_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def register_shipped_default(using: str = "default") -> ModelVersion | None:
    """Register the weights shipped in the repository as version 1 on an empty registry."""
    if ModelVersion.objects.using(using).exists():
        return None
    path = settings.COLORIZER_DEFAULT_WEIGHTS
    if not path.exists():
        log.warning("no shipped default model at %s; colorization waits for a model version", path)
        return None
    with path.open("rb") as handle:
        return register_version(
            File(handle, name=path.name), name="Shipped default", notes="Registered automatically at install.",
            activate=True,
        )
