import io
import zipfile

import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from PIL import Image

from tests.factories import register_tiny_model


def colour_photo(seed: int, size: int = 64, format: str = "JPEG") -> bytes:
    """A small photo with real colour: a hue gradient plus a few saturated blocks."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([x, y, 1 - x * y], axis=-1)
    for _ in range(3):
        top, left = rng.integers(0, size - 16, 2)
        rgb[top:top + 16, left:left + 16] = rng.random(3)
    image = Image.fromarray((rgb * 255).astype(np.uint8), "RGB")
    buffer = io.BytesIO()
    image.save(buffer, format)
    return buffer.getvalue()


def gray_photo(size: int = 64) -> bytes:
    buffer = io.BytesIO()
    gradient = np.tile(np.linspace(0, 255, size, dtype=np.uint8), (size, 1))
    Image.fromarray(np.stack([gradient] * 3, axis=-1), "RGB").save(buffer, "JPEG")
    return buffer.getvalue()


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def colour_zip(count: int = 6, size: int = 64) -> bytes:
    return make_zip({f"holiday/{index:02d}.jpg": colour_photo(index, size) for index in range(count)})


def stored_files(prefix: str) -> list[str]:
    """Every file stored under `prefix` (a deleted tree may leave empty folders on a local disk)."""
    from django.core.files.storage import default_storage

    try:
        directories, files = default_storage.listdir(prefix)
    except FileNotFoundError:
        return []
    return [f"{prefix}/{name}" for name in files] + [name for directory in directories
                                                     for name in stored_files(f"{prefix}/{directory}")]


@pytest.fixture
def staff_user(db):
    return User.objects.create_user("ada", password="correct-horse-battery", is_staff=True, is_superuser=True)


@pytest.fixture
def stranger(db):
    """A signed-in user who is not staff: nothing here is for them."""
    return User.objects.create_user("mallory", password="correct-horse-battery")


@pytest.fixture
def base_version(db, single_threaded_torch):
    return register_tiny_model(name="Base")


@pytest.fixture(autouse=True)
def sent_finetune_tasks(monkeypatch):
    """Dataset checks and training runs are recorded as (task, id), not published to the shared broker
    (only inside harness.celery_broker() do they go out for real)."""
    from tests.webapp.harness import record_sent_tasks

    return record_sent_tasks(monkeypatch, lambda task, pk: (task.rsplit(".", 1)[-1], pk))


def checked_dataset(user, photos: int):
    """A dataset of `photos` colour photos, uploaded as an archive and checked (ready to train on)."""
    from webapp.finetune import datasets
    from webapp.finetune.models import Dataset

    dataset = Dataset(name="Holidays", source=Dataset.Source.ARCHIVE, created_by=user)
    dataset.archive.save("upload.zip", ContentFile(colour_zip(photos)), save=False)
    dataset.save()
    datasets.check_dataset(str(dataset.pk))
    dataset.refresh_from_db()
    assert dataset.state == Dataset.State.DONE
    return dataset


@pytest.fixture
def dataset(staff_user):
    return checked_dataset(staff_user, photos=4)
