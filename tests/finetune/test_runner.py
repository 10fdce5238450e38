"""The training runner around the engine: what it writes to the job, and when it must not."""

import json

import pytest
from django.core.files.base import ContentFile

from tests.finetune.conftest import colour_zip
from webapp.core import broadcast, jobs
from webapp.finetune import services
from webapp.finetune.models import Dataset, FineTuneJob

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(staff_user):
    dataset = Dataset(name="Holidays", source=Dataset.Source.ARCHIVE, created_by=staff_user)
    dataset.archive.save("upload.zip", ContentFile(colour_zip(4)), save=False)
    dataset.save()
    services.check_dataset(str(dataset.pk))
    return Dataset.objects.get(pk=dataset.pk)


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
    runner = services.JobRunner(jobs.claim(FineTuneJob, job.pk))
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
    runner = services.JobRunner(jobs.claim(FineTuneJob, job.pk))

    runner.rewind_history()

    assert FineTuneJob.objects.get(pk=job.pk).loss_history == []
    assert [type for _, type, _ in pushed] == ["finetune.snapshot"]
