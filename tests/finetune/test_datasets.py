"""Checking datasets: what is kept, what is skipped and why, and what is refused outright."""

from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from tests.finetune.conftest import colour_photo, colour_zip, gray_photo, make_zip
from webapp.finetune import datasets
from webapp.finetune.forms import DatasetForm
from webapp.finetune.ingest import IngestReport, read_manifest
from webapp.finetune.models import Dataset

pytestmark = pytest.mark.django_db


def archive_dataset(data: bytes, name: str = "Holidays") -> Dataset:
    dataset = Dataset(name=name, source=Dataset.Source.ARCHIVE)
    dataset.archive.save("upload.zip", ContentFile(data), save=False)
    dataset.save()
    return dataset


def test_it_keeps_colour_photos_and_counts_what_it_skips():
    dataset = archive_dataset(make_zip({
        **{f"trip/{i}.jpg": colour_photo(i) for i in range(4)},
        "trip/scan.png": colour_photo(9, format="PNG"),
        "trip/grandpa.jpg": gray_photo(),
        "trip/notes.txt": b"not a photo",
        "trip/broken.jpg": colour_photo(5)[:200],
        "trip/icon.jpg": colour_photo(6, size=32),
        "__MACOSX/trip/._0.jpg": b"resource fork",
    }))

    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.DONE
    assert (dataset.image_count, dataset.skipped_count) == (5, 5)
    assert dataset.skipped_by_reason == {"already black-and-white": 1, "not a photo file": 1, "unreadable image": 1,
                                         "smaller than 64 px": 1, "system file": 1}
    assert {item["name"] for item in dataset.skipped_examples} >= {"trip/grandpa.jpg", "trip/notes.txt"}
    assert len(dataset.thumbnails) == 5 and all(default_storage.exists(name) for name in dataset.thumbnails)
    manifest = read_manifest(dataset)
    assert len(manifest["photos"]) == 5 and all(default_storage.exists(name) for name in manifest["photos"])
    assert all(name.startswith(f"datasets/{dataset.pk}/photos/") for name in manifest["photos"])
    assert not dataset.archive  # the upload is deleted once its photos are stored


@pytest.mark.parametrize("trap, reason", [
    ({"../../etc/cron.d/evil.jpg": b"x"}, "escapes the dataset folder"),
    ({"/etc/passwd": b"x"}, "absolute paths are not allowed"),
    ({"bomb.jpg": b"\0" * (8 * 1024 * 1024)}, "zip bomb"),
])
def test_it_refuses_a_trap_archive_and_stores_nothing(trap, reason):
    dataset = archive_dataset(make_zip({"ok/0.jpg": colour_photo(0), **trap}))

    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.FAILED
    assert reason in dataset.message
    assert not default_storage.exists(f"datasets/{dataset.pk}")


def test_it_refuses_an_archive_without_colour_photos():
    dataset = archive_dataset(make_zip({"a.jpg": gray_photo(), "b.txt": b"hello"}))

    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.FAILED
    assert "no usable colour photos" in dataset.message and "already black-and-white" in dataset.message


def test_it_refuses_a_file_that_is_not_a_zip():
    dataset = archive_dataset(b"PK but not really a zip")

    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.FAILED and "not a readable .zip" in dataset.message


def test_a_second_delivery_does_nothing():
    dataset = archive_dataset(colour_zip(3))
    datasets.check_dataset(str(dataset.pk))
    dataset.refresh_from_db()
    stamp = dataset.finished_at

    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert (dataset.state, dataset.finished_at, dataset.image_count) == (Dataset.State.DONE, stamp, 3)


def test_a_server_folder_is_checked_in_place_without_following_links(settings, tmp_path):
    root = tmp_path / "datasets"
    folder = root / "archive-2024"
    (folder / "sub").mkdir(parents=True)
    for index in range(3):
        (folder / "sub" / f"{index}.jpg").write_bytes(colour_photo(index))
    (folder / "gray.jpg").write_bytes(gray_photo())
    secret = tmp_path / "elsewhere.jpg"
    secret.write_bytes(colour_photo(7))
    (folder / "link.jpg").symlink_to(secret)
    settings.DATASET_FOLDER_ROOTS = [str(root)]
    dataset = Dataset.objects.create(name="Archive", source=Dataset.Source.FOLDER, folder=str(folder))

    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.DONE
    assert dataset.image_count == 3
    assert dataset.skipped_by_reason == {"already black-and-white": 1, "link (not followed)": 1}
    assert sorted(read_manifest(dataset)["photos"]) == ["sub/0.jpg", "sub/1.jpg", "sub/2.jpg"]
    assert not default_storage.exists(f"datasets/{dataset.pk}/photos")  # nothing copied


def test_the_form_refuses_a_folder_outside_the_allowed_roots(settings, tmp_path):
    settings.DATASET_FOLDER_ROOTS = [str(tmp_path / "datasets")]
    (tmp_path / "private").mkdir()

    form = DatasetForm(data={"name": "Sneaky", "folder": str(tmp_path / "private")})

    assert not form.is_valid()
    assert "outside the folders datasets may come from" in str(form.errors["folder"])


def test_the_form_refuses_a_trap_archive_before_it_is_stored():
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("set.zip", make_zip({"../evil.jpg": colour_photo(0)}), "application/zip")
    form = DatasetForm(data={"name": "Trap"}, files={"archive": upload})

    assert not form.is_valid()
    assert "escapes the dataset folder" in str(form.errors["archive"])


def test_the_form_needs_exactly_one_source():
    form = DatasetForm(data={"name": "Nothing"})
    assert not form.is_valid()
    assert "either a .zip archive or a server folder" in str(form.errors)


def stalled_check(dataset: Dataset, attempts: int = 1) -> None:
    """What a training worker that died mid-check leaves behind: processing, with a heartbeat that stopped."""
    Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.RUNNING, claim_token="dead-worker",
                                                 attempts=attempts,
                                                 heartbeat_at=timezone.now() - timedelta(minutes=10))


def test_the_reaper_sends_a_check_whose_worker_died_again_and_the_new_message_finishes_it(sent_finetune_tasks):
    from worker.tasks import requeue_stalled_finetunes

    dataset = archive_dataset(colour_zip(3))
    stalled_check(dataset)
    datasets.check_dataset(str(dataset.pk))  # the redelivered message: still claimed by the dead worker
    assert Dataset.objects.get(pk=dataset.pk).state == Dataset.State.RUNNING

    report = requeue_stalled_finetunes()

    dataset.refresh_from_db()
    assert report["datasets_requeued"] == 1 and sent_finetune_tasks == [("check_dataset", str(dataset.pk))]
    assert dataset.state == Dataset.State.QUEUED and "stopped while checking" in dataset.message
    datasets.check_dataset(str(dataset.pk))
    dataset.refresh_from_db()
    assert (dataset.state, dataset.image_count, dataset.attempts) == (Dataset.State.DONE, 3, 2)


def test_a_check_that_keeps_losing_its_worker_ends_failed_with_the_reason(settings, sent_finetune_tasks):
    settings.JOB_MAX_ATTEMPTS = 3
    dataset = archive_dataset(colour_zip(3))
    default_storage.save(f"datasets/{dataset.pk}/photos/000000.jpg", ContentFile(colour_photo(0)))
    stalled_check(dataset, attempts=3)

    datasets.requeue_stalled_checks()

    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.FAILED and "3 times" in dataset.message
    assert sent_finetune_tasks == [] and not default_storage.exists(f"datasets/{dataset.pk}/photos/000000.jpg")


def test_a_check_with_a_live_heartbeat_is_left_alone(sent_finetune_tasks):
    dataset = archive_dataset(colour_zip(3))
    Dataset.objects.filter(pk=dataset.pk).update(state=Dataset.State.RUNNING, claim_token="alive",
                                                 attempts=1, heartbeat_at=timezone.now())

    report = datasets.requeue_stalled_checks()

    assert report.requeued == report.ended == [] and sent_finetune_tasks == []
    assert Dataset.objects.get(pk=dataset.pk).state == Dataset.State.RUNNING


def test_a_pending_check_whose_message_was_lost_is_sent_once_more(settings, sent_finetune_tasks):
    settings.JOB_RESEND_QUEUED_AFTER = 300
    old = archive_dataset(colour_zip(3), name="Lost")
    Dataset.objects.filter(pk=old.pk).update(enqueued_at=timezone.now() - timedelta(minutes=10))
    archive_dataset(colour_zip(3), name="Just queued")

    datasets.requeue_stalled_checks()
    datasets.requeue_stalled_checks()  # the next run finds it freshly sent

    assert sent_finetune_tasks == [("check_dataset", str(old.pk))]


def test_a_check_that_lost_its_claim_meanwhile_writes_nothing(monkeypatch):
    from webapp.finetune import ingest

    dataset = archive_dataset(colour_zip(3))
    real_ingest = ingest.ingest_archive

    def reaped_halfway(dataset):
        report = real_ingest(dataset)
        # The reaper gave up on this worker and a new attempt claimed the check.
        Dataset.objects.filter(pk=dataset.pk).update(claim_token="the-new-attempt")
        return report

    monkeypatch.setattr(datasets, "ingest_archive", reaped_halfway)
    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert (dataset.state, dataset.claim_token, dataset.image_count) == (Dataset.State.RUNNING,
                                                                          "the-new-attempt", 0)
    assert not default_storage.exists(dataset.manifest_name)


@pytest.mark.django_db(transaction=True)
def test_a_running_check_keeps_its_heartbeat(settings, monkeypatch):
    settings.JOB_HEARTBEAT_INTERVAL = 0.05
    dataset = archive_dataset(colour_zip(3))
    beats = []

    def slow_ingest(dataset):
        from tests.webapp.harness import wait_for

        started = Dataset.objects.get(pk=dataset.pk).heartbeat_at
        # A long check: it ends once the heartbeat has been stamped twice more while it ran.
        wait_for(lambda: Dataset.objects.get(pk=dataset.pk).heartbeat_at - started >= timedelta(seconds=0.1),
                 timeout=30, message="the heartbeat to be stamped while the check runs")
        beats.append(Dataset.objects.get(pk=dataset.pk).heartbeat_at - started)
        return IngestReport(kept=["x.jpg"])

    monkeypatch.setattr(datasets, "ingest_archive", slow_ingest)
    datasets.check_dataset(str(dataset.pk))

    assert beats[0] >= timedelta(seconds=0.1)
    assert Dataset.objects.get(pk=dataset.pk).state == Dataset.State.DONE


def test_a_rejected_archive_is_deleted_from_storage():
    dataset = archive_dataset(make_zip({"../../evil.jpg": colour_photo(0)}))
    upload = dataset.archive.name
    assert default_storage.exists(upload)

    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.FAILED and not dataset.archive
    assert not default_storage.exists(upload)


def test_the_form_refuses_an_archive_over_the_upload_limit(settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATASET_MAX_ARCHIVE_BYTES = 1000
    upload = SimpleUploadedFile("set.zip", colour_zip(3), "application/zip")

    form = DatasetForm(data={"name": "Big"}, files={"archive": upload})

    assert not form.is_valid()
    assert "This archive cannot be used: the archive is 3 KB; the limit is 1,000 bytes" in str(form.errors["archive"])


def test_the_worker_refuses_a_stored_archive_over_the_upload_limit_too(settings):
    settings.DATASET_MAX_ARCHIVE_BYTES = 1000
    dataset = archive_dataset(colour_zip(3))

    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.FAILED and "the limit is" in dataset.message


def folder_dataset(settings, tmp_path, folder_name="archive-2024"):
    root = tmp_path / "datasets"
    folder = root / folder_name
    folder.mkdir(parents=True)
    settings.DATASET_FOLDER_ROOTS = [str(root)]
    return root, folder


@pytest.mark.timeout(60)
def test_a_fifo_in_a_server_folder_is_skipped_without_reading_it(settings, tmp_path):
    import os

    _, folder = folder_dataset(settings, tmp_path)
    (folder / "0.jpg").write_bytes(colour_photo(0))
    os.mkfifo(folder / "pipe.jpg")  # reading it would block the worker until someone writes to it
    dataset = Dataset.objects.create(name="Archive", source=Dataset.Source.FOLDER, folder=str(folder))

    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.DONE and dataset.image_count == 1
    assert dataset.skipped_by_reason == {"not a regular file": 1}


def test_a_server_folders_files_are_judged_by_name_before_they_are_read(settings, tmp_path):
    _, folder = folder_dataset(settings, tmp_path)
    (folder / "0.jpg").write_bytes(colour_photo(0))
    (folder / "backup.tar").write_bytes(b"\0" * 2000)  # larger than a photo may be, and no photo anyway
    settings.DATASET_MAX_PHOTO_BYTES = 1500
    dataset = Dataset.objects.create(name="Archive", source=Dataset.Source.FOLDER, folder=str(folder))

    datasets.check_dataset(str(dataset.pk))

    dataset.refresh_from_db()
    assert dataset.skipped_by_reason == {"not a photo file": 1}


def test_the_manifest_keeps_the_folders_resolved_path(settings, tmp_path):
    root, folder = folder_dataset(settings, tmp_path)
    (folder / "0.jpg").write_bytes(colour_photo(0))
    dataset = Dataset.objects.create(name="Archive", source=Dataset.Source.FOLDER,
                                     folder=str(root / "elsewhere" / ".." / "archive-2024"))
    (root / "elsewhere").mkdir()

    datasets.check_dataset(str(dataset.pk))

    assert read_manifest(Dataset.objects.get(pk=dataset.pk))["folder"] == str(folder.resolve())
