import pytest
from django.core.files.base import ContentFile

from tests.finetune.conftest import colour_zip
from tests.webapp.conftest import alice, sent_tasks  # noqa: F401  (fixtures)
from tests.webapp.integration.conftest import private_redis, shared_redis  # noqa: F401  (fixtures)
from webapp.finetune import services
from webapp.finetune.models import Dataset, FineTuneJob


@pytest.fixture
def quick_training(settings, tmp_path):
    """Training as the product does it, sized for a test: tiny photos, every step reported, no FID."""
    settings.TRAINING_DIR = tmp_path / "training"
    settings.FINETUNE_EVAL_FID = False
    settings.FINETUNE_LOADER_WORKERS = 0
    settings.FINETUNE_TRAIN_OPTIONS = {"log_every": 1, "val_images": 4, "sample_count": 2}
    settings.COLORIZER_DEVICE = "cpu"


def checked_dataset(user, photos: int) -> Dataset:
    dataset = Dataset(name="Holidays", source=Dataset.Source.ARCHIVE, created_by=user)
    dataset.archive.save("upload.zip", ContentFile(colour_zip(photos)), save=False)
    dataset.save()
    services.check_dataset(str(dataset.pk))
    dataset.refresh_from_db()
    assert dataset.status == Dataset.Status.READY
    return dataset


@pytest.fixture
def dataset(staff_user):
    return checked_dataset(staff_user, photos=8)


def make_job(dataset, base_version, staff_user, **recipe) -> FineTuneJob:
    recipe = {"l1_epochs": 1, "gan_epochs": 1, "batch_size": 2, "image_size": 64, "val_split": 0.25, **recipe}
    return FineTuneJob.objects.create(dataset=dataset, base_version=base_version, created_by=staff_user, **recipe)
