import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.factories import register_tiny_model
from tests.webapp import samples


def upload(data: bytes, name: str = "grandma.jpg", content_type: str = "image/jpeg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)


@pytest.fixture
def alice(db):
    return User.objects.create_user("alice", password="correct-horse-battery")


@pytest.fixture
def stranger(db):
    """Another user, who must never see alice's photos."""
    return User.objects.create_user("mallory", password="correct-horse-battery")


@pytest.fixture
def staff(db):
    return User.objects.create_user("sam", password="correct-horse-battery", is_staff=True)


@pytest.fixture
def tiny_model(db, single_threaded_torch):
    return register_tiny_model()


@pytest.fixture
def photo(alice):
    from webapp.photos.services import accept_upload

    return accept_upload(alice, upload(samples.gray_jpeg()))


@pytest.fixture
def job(photo):
    return photo.colorizations.get()


@pytest.fixture(autouse=True)
def sent_tasks(monkeypatch):
    """Colorization messages are recorded here (their job ids), never published to the shared broker.

    Only inside harness.celery_broker() (a test's own queue prefix or private Redis) do
    they go out for real.
    """
    from tests.webapp.harness import record_sent_tasks

    return record_sent_tasks(monkeypatch, lambda task, pk: pk)
