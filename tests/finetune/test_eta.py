"""Time left and position of a fine-tuning run, from the epochs the runner timed."""

import pytest

from tests.finetune.test_runner import job, pushed  # noqa: F401  (fixtures)
from webapp.core import jobs
from webapp.finetune import runner as training
from webapp.finetune.eta import position, seconds_left
from webapp.finetune.models import FineTuneJob

STEPS = 10


def progress(kind, stage, epoch, step, engine_eta=1.0):
    return {"kind": kind, "stage": stage, "epoch": epoch, "epochs": 1 if stage == "l1" else 3, "step": step,
            "steps_per_epoch": STEPS, "eta_seconds": engine_eta, "images_per_second": 4.0}


def test_time_left_counts_whole_timed_epochs_not_just_their_steps():
    history = [{"stage": "l1", "epoch": 1, "seconds": 15.0}]

    # GAN epoch 1 of 3 is half done after 7 s: 14 s an epoch, 7 s of this one and two more.
    left = seconds_left(progress("step", "gan", 1, 5), history, l1_epochs=1, gan_epochs=3, elapsed_in_epoch=7.0)

    assert left == pytest.approx(7 + 2 * 14)


def test_a_stage_with_timed_epochs_uses_their_mean():
    history = [{"stage": "l1", "seconds": 10.0}, {"stage": "gan", "seconds": 20.0}, {"stage": "gan", "seconds": 22.0}]

    left = seconds_left(progress("step", "gan", 3, 2), history, l1_epochs=1, gan_epochs=3, elapsed_in_epoch=5.0)

    assert left == pytest.approx(21 - 5)


def test_the_first_epoch_is_extrapolated_from_how_far_it_has_come():
    left = seconds_left(progress("step", "l1", 1, 2), [], l1_epochs=1, gan_epochs=2, elapsed_in_epoch=3.0)

    assert left == pytest.approx(15 - 3 + 2 * 15)  # the GAN epochs as long as the L1 one until timed


def test_after_the_last_epoch_nothing_is_left():
    history = [{"stage": "l1", "seconds": 10.0}, {"stage": "gan", "seconds": 20.0}]

    assert seconds_left(progress("epoch", "gan", 1, STEPS), history, l1_epochs=1, gan_epochs=1,
                        elapsed_in_epoch=0.0) == 0.0


def test_nothing_timed_yet_gives_no_estimate():
    assert seconds_left(progress("step", "l1", 1, 0), [], l1_epochs=1, gan_epochs=1, elapsed_in_epoch=None) is None


def test_position_of_a_step_in_stages_and_epochs():
    assert position(10, 10, l1_epochs=1) == {"stage": "l1", "epoch": 1, "step": 10}
    assert position(11, 10, l1_epochs=1) == {"stage": "gan", "epoch": 1, "step": 1}
    assert position(35, 10, l1_epochs=1) == {"stage": "gan", "epoch": 3, "step": 5}


@pytest.mark.django_db
def test_the_job_page_estimate_includes_what_the_engine_leaves_out(job, pushed):  # noqa: F811
    FineTuneJob.objects.filter(pk=job.pk).update(l1_epochs=1, gan_epochs=3, batch_size=2)
    runner = training.JobRunner(jobs.claim(FineTuneJob, job.pk))
    now = [100.0]
    runner.clock = lambda: now[0]
    losses = {"D_real": None, "D_fake": None, "G_GAN": None, "G_L1": 1.0}
    event = {"global_step": 2, "total_steps": 40, "losses": losses}

    runner.on_progress({**progress("step", "l1", 1, 2), **event})  # 2 steps x 2 photos at 4/s: began 1 s ago
    now[0] = 114.0  # the epoch ends 15 s after it began: steps, validation, samples, checkpoint
    runner.on_progress({**progress("epoch", "l1", 1, STEPS, engine_eta=8.0), **event, "global_step": 10})

    job.refresh_from_db()
    assert job.epoch_history[-1]["seconds"] == pytest.approx(15.0)
    assert job.progress["eta_seconds"] == pytest.approx(3 * 15.0)  # the engine said 8 s


@pytest.mark.django_db
def test_a_cancel_in_the_gan_stage_shows_that_stage_even_if_its_steps_were_not_saved(job, pushed):  # noqa: F811
    FineTuneJob.objects.filter(pk=job.pk).update(l1_epochs=1, gan_epochs=3)
    runner = training.JobRunner(jobs.claim(FineTuneJob, job.pk))
    losses = {"D_real": None, "D_fake": None, "G_GAN": None, "G_L1": 1.0}
    runner.on_progress({**progress("epoch", "l1", 1, STEPS), "global_step": 10, "total_steps": 40, "losses": losses})
    runner.on_progress({**progress("step", "gan", 1, 2), "global_step": 12, "total_steps": 40, "losses": losses})

    runner.on_progress({"kind": "cancelled", "global_step": 13, "total_steps": 40})

    job.refresh_from_db()
    assert (job.progress["stage"], job.progress["epoch"], job.progress["step"]) == ("gan", 1, 3)
    assert job.progress["eta_seconds"] is None
