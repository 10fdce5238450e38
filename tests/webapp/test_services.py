import io
from datetime import timedelta

import numpy as np
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import DatabaseError
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from tests.webapp import samples
from tests.factories import register_tiny_model
from tests.webapp.conftest import upload
from webapp.core import broadcast
from webapp.core.jobs import JobState
from webapp.photos import colorizing, images, services
from webapp.photos.images import UploadRejected
from webapp.photos.models import Colorization, Photo

pytestmark = pytest.mark.django_db


def stored_files(media_storage) -> list[str]:
    return sorted(str(path.relative_to(media_storage)) for path in media_storage.rglob("*") if path.is_file())


# --- Uploads -------------------------------------------------------------------------------


def test_it_stores_the_original_with_renditions_and_queues_a_job(alice, media_storage, sent_tasks,
                                                                 django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        photo = services.accept_upload(alice, upload(samples.gray_jpeg(96, 64), name="Grandma 1952.jpg"))

    assert (photo.owner, photo.original_name, photo.format, photo.width, photo.height) == (
        alice, "Grandma 1952.jpg", "JPEG", 96, 64)
    assert stored_files(media_storage) == sorted(
        [f"photos/{photo.pk}/original.jpg", f"photos/{photo.pk}/thumbnail.jpg", f"photos/{photo.pk}/preview.jpg"])
    job = photo.colorizations.get()
    assert (job.state, job.render_size, job.seed, job.attempts) == (JobState.QUEUED, 256, None, 0)
    assert sent_tasks == [str(job.pk)]


def test_the_task_is_sent_only_after_the_transaction_commits(alice, sent_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.accept_upload(alice, upload(samples.gray_jpeg()))

        assert sent_tasks == []
    assert callbacks


def test_a_rejected_upload_stores_nothing(alice, media_storage):
    with pytest.raises(UploadRejected):
        services.accept_upload(alice, upload(samples.truncated_jpeg()))

    assert stored_files(media_storage) == []
    assert not Photo.objects.exists()


def test_a_broker_outage_does_not_lose_the_upload(alice, monkeypatch, django_capture_on_commit_callbacks):
    from worker.tasks import colorize_photo

    def broker_down(*args, **kwargs):
        raise ConnectionRefusedError("redis is down")

    monkeypatch.setattr(colorize_photo, "apply_async", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        photo = services.accept_upload(alice, upload(samples.gray_jpeg()))

    assert photo.colorizations.get().state == JobState.QUEUED  # the reaper sends it later


@pytest.mark.django_db(transaction=True)
def test_an_event_failing_after_the_commit_never_undoes_the_upload(alice, monkeypatch, media_storage, sent_tasks):
    def channel_layer_down(job):
        raise ConnectionRefusedError("the channel layer is down")

    monkeypatch.setattr(services.events, "job_changed", channel_layer_down)

    photo = services.accept_upload(alice, upload(samples.gray_jpeg()))

    photo.refresh_from_db()
    assert sorted(stored_files(media_storage)) == sorted([photo.original.name, photo.thumbnail.name,
                                                          photo.preview.name])
    assert sent_tasks == [str(photo.colorizations.get().pk)]  # the task went out all the same


@pytest.mark.django_db(transaction=True)
def test_the_files_stay_when_something_raises_once_the_rows_have_committed(alice, monkeypatch, media_storage):
    """A request cancelled (or any error) after the commit: the committed photo keeps its files."""

    def cancelled(job):
        raise KeyboardInterrupt  # stands for a cancellation arriving while the commit's callbacks run

    monkeypatch.setattr(services, "send_task", cancelled)

    with pytest.raises(KeyboardInterrupt):
        services.accept_upload(alice, upload(samples.gray_jpeg()))

    photo = Photo.objects.get()
    assert sorted(stored_files(media_storage)) == sorted([photo.original.name, photo.thumbnail.name,
                                                          photo.preview.name])


@pytest.mark.django_db(transaction=True)
def test_the_files_are_removed_when_the_rows_do_not_commit(alice, monkeypatch, media_storage):
    def database_gone(*args, **kwargs):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(services, "request_colorization", database_gone)

    with pytest.raises(DatabaseError):
        services.accept_upload(alice, upload(samples.gray_jpeg()))

    assert not Photo.objects.exists() and stored_files(media_storage) == []


def test_a_job_whose_original_is_missing_fails_at_once_without_a_server_path(tiny_model, job, media_storage):
    (media_storage / job.photo.original.name).unlink()

    colorizing.run_colorization(job.pk)  # no TransientJobError: retrying cannot bring the file back

    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.FAILED, 1)
    assert job.message == "The uploaded file of this photo is missing. Delete this photo and upload it again."


def test_error_messages_never_show_server_paths(tiny_model, job, monkeypatch, settings):
    settings.JOB_MAX_ATTEMPTS = 1

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/srv/hue/var/media/photos/x/original.jpg")

    monkeypatch.setattr(images, "open_original", denied)
    colorizing.run_colorization(job.pk)

    job.refresh_from_db()
    assert job.message == "Colorization failed: Permission denied"


def test_the_upright_size_of_an_exif_rotated_photo_is_recorded(alice):
    photo = services.accept_upload(alice, upload(samples.exif_rotated_jpeg(96, 64)))

    assert (photo.width, photo.height) == (64, 96)
    with default_storage.open(photo.thumbnail.name) as handle, Image.open(handle) as thumbnail:
        assert thumbnail.size == (64, 96)


def test_what_the_upload_was_told_is_shown_on_the_photos_page_later(alice, client):
    photo = services.accept_upload(alice, upload(samples.animated_gif(), name="dance.gif"))
    client.force_login(alice)

    page = client.get(photo.get_absolute_url()).content.decode()

    assert "This is an animated GIF: Hue colorizes its first frame." in page


# --- Who sees what -------------------------------------------------------------------------


def test_it_validates_ownership(photo, stranger, staff, alice):
    assert list(services.photos_of(alice)) == [photo]
    assert list(services.photos_of(stranger)) == []
    assert list(services.photos_of(staff)) == []  # being staff is not enough: photos.view_any_photo is
    assert list(services.colorizations_of(stranger)) == []


def test_view_any_photo_lets_staff_view_but_not_change_other_users_photos(photo, staff):
    from django.contrib.auth.models import Permission, User

    staff.user_permissions.add(Permission.objects.get(codename="view_any_photo"))
    staff = User.objects.get(pk=staff.pk)

    assert list(services.photos_of(staff)) == [photo]
    assert list(services.photos_of(staff, viewing=False)) == []


def test_unfinished_jobs_are_the_users_own(photo, stranger, alice):
    assert [job.photo for job in services.unfinished_jobs(alice)] == [photo]
    assert services.unfinished_jobs(stranger) == []


# --- Running a job -------------------------------------------------------------------------


def test_it_colorizes_at_full_resolution_and_records_how(tiny_model, alice):
    photo = services.accept_upload(alice, upload(samples.gray_jpeg(150, 100)))
    job = photo.colorizations.get()

    colorizing.run_colorization(job.pk)

    job.refresh_from_db()
    assert job.state == JobState.DONE, job.message
    assert (job.attempts, job.model_version, job.model_label, job.render_size) == (1, tiny_model, "v1", 256)
    assert job.started_at <= job.finished_at
    with default_storage.open(job.result.name) as handle, Image.open(handle) as result:
        assert (result.format, result.mode, result.size) == ("PNG", "RGB", (150, 100))
    assert default_storage.exists(job.result_thumbnail.name) and default_storage.exists(job.result_preview.name)


def test_an_animated_gif_is_colorized_from_its_first_frame(tiny_model, alice):
    photo = services.accept_upload(alice, upload(samples.two_frames("GIF", first=40, second=210), name="dance.gif"))
    job = photo.colorizations.get()

    colorizing.run_colorization(job.pk)

    job.refresh_from_db()
    with default_storage.open(job.result.name) as handle, Image.open(handle) as result:
        luminance = np.asarray(result.convert("L"), dtype=np.float32).mean()
    assert luminance == pytest.approx(40, abs=3)  # the result keeps the brightness of frame 0, not frame 1


def test_a_second_delivery_does_nothing(tiny_model, job):
    colorizing.run_colorization(job.pk)
    finished = Colorization.objects.get(pk=job.pk)

    colorizing.run_colorization(job.pk)

    again = Colorization.objects.get(pk=job.pk)
    assert (again.attempts, again.finished_at, again.result.name) == (1, finished.finished_at, finished.result.name)


def test_a_deleted_job_is_ignored(tiny_model, job):
    Colorization.objects.filter(pk=job.pk).delete()

    colorizing.run_colorization(job.pk)  # no error: there is nothing to do


def test_a_variation_records_its_seed(tiny_model, photo):
    variation = services.request_colorization(photo, render_size=256, seed=1234)

    colorizing.run_colorization(variation.pk)

    variation.refresh_from_db()
    assert (variation.state, variation.seed) == (JobState.DONE, 1234)


def test_a_re_run_can_ask_for_an_older_model(tiny_model, photo):
    newer = register_tiny_model(name="Newer", seed=1)
    older_run = services.request_colorization(photo, render_size=512, version=tiny_model)

    colorizing.run_colorization(older_run.pk)

    older_run.refresh_from_db()
    assert newer.is_active
    assert (older_run.model_version, older_run.render_size) == (tiny_model, 512)


def test_without_an_active_model_the_job_fails_with_a_reason(job):
    colorizing.run_colorization(job.pk)

    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert "No colorization model is active yet" in job.message


def test_a_transient_error_puts_the_job_back_in_the_queue(tiny_model, job, monkeypatch):
    def storage_hiccup(*args, **kwargs):
        raise ConnectionResetError("storage connection reset")

    monkeypatch.setattr(images, "open_original", storage_hiccup)

    with pytest.raises(colorizing.TransientJobError):
        colorizing.run_colorization(job.pk)

    job.refresh_from_db()
    assert (job.state, job.attempts, job.claim_token) == (JobState.QUEUED, 1, "")
    assert "temporary problem" in job.message


def test_a_job_that_keeps_failing_ends_failed_with_its_reason(tiny_model, job, monkeypatch, settings):
    settings.JOB_MAX_ATTEMPTS = 2

    def storage_hiccup(*args, **kwargs):
        raise ConnectionResetError("storage connection reset")

    monkeypatch.setattr(images, "open_original", storage_hiccup)
    with pytest.raises(colorizing.TransientJobError):
        colorizing.run_colorization(job.pk)

    colorizing.run_colorization(job.pk)

    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.FAILED, 2)
    assert job.message == "Colorization failed after 2 attempts: storage connection reset"


@pytest.mark.parametrize("damage", ["truncated", "not an image"])
def test_a_damaged_stored_original_fails_at_once_with_a_reason(tiny_model, job, media_storage, damage):
    good = (media_storage / job.photo.original.name).read_bytes()
    (media_storage / job.photo.original.name).write_bytes(
        good[: len(good) // 2] if damage == "truncated" else b"this is not an image any more")

    colorizing.run_colorization(job.pk)  # no TransientJobError: retrying cannot mend the file

    job.refresh_from_db()
    assert (job.state, job.attempts) == (JobState.FAILED, 1)
    assert job.message.startswith("The stored original is ")
    assert job.message.endswith("Delete this photo and upload it again.")


def test_a_result_made_after_the_job_was_requeued_is_dropped(tiny_model, job, monkeypatch, media_storage):
    real_colorize = colorizing.colorize

    def colorize_while_reaper_requeues(job):
        outcome = real_colorize(job)
        Colorization.objects.filter(pk=job.pk).update(state=JobState.QUEUED, claim_token="")
        return outcome

    monkeypatch.setattr(colorizing, "colorize", colorize_while_reaper_requeues)

    colorizing.run_colorization(job.pk)

    job.refresh_from_db()
    assert (job.state, job.result.name) == (JobState.QUEUED, "")
    assert not (media_storage / "results").exists() or not any((media_storage / "results").rglob("*.png"))


def test_each_state_change_is_pushed_to_the_owner(tiny_model, job, alice):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(broadcast.user_group(alice.pk), channel)

    colorizing.run_colorization(job.pk)

    states = [async_to_sync(layer.receive)(channel)["event"]["job"]["state"] for _ in range(2)]
    assert states == ["running", "done"]


# --- The reaper ------------------------------------------------------------------------------


def make_running(job, heartbeat_age: float, attempts: int = 1):
    heartbeat = timezone.now() - timedelta(seconds=heartbeat_age)
    Colorization.objects.filter(pk=job.pk).update(state=JobState.RUNNING, claim_token="dead-worker",
                                                  attempts=attempts, started_at=heartbeat, heartbeat_at=heartbeat)


def test_the_reaper_requeues_a_job_whose_worker_died(job, settings, sent_tasks):
    settings.JOB_STALLED_AFTER = 60
    make_running(job, heartbeat_age=120)

    report = colorizing.requeue_stalled_jobs()

    job.refresh_from_db()
    assert report.requeued == [job.pk]
    assert (job.state, job.claim_token) == (JobState.QUEUED, "")
    assert sent_tasks == [str(job.pk)]


def test_the_reaper_leaves_a_job_with_a_recent_heartbeat_alone(job, settings, sent_tasks):
    settings.JOB_STALLED_AFTER = 60
    make_running(job, heartbeat_age=5)

    colorizing.requeue_stalled_jobs()

    job.refresh_from_db()
    assert job.state == JobState.RUNNING
    assert sent_tasks == []


def test_the_reaper_fails_a_job_whose_worker_died_too_often(job, settings, sent_tasks):
    settings.JOB_MAX_ATTEMPTS = 3
    make_running(job, heartbeat_age=600, attempts=3)

    report = colorizing.requeue_stalled_jobs()

    job.refresh_from_db()
    assert report.ended == [job.pk]
    assert job.state == JobState.FAILED
    assert "The worker stopped while colorizing this photo, 3 times" in job.message
    assert sent_tasks == []


def test_the_reaper_resends_a_queued_job_whose_message_was_lost_once_per_deadline(job, settings, sent_tasks):
    settings.JOB_RESEND_QUEUED_AFTER = 300
    Colorization.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - timedelta(seconds=301))

    first = colorizing.requeue_stalled_jobs()
    second = colorizing.requeue_stalled_jobs()

    assert first.resent == [job.pk] and second.resent == []
    assert sent_tasks == [str(job.pk)]


def test_the_reaper_does_not_resend_a_job_queued_recently(job, sent_tasks):
    colorizing.requeue_stalled_jobs()

    assert sent_tasks == []


@pytest.mark.django_db(transaction=True)
def test_a_running_job_keeps_its_heartbeat(alice, settings):
    from webapp.core import jobs

    photo = services.accept_upload(alice, upload(samples.gray_jpeg()))
    claimed = jobs.claim(Colorization, photo.colorizations.get().pk)
    Colorization.objects.filter(pk=claimed.pk).update(heartbeat_at=timezone.now() - timedelta(hours=1))

    with jobs.Heartbeat(claimed, interval=0.05):
        deadline = timezone.now() + timedelta(seconds=5)
        while timezone.now() < deadline:
            if Colorization.objects.get(pk=claimed.pk).heartbeat_at > timezone.now() - timedelta(minutes=1):
                break

    assert Colorization.objects.get(pk=claimed.pk).heartbeat_at > timezone.now() - timedelta(minutes=1)


# --- Deleting ---------------------------------------------------------------------------------


def test_deleting_a_photo_deletes_its_files(tiny_model, job, media_storage, django_capture_on_commit_callbacks):
    colorizing.run_colorization(job.pk)
    photo = Photo.objects.get()
    assert len(stored_files(media_storage)) == 7  # original, 2 renditions, result, 2 renditions, model

    with django_capture_on_commit_callbacks(execute=True):
        services.delete_photo(photo)

    assert stored_files(media_storage) == [tiny_model.weights.name]
    assert not Colorization.objects.exists()


def test_deleting_a_user_deletes_their_files(photo, alice, media_storage, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        alice.delete()

    assert stored_files(media_storage) == []
