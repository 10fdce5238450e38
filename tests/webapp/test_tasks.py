"""The colorize task as Celery runs it: retried with backoff after a transient error, never for a bad message."""

import pytest
from celery.signals import task_retry

from webapp.core.jobs import JobState
from webapp.photos import images
from worker.tasks import colorize_photo

pytestmark = pytest.mark.django_db


@pytest.fixture
def retries():
    """The retries Celery makes while the test runs (celery.exceptions.Retry: exc, when)."""
    reasons = []

    def record(sender=None, reason=None, **kwargs):
        reasons.append(reason)

    task_retry.connect(record, weak=False)
    yield reasons
    task_retry.disconnect(record)


def test_it_retries_whatever_escapes_the_service_with_capped_jittered_backoff_and_survives_a_lost_worker():
    assert colorize_photo.autoretry_for == (Exception,)
    assert (colorize_photo.retry_backoff, colorize_photo.retry_backoff_max, colorize_photo.retry_jitter) == (
        5, 300, True)
    assert colorize_photo.max_retries is None  # JOB_MAX_ATTEMPTS bounds it
    assert colorize_photo.acks_late and colorize_photo.reject_on_worker_lost


def test_a_transient_error_once_is_retried_by_celery_and_the_job_ends_done(tiny_model, job, monkeypatch, retries):
    open_original = images.open_original
    hiccups = []

    def storage_hiccup_once(handle):
        if not hiccups:
            hiccups.append(True)
            raise ConnectionResetError("storage connection reset")
        return open_original(handle)

    monkeypatch.setattr(images, "open_original", storage_hiccup_once)

    # Eager: Celery runs the retry at once, in this process, instead of after its countdown.
    result = colorize_photo.apply(args=[str(job.pk)])

    job.refresh_from_db()
    assert result.successful(), result.traceback
    assert (job.state, job.attempts, job.message) == (JobState.DONE, 2, "")
    [retry] = retries
    assert repr(retry.exc) == "TransientJobError('storage connection reset')"
    assert 0 <= retry.when <= 5  # the first backoff step, jittered down


def test_a_task_for_a_malformed_id_is_dropped_without_a_retry(retries):
    result = colorize_photo.apply(args=["not-a-uuid"])

    assert result.successful(), result.traceback
    assert retries == []
