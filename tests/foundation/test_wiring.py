"""Celery, Channels and storage wiring."""

import re
from pathlib import Path

from django.conf import settings

from tests.foundation.profiles import PRODUCTION, print_settings

ROOT = Path(__file__).resolve().parents[2]


def test_colorization_goes_to_inference_and_finetuning_to_training():
    from worker.celery import app

    router = app.amqp.router
    assert router.route({}, "worker.tasks.colorize_photo")["queue"].name == "inference"
    assert router.route({}, "worker.tasks.run_finetune")["queue"].name == "training"


def test_celery_is_configured_for_safe_redelivery():
    from worker.celery import app

    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.task_serializer == "json" and conf.accept_content == ["json"]
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit and conf.task_soft_time_limit < conf.task_time_limit


def test_asgi_routes_http_and_websockets():
    from webapp.asgi import application

    assert set(application.application_mapping) == {"http", "websocket"}


def test_unit_tests_use_the_in_memory_channel_layer():
    from channels.layers import get_channel_layer

    assert type(get_channel_layer()).__name__ == "InMemoryChannelLayer"


def test_production_channel_layer_is_redis():
    result = print_settings("s.APP_ENV, s.CHANNEL_LAYERS['default']['BACKEND']", env_overrides=PRODUCTION)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["production", "channels_redis.core.RedisChannelLayer"]


def test_files_are_reached_only_through_the_storage_api():
    offenders = []
    for path in list((ROOT / "webapp").rglob("*.py")) + list((ROOT / "worker").rglob("*.py")):
        if path.name == "settings.py" or "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            # FieldFile.path / storage.path() only exist on local disk; os.path on server folders is fine.
            if re.search(r"MEDIA_ROOT|(?<!\bos)\.path\b(?!\()|storage\.path\(", line) and "request.path" not in line:
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_home_page_renders(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"black-and-white" in response.content


def test_settings_default_to_a_local_redis():
    assert settings.REDIS_URL.startswith("redis://")


def imports_of(path: Path) -> set[str]:
    """The modules a Python file imports, wherever in the file (inside functions too)."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_web_app_reaches_celery_only_through_its_queue_module():
    offenders = []
    for path in (ROOT / "webapp").rglob("*.py"):
        if path == ROOT / "webapp" / "core" / "queue.py":
            continue
        for name in imports_of(path):
            if name.split(".")[0] in ("celery", "kombu", "worker"):
                offenders.append(f"{path.relative_to(ROOT)} imports {name}")
    assert offenders == []


def test_the_registry_never_imports_fine_tuning():
    offenders = [f"{path.relative_to(ROOT)} imports {name}" for path in (ROOT / "webapp" / "registry").rglob("*.py")
                 for name in imports_of(path) if name.startswith("webapp.finetune")]
    assert offenders == []


def test_the_engine_and_the_client_never_import_the_web_app():
    offenders = [f"{path.relative_to(ROOT)} imports {name}" for package in ("colorizer", "hue_client")
                 for path in (ROOT / package).rglob("*.py") for name in imports_of(path)
                 if name.split(".")[0] in ("django", "rest_framework", "webapp", "worker", "celery")]
    assert offenders == []


def test_api_callbacks_go_to_the_maintenance_queue_and_are_resent_by_beat():
    from webapp.core import queue
    from worker.celery import app

    assert app.amqp.router.route({}, queue.DELIVER_CALLBACK)["queue"].name == "maintenance"
    assert queue.RESEND_LOST_CALLBACKS in {entry["task"] for entry in app.conf.beat_schedule.values()}


def test_the_celery_app_is_named_after_the_product():
    from webapp.core.queue import app
    from worker import celery_app

    assert celery_app is app and app.main == "hue"
