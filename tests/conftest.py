"""Shared test setup: isolated media storage, in-memory channel layer, no shipped-model copies."""

import shutil
import tempfile
from pathlib import Path

import pytest

SESSION_MEDIA = Path(tempfile.mkdtemp(prefix="hue-test-media-"))
SESSION_DB_DIR = Path(tempfile.mkdtemp(prefix="hue-test-db-"))


def pytest_configure(config):
    from django.conf import settings

    # Files written during tests never land in the developer's var/media.
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(SESSION_MEDIA)}},
    }
    # Tests register their own tiny models; the shipped weights are tested explicitly.
    settings.COLORIZER_DEFAULT_WEIGHTS = SESSION_MEDIA / "no-shipped-model.safetensors"
    settings.COLORIZER_DEFAULT_METRICS = SESSION_MEDIA / "no-shipped-metrics.json"
    # A SQLite test database in a file, not in memory: the integration tests' worker
    # subprocesses and server threads must see the same database as the test.
    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(SESSION_DB_DIR / "test.sqlite3")


def pytest_unconfigure(config):
    shutil.rmtree(SESSION_MEDIA, ignore_errors=True)
    shutil.rmtree(SESSION_DB_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def media_storage(settings, tmp_path):
    """Each test writes into its own media folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage",
                    "OPTIONS": {"location": str(tmp_path / "media")}},
    }
    return tmp_path / "media"


@pytest.fixture(autouse=True)
def in_memory_channel_layer(settings):
    """Unit tests push websocket events through memory; integration tests opt back into Redis."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}


@pytest.fixture
def single_threaded_torch():
    """One intra-op thread: tiny networks gain nothing from more, and spinning threads crawl on a busy CPU."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def own_rate_limits(settings):
    """Sign-up counts live in the shared Redis: each test counts under its own prefix."""
    import uuid

    settings.RATELIMIT_CACHE_PREFIX = f"hue-test-rl-{uuid.uuid4().hex[:12]}:"


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
