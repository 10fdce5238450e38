"""Registering and activating model versions, and the model shipped in the repository."""

import hashlib
import json
import logging

from django.conf import settings
from django.core.files import File
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from webapp.registry.models import ModelVersion

log = logging.getLogger(__name__)


def next_version_number(using: str = "default") -> int:
    return (ModelVersion.objects.using(using).aggregate(top=Max("number"))["top"] or 0) + 1


def file_sha256(handle) -> str:
    """Of a file open for reading, read in chunks from the start; left at the start."""
    digest = hashlib.sha256()
    handle.seek(0)
    for chunk in iter(lambda: handle.read(1024 * 1024), b""):
        digest.update(chunk)
    handle.seek(0)
    return digest.hexdigest()


def register_version(weights: File, *, name: str = "", base_version=None, metrics=None, history=None,
                     sample_grid: File | None = None, notes: str = "", activate: bool = False, dataset=None,
                     comparison=None, using: str = "default") -> ModelVersion:
    """Store a generator file as a new version; its config comes from the file itself. A fine-tuned one
    names its dataset and carries its comparison with its base (both outlive the dataset and the job)."""
    from colorizer.checkpoint import read_generator_config

    weights.seek(0)
    config = read_generator_config(weights)  # raises ValueError on anything that is not ours
    sha256 = file_sha256(weights)
    with transaction.atomic(using=using):
        version = ModelVersion(
            number=next_version_number(using), name=name, config=config, sha256=sha256, base_version=base_version,
            metrics=metrics or {}, history=history or [], notes=notes, dataset=dataset,
            dataset_name=dataset.name if dataset is not None else "", comparison=comparison or {},
        )
        version.weights.save(f"v{version.number}.safetensors", weights, save=False)
        if sample_grid is not None:
            version.sample_grid.save(f"v{version.number}-samples.png", sample_grid, save=False)
        version.save(using=using)
        if activate:
            version = activate_version(version, using=using)
    return version


def activate_version(version: ModelVersion, using: str = "default") -> ModelVersion:
    """Make `version` the only active one. Workers switch before their next job.

    Activations lock every version row, so two at once take turns even while no row is active
    (locking only the active row would lock nothing then, and the second would break the
    one-active constraint). A collision left over (a version created meanwhile, or a database
    that ignores row locks) is retried once, against the state the other activation left.
    """
    for attempt in (1, 2):
        try:
            with transaction.atomic(using=using):
                _lock_versions(using)
                ModelVersion.objects.using(using).filter(is_active=True).exclude(pk=version.pk).update(
                    is_active=False)
                _mark_active(version, using)
            break
        except IntegrityError:
            if attempt == 2:
                raise
            log.warning("activating %s collided with another activation; trying again", version)
    version.refresh_from_db(using=using)
    log.info("activated model version %s", version)
    return version


def _lock_versions(using: str) -> None:
    list(ModelVersion.objects.using(using).select_for_update().order_by("pk").values_list("pk", flat=True))


def _mark_active(version: ModelVersion, using: str) -> None:
    ModelVersion.objects.using(using).filter(pk=version.pk).update(is_active=True, activated_at=timezone.now())


def active_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(is_active=True).first()


def missing_model_warning() -> str:
    """Why photos cannot be colorized and what to do about it, for the admin's pages; "" when they can."""
    if ModelVersion.objects.filter(is_active=True).exists():
        return ""
    if ModelVersion.objects.exists():
        return "No model version is active, so photos cannot be colorized: activate one under Model versions."
    return (f"No colorization model is installed, so photos cannot be colorized. Put the shipped generator file "
            f"at {settings.COLORIZER_DEFAULT_WEIGHTS} and run `python manage.py register_default_model`, or add "
            "a .safetensors generator under Model versions → Add and activate it.")


# --------------------------------------------------------------------------------------
# The shipped default model: colorizer/weights/default.safetensors (COLORIZER_DEFAULT_WEIGHTS)


# The sha256 of every generator file Hue shipped before the current one. An install still running
# one of them moves to a newly shipped default when it upgrades; one whose admin chose another
# version keeps it.
EARLIER_SHIPPED_DEFAULTS = frozenset({
    "d9e685dfb07c3c16c92b0b4568e3e8c1f731614dd11519d21b1a59ca626edd51",  # Lite0 U-Net, L1 regression
})


def register_shipped_default(using: str = "default") -> ModelVersion | None:
    """After migrate: the shipped weights become version 1, active, on an empty registry; on an
    existing one, a newly shipped file is added as the next version (see register_default_model)."""
    path = settings.COLORIZER_DEFAULT_WEIGHTS
    if not path.is_file():
        if not ModelVersion.objects.using(using).exists():
            log.warning("no shipped default model at %s; colorization waits for a model version (once the file "
                        "is there: python manage.py register_default_model)", path)
        return None
    version, _ = register_default_model(using=using)
    return version


def register_default_model(using: str = "default") -> tuple[ModelVersion, bool]:
    """Register the shipped weights unless a version already holds the same file (by sha256), and activate
    it when no version is active, or when it is new and the active version is an earlier shipped
    default. (version, whether it was added). FileNotFoundError without the file."""
    path = settings.COLORIZER_DEFAULT_WEIGHTS
    with path.open("rb") as handle:
        sha256 = file_sha256(handle)
        version = version_with_weights(sha256, using)
        added = version is None
        if added:
            version = register_version(File(handle, name=path.name), name="Shipped default",
                                       notes="The model shipped with Hue (colorizer/weights/default.safetensors).",
                                       metrics=shipped_metrics(path), using=using)
    active = ModelVersion.objects.using(using).filter(is_active=True).first()
    if active is None or (added and active.sha256 in EARLIER_SHIPPED_DEFAULTS):
        version = activate_version(version, using=using)
    return version, added


def version_with_weights(sha256: str, using: str = "default") -> ModelVersion | None:
    """The version whose weights file has this digest; versions registered before digests were kept
    get theirs now."""
    for version in ModelVersion.objects.using(using).filter(sha256=""):
        with version.weights.open("rb") as handle:
            ModelVersion.objects.using(using).filter(pk=version.pk).update(sha256=file_sha256(handle))
    return ModelVersion.objects.using(using).filter(sha256=sha256).order_by("number").first()


def shipped_metrics(weights_path) -> dict:
    """The shipped model's validation metrics from COLORIZER_DEFAULT_METRICS (docs/model_metrics.json,
    written by scripts/tools/default_model.py), or {} when there are none.

    That file scores every trained row; the shipped one is the row its weights were trained as (the
    generator's `recipe` metadata, written by the device pipeline), else the row collect picked.
    """
    from colorizer.checkpoint import read_header

    path = settings.COLORIZER_DEFAULT_METRICS
    if not path.is_file():
        return {}
    try:
        report = json.loads(path.read_text())
        extra = json.loads((read_header(weights_path).get("__metadata__") or {}).get("extra") or "{}")
        row = report["rows"][extra.get("recipe") or report["chosen"]]
        metrics = dict(row["metrics"])
        if report.get("images"):
            metrics["scored_on"] = f"all {report['images']} photos of the validation set"
        return metrics
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        log.warning("no metrics for the shipped model in %s: %r", path, exc)
        return {}


# --------------------------------------------------------------------------------------
# Comparing a candidate with its base on the same held-out photos


def comparison_verdict(comparison: dict) -> dict:
    """{"verdict": "better" | "worse" | "mixed" | "", "text": a sentence for the admin}.

    A candidate is worse when both accuracy measures agree that it is (AuC lower and CIEDE2000
    colour error higher on the same photos), better when both agree the other way, mixed
    otherwise. Colourfulness and FID are named beside them: on a few photos FID is noisy.
    """
    candidate, base = comparison.get("candidate") or {}, comparison.get("base") or {}
    if not all(key in metrics for metrics in (candidate, base) for key in ("auc", "ciede2000")):
        return {"verdict": "", "text": ""}
    photos, number = comparison.get("photos"), comparison.get("base_version")
    lower_auc = candidate["auc"] < base["auc"]
    higher_error = candidate["ciede2000"] > base["ciede2000"]
    verdict = "worse" if lower_auc and higher_error else "better" if not lower_auc and not higher_error else "mixed"
    figures = (f"AuC {candidate['auc']:.3f} against {base['auc']:.3f}, colour error {candidate['ciede2000']:.2f} "
               f"against {base['ciede2000']:.2f}")
    if "fid" in candidate and "fid" in base and candidate["fid"] is not None and base["fid"] is not None:
        figures += f", FID {candidate['fid']:.1f} against {base['fid']:.1f}"
    where = f"on the same {photos} held-out photos" if photos else "on the same held-out photos"
    base_name = f"its base v{number}" if number else "its base"
    text = {
        "worse": f"This candidate is worse than {base_name} {where}: {figures}. Activating it would make "
                 "colours less accurate; keep the base, or train again with fewer epochs or a lower learning rate.",
        "better": f"This candidate is better than {base_name} {where}: {figures}.",
        "mixed": f"This candidate is better than {base_name} on one measure and worse on the other, {where}: "
                 f"{figures}. Look at the samples before activating it.",
    }[verdict]
    return {"verdict": verdict, "text": text}


def scored_on(version: ModelVersion) -> str:
    """Which photos a version's metrics come from, for the admin's list."""
    if version.comparison.get("photos"):
        name = version.dataset_name or "its dataset"
        return f"{version.comparison['photos']} held-out photos of {name}"
    return version.metrics.get("scored_on", "")
