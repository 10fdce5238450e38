"""No job is lost or stuck when a worker dies mid-job or Redis forgets its queue."""

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.webapp import samples
from tests.webapp.conftest import upload
from tests.webapp.harness import ROOT, WorkerProcess, celery_broker, wait_for, worker_env, worker_in_thread
from webapp.core.jobs import JobState
from webapp.photos import colorizing, images, services
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
    # Queued longer ago than JOB_RESEND_QUEUED_AFTER (instead of waiting that long).
    Colorization.objects.filter(pk__in=[job.pk for job in jobs]).update(
        enqueued_at=timezone.now() - timedelta(seconds=1))
    with celery_broker(private_redis.url) as app, worker_in_thread(app):
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
    # Its last heartbeat as long ago as JOB_STALLED_AFTER (instead of waiting that long).
    Colorization.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=3))
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


def test_a_backlog_of_long_jobs_never_starves_the_stalled_job_reaper(alice, tiny_model, private_redis, tmp_path,
                                                                      media_storage, monkeypatch, settings):
    """The inference worker is busy with a long job and more wait behind it; a job whose worker died is
    requeued by the maintenance worker within two reaper intervals all the same."""
    interval = 10  # JOB_REAPER_INTERVAL: beat's reaper message expires after this long
    lost = services.accept_upload(alice, upload(samples.gray_jpeg(64, 48, seed=99), name="lost.jpg"))
    stalled = lost.colorizations.get()
    Colorization.objects.filter(pk=stalled.pk).update(state=JobState.RUNNING, attempts=1,
                                                      heartbeat_at=timezone.now() - timedelta(hours=1))
    release, busy = threading.Event(), threading.Event()

    def long_job(job):
        busy.set()
        release.wait(300)  # a long photo: the worker takes nothing else until it ends
        raise images.UnreadableImage("stopped by the test")

    monkeypatch.setattr(colorizing, "colorize", long_job)
    env = worker_env(private_redis.url, media_storage, tmp_path, JOB_STALLED_AFTER="1",
                     JOB_REAPER_INTERVAL=str(interval))
    with celery_broker(private_redis.url) as app:
        for n in range(4):  # the backlog
            services.accept_upload(alice, upload(samples.gray_jpeg(64, 48, seed=n)))
        maintenance = WorkerProcess(env, tmp_path / "maintenance.log", "--hostname", "maintenance@%h",
                                    queues=maintenance_queues())
        try:
            with worker_in_thread(app, queues=inference_queues()):
                busy.wait(120)
                wait_for(lambda: " ready." in maintenance.log.read_text(errors="replace"), timeout=120,
                         message="the maintenance worker to start")
                entry = app.conf.beat_schedule["requeue-stalled-jobs"]
                app.send_task(entry["task"], expires=interval)  # what beat sends every interval

                wait_for(lambda: states([stalled]) == ["queued"], timeout=2 * interval,
                         message=f"the stalled job to be requeued\n{maintenance.output()}")
                assert busy.is_set() and not release.is_set()  # the inference worker was busy all along
                release.set()
        finally:
            release.set()
            maintenance.stop()


def procfile_queues(process: str) -> str:
    command = next(line.split(":", 1)[1] for line in (ROOT / "Procfile").read_text().splitlines()
                   if line.startswith(f"{process}:"))
    words = command.split()
    return words[words.index("--queues") + 1]


def inference_queues() -> tuple[str, ...]:
    """The queues `make run`'s inference worker consumes."""
    return tuple(procfile_queues("inference").split(","))


def maintenance_queues() -> str:
    return procfile_queues("maintenance")
