import pytest

from tests.webapp.harness import RedisServer, celery_broker, delete_keys, redis_channel_layers, unique_prefix


@pytest.fixture
def shared_redis(settings):
    """The Redis at settings.REDIS_URL for Celery and Channels, this test's keys under a unique prefix."""
    prefix = unique_prefix()
    settings.CHANNEL_LAYERS = redis_channel_layers(settings.REDIS_URL, prefix)
    with celery_broker(settings.REDIS_URL, keyprefix=f"{prefix}:") as app:
        yield app
    delete_keys(settings.REDIS_URL, prefix)


@pytest.fixture
def private_redis(tmp_path, settings):
    """A redis-server of this test's own, which it may empty and restart."""
    server = RedisServer(tmp_path)
    server.start()
    settings.CHANNEL_LAYERS = redis_channel_layers(server.url, "hue-test")
    yield server
    server.kill()
