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
    """Colorization messages are recorded here, never published to the shared broker.

    Only inside harness.celery_broker() (a test's own queue prefix or private Redis) do
    they go out for real.
    """
    from tests.webapp.harness import publishing_to_a_test_broker
    from worker.tasks import colorize_photo

    sent = []
    publish = colorize_photo.apply_async

    def record_or_publish(args=None, **options):
        if publishing_to_a_test_broker():
            return publish(args=args, **options)
        sent.append(args[0])

    monkeypatch.setattr(colorize_photo, "apply_async", record_or_publish)
    return sent
