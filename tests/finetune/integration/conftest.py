import pytest

from tests.finetune.conftest import checked_dataset
from tests.webapp.conftest import alice, sent_tasks  # noqa: F401  (fixtures)
from tests.webapp.integration.conftest import private_redis, shared_redis  # noqa: F401  (fixtures)
from webapp.finetune.models import FineTuneJob


@pytest.fixture
def quick_training(settings, tmp_path):
    """Training as the product does it, sized for a test: tiny photos, every step reported, no FID."""
    settings.TRAINING_DIR = tmp_path / "training"
    settings.FINETUNE_EVAL_FID = False
    settings.FINETUNE_LOADER_WORKERS = 0
    settings.FINETUNE_TRAIN_OPTIONS = {"log_every": 1, "val_images": 4, "sample_count": 2}
    settings.COLORIZER_DEVICE = "cpu"


@pytest.fixture
def dataset(staff_user):
    return checked_dataset(staff_user, photos=8)


def make_job(dataset, base_version, staff_user, **recipe) -> FineTuneJob:
    recipe = {"l1_epochs": 1, "gan_epochs": 1, "batch_size": 2, "image_size": 64, "val_split": 0.25, **recipe}
    return FineTuneJob.objects.create(dataset=dataset, base_version=base_version, created_by=staff_user, **recipe)
