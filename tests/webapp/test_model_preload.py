"""A worker has the active model loaded before its first photo, and the new one as soon as it is activated."""

import pytest

from tests.factories import register_tiny_model
from webapp.registry import loader
from webapp.registry.services import activate_version

pytestmark = pytest.mark.django_db


def test_preloading_loads_the_active_version_and_runs_it_once(tiny_model, monkeypatch):
    runs = []
    original = loader.get_colorizer

    def spy(version=None):
        colorizer = original(version)
        monkeypatch.setattr(colorizer, "colorize", lambda image, **options: runs.append((image.size, options)))
        return colorizer

    monkeypatch.setattr(loader, "get_colorizer", spy)

    assert loader.preload() == tiny_model
    assert loader.loaded_versions() == [tiny_model.pk]
    assert runs == [((1024, 768), {"render_size": 256}), ((768, 1024), {"render_size": 256})]


def test_preloading_without_an_active_version_does_nothing(db):
    assert loader.preload() is None
    assert loader.loaded_versions() == []


def test_the_watch_loads_a_newly_activated_version_before_any_photo_asks(tiny_model, single_threaded_torch):
    watch = loader.ActiveVersionWatch(interval=60)
    assert watch.check() == tiny_model
    assert watch.check() is None  # unchanged: nothing to do

    newer = register_tiny_model(name="Newer", seed=1, activate=False)
    activate_version(newer)

    assert watch.check() == newer
    assert newer.pk in loader.loaded_versions()


def test_an_inference_worker_process_gets_the_model_ready_when_it_starts(transactional_db, tiny_model, monkeypatch,
                                                                        settings,
                                                                        single_threaded_torch):
    from worker import celery

    monkeypatch.setattr(celery.app.amqp.queues, "_consume_from", {"inference": None, "maintenance": None})
    settings.MODEL_WATCH_INTERVAL = 0  # the first look only

    watch = celery.get_the_model_ready()
    watch.thread.join(60)

    assert not watch.thread.is_alive()
    assert loader.loaded_versions() == [tiny_model.pk]


def test_a_training_worker_process_loads_no_colorization_model(tiny_model, monkeypatch):
    from worker import celery

    monkeypatch.setattr(celery.app.amqp.queues, "_consume_from", {"training": None})

    assert celery.get_the_model_ready() is None
    assert loader.loaded_versions() == []


def test_the_watch_stops_with_the_worker(transactional_db, tiny_model, monkeypatch, settings, single_threaded_torch):
    from celery.signals import worker_shutdown

    from worker import celery

    monkeypatch.setattr(celery.app.amqp.queues, "_consume_from", {"inference": None})
    settings.MODEL_WATCH_INTERVAL = 3600
    watch = celery.get_the_model_ready()

    worker_shutdown.send(sender=None)
    watch.thread.join(60)

    assert not watch.thread.is_alive()
