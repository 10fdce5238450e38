"""Datasets: queueing a dataset's check, the check itself (in a training worker), rescuing a check
whose worker died, and deleting a dataset.

A check is a Job (webapp.core.jobs) like a colorization: claimed once, heartbeaten, finished as
done (ready to train on) or failed (rejected), and reaped by the same lifecycle.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import transaction

from webapp.core import jobs, queue
from webapp.finetune.archive import ArchiveRejected
from webapp.finetune.ingest import MAX_SKIP_EXAMPLES, DatasetRejected, ingest_archive, ingest_folder, write_manifest
from webapp.finetune.models import Dataset, FineTuneJob, FineTuneState
from webapp.finetune.stored_files import delete_tree

log = logging.getLogger(__name__)

MESSAGE_MAX = 2000  # a rejection may list many reasons; more than this is not read


class DatasetInUse(ValueError):
    """A job is queued or training on the dataset; the message says which, for a person."""


# --- On the web side ---------------------------------------------------------------------


def queue_check(dataset: Dataset) -> None:
    """Send the dataset's check to a training worker once the transaction that saved it commits."""
    transaction.on_commit(lambda: send_check(dataset))


def send_check(dataset: Dataset) -> None:
    queue.send(queue.CHECK_DATASET, dataset.pk)


def dataset_in_use(dataset: Dataset) -> bool:
    """Whether a job is queued or training on the dataset (it cannot be deleted then)."""
    return dataset.jobs.exclude(state__in=[FineTuneState.DONE, *FineTuneJob.RESUMABLE]).exists()


def delete_dataset(dataset: Dataset) -> None:
    """Remove a dataset and the photos it stored (never a server folder's own files)."""
    if dataset_in_use(dataset):
        raise DatasetInUse(f"{dataset}: a fine-tuning job is still queued or training on it; cancel it first")
    archive_name = dataset.archive.name
    prefix = dataset.storage_prefix
    dataset.jobs.all().delete()
    dataset.delete()
    transaction.on_commit(lambda: (delete_tree(prefix), archive_name and default_storage.delete(archive_name)))


# --- In the training worker ----------------------------------------------------------------


def check_dataset(dataset_id) -> None:
    """Check a dataset's photos once; a second delivery finds nothing to claim, and the reaper hands a
    check whose worker died to a new attempt."""
    dataset = jobs.claim(Dataset, dataset_id)
    if dataset is None:
        return
    archive_name = dataset.archive.name  # finishing clears the field; the file goes after
    delete_tree(dataset.storage_prefix)  # whatever an attempt whose worker died had stored
    try:
        with jobs.Heartbeat(dataset, interval=settings.JOB_HEARTBEAT_INTERVAL):
            report = ingest_archive(dataset) if dataset.source == Dataset.Source.ARCHIVE else ingest_folder(dataset)
        if not report.kept:
            raise DatasetRejected("no usable colour photos were found" + _reasons(report.skipped_by_reason))
        with transaction.atomic():
            # Locked, so the reaper cannot hand the check to another attempt between this test and the write.
            if not jobs.owned(dataset).select_for_update().exists():
                log.info("dataset %s was handed to another attempt while this one checked it", dataset.pk)
                return
            write_manifest(dataset, report)
            jobs.finish(
                dataset, Dataset.State.DONE, f"{len(report.kept):,} photos ready; {len(report.skipped):,} skipped.",
                image_count=len(report.kept), skipped_count=len(report.skipped),
                skipped_by_reason=report.skipped_by_reason, skipped_examples=report.skipped[:MAX_SKIP_EXAMPLES],
                thumbnails=report.thumbnails, archive="",
            )
    except Exception as exc:
        refused = isinstance(exc, (ArchiveRejected, DatasetRejected))
        if not refused:
            log.exception("checking dataset %s failed", dataset.pk)
        message = str(exc) if refused else f"Checking failed: {exc}"
        if jobs.finish(dataset, Dataset.State.FAILED, message[:MESSAGE_MAX], archive=""):
            _discard_files(dataset, archive_name)
        return
    if archive_name:
        default_storage.delete(archive_name)  # the accepted photos are stored; the upload is spent


def _reasons(by_reason: dict[str, int]) -> str:
    if not by_reason:
        return ""
    return " (skipped: " + ", ".join(f"{count} {reason}" for reason, count in by_reason.items()) + ")"


def _discard_files(dataset: Dataset, archive_name: str) -> None:
    """A rejected dataset keeps nothing: no half-stored photos, and not its upload (up to gigabytes)."""
    delete_tree(dataset.storage_prefix)
    if archive_name:
        default_storage.delete(archive_name)


# --- The reaper (maintenance worker) ---------------------------------------------------------


def requeue_stalled_checks() -> jobs.ReaperReport:
    """Checks whose worker died (no heartbeat) are sent again, or end failed after JOB_MAX_ATTEMPTS;
    queued checks whose message Redis lost get it sent again (a check that waits behind a long training
    run gets a copy every JOB_RESEND_QUEUED_AFTER: only one can claim)."""
    policy = jobs.ReaperPolicy(
        stalled_after=settings.FINETUNE_STALLED_AFTER,
        resend_after=settings.JOB_RESEND_QUEUED_AFTER,
        max_attempts=settings.JOB_MAX_ATTEMPTS,
        end_message=lambda dataset: (f"The training worker stopped while checking these photos, {dataset.attempts} "
                                     "times. A photo may be too large for its memory: try a smaller set."),
        requeue_message="Waiting for the training worker again: it stopped while checking these photos.",
    )
    return jobs.requeue_stalled(Dataset, policy, send=send_check, changed=_after_reaped)


def _after_reaped(dataset: Dataset) -> None:
    if dataset.state == Dataset.State.FAILED:
        archive_name = dataset.archive.name
        Dataset.objects.filter(pk=dataset.pk).update(archive="")
        _discard_files(dataset, archive_name)
