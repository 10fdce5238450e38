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


def test_the_jobs_attempts_bound_the_retries_not_celery(tiny_model, job, monkeypatch, retries, settings):
    settings.JOB_MAX_ATTEMPTS = 3

    def storage_down(handle):
        raise ConnectionResetError("storage connection reset")

    monkeypatch.setattr(images, "open_original", storage_down)

    result = colorize_photo.apply(args=[str(job.pk)])

    job.refresh_from_db()
    assert result.successful(), result.traceback  # the last attempt ends the job, not the task
    assert (job.state, job.attempts) == (JobState.FAILED, 3)
    assert job.message == "Colorization failed after 3 attempts: storage connection reset"
    assert len(retries) == 2
