"""Fine-tuning for real: a Celery worker trains a tiny model on CPU, staff watch it live, and the
new version colorizes once activated, without restarting the inference worker."""

import threading

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from PIL import Image

from tests.finetune.integration.conftest import make_job
from tests.webapp import samples
from tests.webapp.conftest import upload
from tests.webapp.harness import wait_for, worker_in_thread
from tests.webapp.test_consumers import session_headers
from webapp.asgi import application
from webapp.finetune import services
from webapp.finetune import runner as training
from webapp.finetune.models import FineTuneJob, FineTuneState
from webapp.photos import services as photos
from webapp.photos.models import Colorization
from webapp.registry.loader import get_colorizer
from webapp.registry.models import ModelVersion

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def state_of(job) -> str:
    return FineTuneJob.objects.get(pk=job.pk).state


@pytest.mark.asyncio
async def test_a_fine_tune_through_a_real_worker_makes_a_version_that_loads_and_colorizes(
        staff_user, dataset, base_version, quick_training, shared_redis):
    job = await sync_to_async(make_job)(dataset, base_version, staff_user)
    headers = await sync_to_async(session_headers)(staff_user)
    socket = WebsocketCommunicator(application, f"/ws/admin/finetune/{job.pk}/", headers=headers)
    assert (await socket.connect())[0]
    assert (await socket.receive_json_from())["type"] == "finetune.snapshot"

    with worker_in_thread(shared_redis, queues=["training"]):
        await sync_to_async(services.start_job)(job)  # outside a transaction: the task goes out at once
        await sync_to_async(wait_for)(lambda: state_of(job) in ("done", "failed"), timeout=240,
                                      message="the fine-tune to finish")

    job = await sync_to_async(FineTuneJob.objects.select_related("result_version").get)(pk=job.pk)
    assert job.state == FineTuneState.DONE, job.message
    version = job.result_version
    assert not version.is_active and version.base_version_id == base_version.pk
    assert {"auc", "ciede2000", "psnr", "colorfulness_gap"} <= set(version.metrics)
    assert set(job.comparison) >= {"candidate", "base"} and job.comparison["photos"] == 2
    assert (version.comparison, version.dataset_id, version.dataset_name) == (job.comparison, dataset.pk, "Holidays")
    assert not job.checkpoint_prefix  # its checkpoints went once the version was registered
    assert [epoch["stage"] for epoch in job.epoch_history] == ["l1", "gan"]
    assert version.sample_grid and len(version.history) == 2

    events = []
    while not await socket.receive_nothing(timeout=0.2):
        events.append(await socket.receive_json_from())
    await socket.disconnect()
    assert {event["job"]["progress"].get("stage") for event in events} >= {"l1", "gan"}
    assert any(event["losses"] for event in events)  # the live chart got points
    assert events[-1]["job"]["state"] == "done" and events[-1]["job"]["result_version_url"]

    def colorize_with_the_new_version():
        colorizer = get_colorizer(version)
        gray = Image.fromarray(np.tile(np.arange(80, dtype=np.uint8) * 3, (60, 1)), "L")
        return colorizer.colorize(gray)

    result = await sync_to_async(colorize_with_the_new_version)()
    assert (result.mode, result.size) == ("RGB", (80, 60))


def test_activation_switches_what_a_running_inference_worker_uses(alice, staff_user, base_version, shared_redis):
    from tests.factories import register_tiny_model

    candidate = register_tiny_model(name="Candidate", activate=False, seed=7)
    admin = Client()
    admin.force_login(staff_user)
    photo = photos.accept_upload(alice, upload(samples.gray_jpeg(96, 64)))  # its task goes out on commit
    first = photo.colorizations.get()

    with worker_in_thread(shared_redis):
        wait_for(lambda: Colorization.objects.get(pk=first.pk).state == "done", timeout=60, message="first photo")
        admin.post(reverse("admin:registry_modelversion_activate", args=[candidate.pk]), {"confirm": "yes"})  # the worker keeps running
        second = photos.request_colorization(photo, render_size=256, seed=5)
        wait_for(lambda: Colorization.objects.get(pk=second.pk).state == "done", timeout=60, message="second photo")

    assert Colorization.objects.get(pk=first.pk).model_version == base_version
    assert Colorization.objects.get(pk=second.pk).model_version == candidate


def test_cancel_stops_within_a_few_steps_and_resume_continues_from_the_checkpoint(
        staff_user, base_version, quick_training, monkeypatch):
    from tests.finetune.conftest import checked_dataset

    # The runner looks for a cancel after every step here (at most once a second in production), so
    # the count below measures the runner and the engine, not the clock.
    monkeypatch.setattr(training, "CANCEL_POLL_INTERVAL_S", 0.0)
    dataset = checked_dataset(staff_user, photos=16)  # 12 training photos in batches of 2: 6 steps an epoch
    job = make_job(dataset, base_version, staff_user, l1_epochs=1, gan_epochs=10)
    requested_at = []
    on_progress = training.JobRunner.on_progress

    def cancel_early_in_the_second_epoch(runner, event):
        on_progress(runner, event)
        if event["kind"] == "step" and event["global_step"] == 8 and not requested_at:
            services.request_cancel(FineTuneJob.objects.get(pk=job.pk))  # as the admin's button does
            requested_at.append(event["global_step"])

    monkeypatch.setattr(training.JobRunner, "on_progress", cancel_early_in_the_second_epoch)
    training.run_job(str(job.pk))

    job.refresh_from_db()
    assert job.state == FineTuneState.CANCELLED and job.can_resume
    stopped_at = job.loss_history[-1]["step"]  # every step is logged here
    assert stopped_at - requested_at[0] <= 1  # not at the end of the epoch (step 12), nor of the run
    assert job.progress["global_step"] == stopped_at
    assert job.checkpoint_prefix

    monkeypatch.setattr(training.JobRunner, "on_progress", on_progress)
    assert services.resume_job(job)
    training.run_job(str(job.pk))

    job.refresh_from_db()
    assert job.state == FineTuneState.DONE, job.message
    assert job.attempts == 2
    steps = [point["step"] for point in job.loss_history]
    assert steps == sorted(set(steps)) and steps[-1] == job.progress["total_steps"]
    assert min(steps) == 1 and any(step > stopped_at for step in steps)  # one continuous run of steps
    assert ModelVersion.objects.filter(pk=job.result_version_id).exists()


RUNNER_WRITES = ("state", "message", "claim_token", "heartbeat_at", "progress", "loss_history", "epoch_history",
                 "checkpoint_prefix", "sample_grid", "comparison", "result_version")


def test_a_run_whose_claim_is_revoked_stops_and_writes_nothing_more(staff_user, dataset, base_version,
                                                                    quick_training):
    from tests.finetune.conftest import stored_files

    job = make_job(dataset, base_version, staff_user, l1_epochs=1, gan_epochs=30)
    runner = threading.Thread(target=training.run_job, args=[str(job.pk)])
    runner.start()
    wait_for(lambda: FineTuneJob.objects.get(pk=job.pk).checkpoint_prefix, timeout=120,
             message="the first epoch's checkpoint")

    # The reaper marked it interrupted (its heartbeat was late), an admin resumed it, another worker claimed it.
    FineTuneJob.objects.filter(pk=job.pk).update(claim_token="another-worker")
    revoked = FineTuneJob.objects.filter(pk=job.pk).values(*RUNNER_WRITES).get()
    runner.join(timeout=60)

    assert not runner.is_alive(), "the run kept training after losing its claim"
    assert FineTuneJob.objects.filter(pk=job.pk).values(*RUNNER_WRITES).get() == revoked
    assert revoked["progress"]["global_step"] < revoked["progress"]["total_steps"]
    assert list(ModelVersion.objects.all()) == [base_version]
    kept = revoked["checkpoint_prefix"]
    assert stored_files(f"finetune/{job.pk}") == stored_files(kept) != []  # none added, the job's own kept


def test_a_job_whose_worker_died_is_shown_interrupted_and_can_be_resumed(staff_user, dataset, base_version, settings):
    from datetime import timedelta

    from django.utils import timezone

    from webapp.core import jobs

    job = make_job(dataset, base_version, staff_user)
    claimed = jobs.claim(FineTuneJob, job.pk)
    FineTuneJob.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=10),
                                                 checkpoint_prefix=f"finetune/{job.pk}/checkpoint-1")
    assert claimed is not None and state_of(job) == "running"

    assert services.requeue_stalled_jobs().ended == [job.pk]

    job.refresh_from_db()
    assert job.state == FineTuneState.INTERRUPTED and "last checkpoint" in job.message
    assert job.can_resume and not job.can_cancel
    assert services.resume_job(job)
    assert state_of(job) == "queued"
    assert services.requeue_stalled_jobs().ended == []  # a queued job is not touched


def points_past_the_stored_checkpoint(job) -> bool:
    """Whether the job's saved chart goes beyond the step of its stored checkpoint, mid-epoch: what a
    worker killed now leaves for the resumed run, which continues from that checkpoint, to clean up."""
    import json

    from django.core.files.storage import default_storage

    job = FineTuneJob.objects.get(pk=job.pk)
    if not job.checkpoint_prefix or not job.loss_history:
        return False
    try:
        with default_storage.open(f"{job.checkpoint_prefix}/state.json") as handle:
            checkpoint_step = json.load(handle)["global_step"]
    except FileNotFoundError:
        return False  # replaced by a newer one meanwhile
    return job.loss_history[-1]["step"] > checkpoint_step


def test_a_training_worker_killed_mid_job_leaves_it_interrupted_and_resume_finishes_it(
        staff_user, base_version, private_redis, tmp_path, media_storage, settings):
    import json

    from tests.finetune.conftest import checked_dataset
    from tests.webapp.harness import WorkerProcess, celery_broker, worker_env

    settings.FINETUNE_STALLED_AFTER = 2
    # 60 training photos in batches of 2: epochs long enough for progress saves between checkpoints.
    dataset = checked_dataset(staff_user, photos=80)
    job = make_job(dataset, base_version, staff_user, l1_epochs=1, gan_epochs=2)
    hold = tmp_path / "hold"  # the worker holds after every saved progress while this file exists
    held = tmp_path / "hold.held"  # ...and says so in this one, until it is removed
    hold.touch()
    env = worker_env(private_redis.url, media_storage, tmp_path, JOB_HEARTBEAT_INTERVAL="0.2",
                     TRAINING_DIR=str(tmp_path / "training"), FINETUNE_EVAL_FID="0", FINETUNE_HOLD_FILE=str(hold),
                     FINETUNE_LOADER_WORKERS="2",  # a prefork child must decode in-process regardless
                     FINETUNE_TRAIN_OPTIONS=json.dumps({"log_every": 1, "val_images": 4, "sample_count": 2}))
    with celery_broker(private_redis.url):
        services.start_job(job)

    first = WorkerProcess(env, tmp_path / "trainer-1.log", "--hostname", "first@%h", queues="training")
    try:
        # Step by step to the first progress saved after a stored checkpoint: the saved chart then holds steps
        # the resumed run redoes. The worker is held there (it stores no newer checkpoint) when it is killed.
        while True:
            wait_for(held.exists, timeout=180, message=f"the worker to hold after a saved progress\n{first.output()}")
            if points_past_the_stored_checkpoint(job):
                break
            held.unlink()  # on to the next saved progress
    finally:
        first.kill()
    hold.unlink()  # the resumed run goes straight through
    assert points_past_the_stored_checkpoint(job), "the kill came after the next checkpoint: nothing to rewind"
    job.refresh_from_db()
    assert job.state == FineTuneState.RUNNING  # nobody told the database

    wait_for(lambda: services.requeue_stalled_jobs().ended, timeout=10, message="the reaper to notice")
    job.refresh_from_db()
    assert job.state == FineTuneState.INTERRUPTED
    killed_at = job.progress["global_step"]

    with celery_broker(private_redis.url):
        assert services.resume_job(job)
    second = WorkerProcess(env, tmp_path / "trainer-2.log", "--hostname", "second@%h", queues="training")
    try:
        wait_for(lambda: state_of(job) in ("done", "failed"), timeout=240, message="the resumed job to finish")
    finally:
        second.stop()

    job.refresh_from_db()
    assert job.state == FineTuneState.DONE, f"{job.message}\n{second.output()}"
    assert job.attempts == 2 and job.result_version is not None
    steps = [point["step"] for point in job.loss_history]
    assert all(a < b for a, b in zip(steps, steps[1:])), steps  # the redone steps replaced, not appended
    assert min(steps) == 1 and steps[-1] == job.progress["total_steps"]  # the first session's points were kept
    assert [epoch["global_step"] for epoch in job.epoch_history] == [30, 60, 90]
    assert killed_at < job.progress["global_step"] == job.progress["total_steps"]


def test_a_fine_tune_of_a_hint_capable_version_makes_one_that_takes_hints(staff_user, dataset, quick_training):
    from tests.factories import register_hint_model

    base = register_hint_model(name="Hints")
    job = make_job(dataset, base, staff_user, gan_epochs=0)

    training.run_job(str(job.pk))

    job.refresh_from_db()
    assert job.state == FineTuneState.DONE, job.message
    version = job.result_version
    assert version.takes_hints and version.base_version_id == base.pk
    gray = Image.fromarray(np.tile(np.arange(80, dtype=np.uint8) * 3, (60, 1)), "L")
    result = get_colorizer(version).colorize(gray, hints=[(40, 30, (200, 30, 40))])
    assert (result.mode, result.size) == ("RGB", (80, 60))
