"""The training runner around the engine: what it writes to the job, and when it must not."""

import json
from pathlib import Path

import pytest
from PIL import Image

from tests.factories import tiny_generator_bytes
from tests.finetune.conftest import stored_files
from webapp.core import broadcast, jobs
from webapp.finetune import datasets, run_files, services
from webapp.finetune import runner as training
from webapp.finetune.models import Dataset, FineTuneJob, FineTuneState
from webapp.registry import services as registry
from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(dataset, base_version, staff_user, settings, tmp_path):
    settings.TRAINING_DIR = tmp_path / "training"
    return FineTuneJob.objects.create(dataset=dataset, base_version=base_version, created_by=staff_user,
                                      image_size=64, batch_size=2, l1_epochs=1, gan_epochs=1)


@pytest.fixture
def pushed(monkeypatch):
    """Every websocket event sent, as (group, type, payload)."""
    sent = []
    monkeypatch.setattr(broadcast, "send", lambda group, type, payload: sent.append((group, type, payload)) or True)
    return sent


def test_a_resumed_run_drops_the_chart_points_after_its_checkpoint_and_pages_redraw(job, pushed):
    FineTuneJob.objects.filter(pk=job.pk).update(
        loss_history=[{"step": step, "stage": "l1", "G_L1": 10.0 - step} for step in range(1, 9)],
        epoch_history=[{"stage": "l1", "epoch": 1, "global_step": 4}, {"stage": "gan", "epoch": 1, "global_step": 8}])
    runner = training.JobRunner(jobs.claim(FineTuneJob, job.pk))
    checkpoint = runner.run_dir / "run" / "checkpoints"
    checkpoint.mkdir(parents=True)
    (checkpoint / "state.json").write_text(json.dumps({"global_step": 5, "epoch": 1}))  # saved after step 5

    runner.rewind_history()

    job.refresh_from_db()
    assert [point["step"] for point in job.loss_history] == [1, 2, 3, 4, 5]
    assert [epoch["global_step"] for epoch in job.epoch_history] == [4]
    [(group, type, payload)] = pushed
    assert (group, type) == (f"finetune.{job.pk}", "finetune.snapshot")
    assert [point["step"] for point in payload["losses"]] == [1, 2, 3, 4, 5]
    assert runner.pushed_step == 5


def test_a_run_without_a_checkpoint_starts_its_chart_over(job, pushed):
    FineTuneJob.objects.filter(pk=job.pk).update(loss_history=[{"step": 1, "stage": "l1", "G_L1": 9.0}])
    runner = training.JobRunner(jobs.claim(FineTuneJob, job.pk))

    runner.rewind_history()

    assert FineTuneJob.objects.get(pk=job.pk).loss_history == []
    assert [type for _, type, _ in pushed] == ["finetune.snapshot"]


class Engine:
    """colorizer.train.train and colorizer.evaluate.evaluate without the training: the files they leave
    and the events they send, for 4 steps in one L1 epoch. Tests hook `on_step(step)` and `on_score()`."""

    STEPS = 4

    def __init__(self):
        self.on_step = lambda step: None
        self.on_score = lambda: None
        self.scored = []

    def train(self, config, on_progress, should_stop):
        from colorizer.train import TrainResult

        out = Path(config.out_dir)
        checkpoints = out / "checkpoints"
        checkpoints.mkdir(parents=True, exist_ok=True)
        grid = out / "samples" / "epoch_001.png"
        grid.parent.mkdir(exist_ok=True)
        Image.new("RGB", (12, 4)).save(grid)
        base = {"stage": "l1", "epoch": 1, "epochs": 1, "steps_per_epoch": self.STEPS, "total_steps": self.STEPS,
                "eta_seconds": 0.0, "images_per_second": 10.0}
        stopped = False
        for step in range(1, self.STEPS + 1):
            losses = {"D_real": None, "D_fake": None, "G_GAN": None, "G_L1": 10.0 - step}
            on_progress({**base, "kind": "step", "step": step, "global_step": step, "losses": losses})
            self.on_step(step)
            if should_stop():
                stopped = True
                break
        if not stopped:
            (checkpoints / "state.json").write_text(json.dumps({"global_step": step}))
            on_progress({**base, "kind": "epoch", "step": step, "global_step": step, "losses": losses,
                         "val": {"l1": 0.1}, "sample_grid": str(grid), "checkpoint": str(checkpoints)})
        (checkpoints / "state.json").write_text(json.dumps({"global_step": step}))
        (out / "generator.safetensors").write_bytes(tiny_generator_bytes(seed=5))
        on_progress({"kind": "cancelled" if stopped else "done", "global_step": step, "total_steps": self.STEPS,
                     "checkpoint": str(checkpoints), "sample_grid": str(grid)})
        return TrainResult(generator_path=str(out / "generator.safetensors"), history=[{"epoch": 1, "stage": "l1"}],
                           val_metrics={}, sample_grid=str(grid), curves=None, checkpoint_dir=str(checkpoints),
                           cancelled=stopped, global_step=step)

    def evaluate(self, model, data_dir, **options):
        self.scored.append(Path(model).name)
        self.on_score()
        return {"model": {"auc": 0.9 if len(self.scored) == 1 else 0.8}}


@pytest.fixture
def engine(monkeypatch, settings):
    from colorizer import evaluate, train

    settings.FINETUNE_EVAL_FID = False
    settings.COLORIZER_DEVICE = "cpu"
    fake = Engine()
    monkeypatch.setattr(train, "train", fake.train)
    monkeypatch.setattr(evaluate, "evaluate", fake.evaluate)
    return fake


def test_a_finished_job_registers_one_version_and_deletes_its_checkpoints(job, engine, monkeypatch):
    stored = []
    store = training.JobRunner.store_checkpoint
    monkeypatch.setattr(training.JobRunner, "store_checkpoint",
                        lambda runner, folder: stored.append(folder) or store(runner, folder))

    training.run_job(str(job.pk))

    job.refresh_from_db()
    assert job.state == FineTuneState.DONE, job.message
    assert job.result_version.metrics == {"auc": 0.9} and job.comparison["base"] == {"auc": 0.8}
    assert len(stored) == 1  # the epoch's checkpoint; not copied again on "done"
    assert stored_files(f"finetune/{job.pk}") == [] and job.checkpoint_prefix == ""


def test_a_crash_between_registering_and_finishing_leaves_no_version_for_the_resume_to_duplicate(
        job, engine, base_version, monkeypatch):
    register = registry.register_version

    def register_then_die(*args, **kwargs):
        register(*args, **kwargs)
        raise RuntimeError("the worker died here")

    monkeypatch.setattr(registry, "register_version", register_then_die)
    training.run_job(str(job.pk))
    job.refresh_from_db()
    assert job.state == FineTuneState.FAILED and list(ModelVersion.objects.all()) == [base_version]
    assert stored_files(job.checkpoint_prefix)  # kept for the resume

    monkeypatch.setattr(registry, "register_version", register)
    assert services.resume_job(job)
    training.run_job(str(job.pk))

    job.refresh_from_db()
    assert job.state == FineTuneState.DONE, job.message
    assert ModelVersion.objects.exclude(pk=base_version.pk).count() == 1


def test_a_cancel_during_scoring_ends_the_job_cancelled_not_done(job, engine, base_version):
    engine.on_score = lambda: services.request_cancel(FineTuneJob.objects.get(pk=job.pk))

    training.run_job(str(job.pk))

    job.refresh_from_db()
    assert job.state == FineTuneState.CANCELLED and "while scoring" in job.message
    assert list(ModelVersion.objects.all()) == [base_version] and job.can_resume
    assert stored_files(job.checkpoint_prefix)  # the training is kept for the resume


def test_a_cancel_while_the_photos_are_copied_ends_the_job_before_training(job, engine, monkeypatch):
    trained = []
    monkeypatch.setattr(engine, "train", lambda *args, **kwargs: trained.append(True))
    copy = run_files.copy_atomically

    def copy_then_cancel(source, target):
        copy(source, target)
        services.request_cancel(FineTuneJob.objects.get(pk=job.pk))

    monkeypatch.setattr(run_files, "copy_atomically", copy_then_cancel)
    training.run_job(str(job.pk))

    job.refresh_from_db()
    assert job.state == FineTuneState.CANCELLED and "preparing the photos" in job.message
    assert trained == []


def test_a_cancel_mid_epoch_records_the_step_it_stopped_at(job, engine, monkeypatch):
    monkeypatch.setattr(training, "CANCEL_POLL_INTERVAL_S", 0.0)
    engine.on_step = lambda step: step == 3 and services.request_cancel(FineTuneJob.objects.get(pk=job.pk))

    training.run_job(str(job.pk))

    job.refresh_from_db()
    assert job.state == FineTuneState.CANCELLED
    assert job.progress["global_step"] == 3 and [point["step"] for point in job.loss_history] == [1, 2, 3]
    assert stored_files(job.checkpoint_prefix)


def test_progress_pushes_keep_the_stopping_state_an_admin_asked_for(job, pushed):
    runner = training.JobRunner(jobs.claim(FineTuneJob, job.pk))  # its copy of the job predates the cancel
    services.request_cancel(FineTuneJob.objects.get(pk=job.pk))
    pushed.clear()

    runner.on_progress({"kind": "step", "stage": "l1", "epoch": 1, "epochs": 1, "step": 3, "steps_per_epoch": 9,
                        "global_step": 3, "total_steps": 9, "losses": {"G_L1": 4.0}, "eta_seconds": 5.0,
                        "images_per_second": 2.0})

    [(_, _, payload)] = pushed
    assert payload["job"]["cancel_requested"] and not payload["job"]["can_cancel"]
    assert payload["job"]["message"] == "Stopping at the next step…"
    assert payload["job"]["progress"]["global_step"] == 3 and payload["losses"][0]["step"] == 3


def test_settings_refuse_train_options_that_a_job_sets_itself():
    from tests.foundation.test_settings import run_manage

    result = run_manage("check", env_overrides={"FINETUNE_TRAIN_OPTIONS": '{"resume": false, "compile": true}'})

    assert result.returncode != 0
    assert "FINETUNE_TRAIN_OPTIONS may not set resume (a job always continues from its own checkpoint)" in result.stderr


@pytest.mark.parametrize("options, reason", [
    ({"out_dir": "/srv/elsewhere", "log_every": 1}, "may not set out_dir (set from TRAINING_DIR)"),
    ({"checkpoint_every": 5}, "may not set checkpoint_every"),
    ({"log_evry": 1}, "names no colorizer.train.TrainConfig field: log_evry"),
])
def test_a_job_refuses_train_options_it_cannot_honour_before_it_prepares_anything(job, engine, settings, monkeypatch,
                                                                                  options, reason):
    settings.FINETUNE_TRAIN_OPTIONS = options
    monkeypatch.setattr(engine, "train", lambda *args, **kwargs: pytest.fail("it trained"))

    training.run_job(str(job.pk))

    job.refresh_from_db()
    assert job.state == FineTuneState.FAILED and reason in job.message
    assert not (training.JobRunner(job).run_dir / "photos").exists()


def test_every_field_a_job_owns_is_a_field_of_the_engine():
    from dataclasses import fields

    from colorizer.train import TrainConfig
    from webapp.finetune.options import JOB_OWNED

    assert set(JOB_OWNED) <= {field.name for field in fields(TrainConfig)}


@pytest.fixture
def folder_job(settings, tmp_path, base_version, staff_user):
    """A job on a server folder of four photos, checked while everything was in place."""
    from tests.finetune.conftest import colour_photo

    settings.TRAINING_DIR = tmp_path / "training"
    root = tmp_path / "datasets"
    (root / "trip" / "day1").mkdir(parents=True)
    for index in range(4):
        (root / "trip" / "day1" / f"{index}.jpg").write_bytes(colour_photo(index))
    settings.DATASET_FOLDER_ROOTS = [str(root)]
    dataset = Dataset.objects.create(name="Trip", source=Dataset.Source.FOLDER, folder=str(root / "trip"))
    datasets.check_dataset(str(dataset.pk))
    job = FineTuneJob.objects.create(dataset=dataset, base_version=base_version, created_by=staff_user,
                                     image_size=64, batch_size=2)
    return training.JobRunner(jobs.claim(FineTuneJob, job.pk)), root


def test_a_folder_datasets_photos_are_linked_from_its_checked_folder(folder_job):
    runner, root = folder_job

    train_dir, val_dir = runner.prepare_photos()

    targets = {path.resolve() for folder in (train_dir, val_dir) for path in folder.iterdir()}
    assert targets == {(root / "trip" / "day1" / f"{index}.jpg").resolve() for index in range(4)}


def test_preparing_refuses_a_folder_that_now_leads_outside_it(folder_job, tmp_path):
    import shutil

    from webapp.finetune.ingest import DatasetRejected

    runner, root = folder_job
    elsewhere = tmp_path / "private"
    shutil.copytree(root / "trip" / "day1", elsewhere)
    shutil.rmtree(root / "trip" / "day1")
    (root / "trip" / "day1").symlink_to(elsewhere)  # swapped for a link after the check

    with pytest.raises(DatasetRejected, match="now leads outside the dataset's folder"):
        runner.prepare_photos()


def test_preparing_refuses_a_folder_no_longer_under_the_allowed_roots(folder_job, settings, tmp_path):
    from webapp.finetune.ingest import DatasetRejected

    runner, _ = folder_job
    settings.DATASET_FOLDER_ROOTS = [str(tmp_path / "other-datasets")]

    with pytest.raises(DatasetRejected, match="outside the folders datasets may come from"):
        runner.prepare_photos()
