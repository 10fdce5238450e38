import io

import pytest
from django.contrib.auth.models import User
from django.core.files import File
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.webapp import samples


def tiny_generator_bytes(seed: int = 0) -> bytes:
    """A real generator file (~130k parameters, fp16 safetensors): the engine's tiny test U-Net."""
    import torch

    from colorizer import GeneratorConfig, build_generator
    from colorizer.checkpoint import save_generator

    torch.manual_seed(seed)
    config = GeneratorConfig(base_width=8, num_downs=5)
    buffer = io.BytesIO()
    save_generator(buffer, build_generator(config, load_pretrained=False).state_dict(), config.to_dict())
    return buffer.getvalue()


def register_tiny_model(name: str = "Tiny", activate: bool = True, seed: int = 0):
    from webapp.registry.services import register_version

    return register_version(File(io.BytesIO(tiny_generator_bytes(seed)), name="tiny.safetensors"), name=name,
                            activate=activate)


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
def single_threaded_torch():
    """One intra-op thread: tiny networks gain nothing from more, and spinning threads crawl on a busy CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


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


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def fresh_model_cache():
    """Each test loads its own models: primary keys repeat across tests, weights do not."""
    from webapp.registry import loader

    loader.forget_all()
    yield
    loader.forget_all()
