"""No job is lost or stuck when a worker dies mid-job or Redis forgets its queue."""

import time

import pytest

from tests.webapp import samples
from tests.webapp.conftest import upload
from tests.webapp.harness import WorkerProcess, celery_broker, wait_for, worker_env, worker_in_thread
from webapp.core.jobs import JobState
from webapp.photos import services
from webapp.photos.models import Colorization

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def states(jobs) -> list[str]:
    return [Colorization.objects.get(pk=job.pk).state for job in jobs]


def test_jobs_waiting_while_redis_is_emptied_and_restarted_still_finish(alice, tiny_model, private_redis, settings):
    settings.JOB_RESEND_QUEUED_AFTER = 0.5
    with celery_broker(private_redis.url):
        photos = [services.accept_upload(alice, upload(samples.gray_jpeg(64, 48, seed=n))) for n in range(3)]
    jobs = [photo.colorizations.get() for photo in photos]
    assert private_redis.client().llen("inference") == 3  # their messages wait in Redis...

    private_redis.empty_and_restart()

    assert private_redis.client().llen("inference") == 0  # ...and are gone
    with celery_broker(private_redis.url) as app, worker_in_thread(app):
        time.sleep(1)
        assert states(jobs) == ["queued"] * 3  # nothing left to deliver them
        from worker.tasks import requeue_stalled_jobs

        requeue_stalled_jobs.delay()  # what Celery beat sends every JOB_REAPER_INTERVAL

        wait_for(lambda: states(jobs) == ["done"] * 3, timeout=90, message="the requeued jobs to finish")

    assert [Colorization.objects.get(pk=job.pk).attempts for job in jobs] == [1, 1, 1]


def test_a_job_whose_worker_is_killed_mid_job_finishes_after_a_restart(alice, tiny_model, private_redis, tmp_path,
                                                                       media_storage):
    with celery_broker(private_redis.url):
        photo = services.accept_upload(alice, upload(samples.gray_jpeg(2400, 1600), name="big.jpg"))
    job = photo.colorizations.get()
    env = worker_env(private_redis.url, media_storage, tmp_path, JOB_HEARTBEAT_INTERVAL="0.2",
                     JOB_STALLED_AFTER="2", JOB_REAPER_INTERVAL="1")

    first = WorkerProcess(env, tmp_path / "worker-1.log", "--hostname", "first@%h")
    try:
        wait_for(lambda: states([job]) == ["running"], timeout=60, message="the first worker to claim the job")
        first.kill()
    finally:
        first.kill()
    time.sleep(3)  # longer than JOB_STALLED_AFTER
    assert states([job]) == ["running"], "nothing but the reaper can rescue it now"

    second = WorkerProcess(env, tmp_path / "worker-2.log", "--hostname", "second@%h", "--beat",
                           "--schedule", str(tmp_path / "beat-schedule"))
    try:
        wait_for(lambda: states([job]) in (["done"], ["failed"]), timeout=120, message="the job to finish")
    finally:
        second.stop()

    job.refresh_from_db()
    assert job.state == JobState.DONE, f"{job.message}\n{second.output()}"
    assert job.attempts == 2
    assert (media_storage / job.result.name).exists()
