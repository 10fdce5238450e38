"""Health probes of the services the app depends on. Each returns a small dict."""

from django.conf import settings
from django.db import connection
from redis import Redis
from redis.exceptions import RedisError

from webapp.core import queue

WORKER_PING_TIMEOUT_S = 1.0


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any driver error means "down"
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    return {"ok": True, "vendor": connection.vendor}


def check_redis() -> dict:
    client = Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
    except RedisError as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        client.close()
    return {"ok": True}


def check_workers() -> dict:
    """Ask every worker which queues it consumes; answers within the timeout count."""
    try:
        replies = queue.worker_queues(timeout=WORKER_PING_TIMEOUT_S)
    except Exception as exc:  # broker down or unreachable
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}", "queues": {}}
    queues: dict[str, int] = {"inference": 0, "training": 0}
    for names in replies.values():
        for name in names:
            queues[name] = queues.get(name, 0) + 1
    return {"ok": queues["inference"] > 0, "workers": sorted(replies), "queues": queues}


def check_model() -> dict:
    from webapp.registry.models import ModelVersion

    try:
        version = ModelVersion.objects.filter(is_active=True).first()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    if version is None:
        return {"ok": False, "error": "no active model version"}
    return {"ok": True, "active_version": version.number, "name": version.name, "id": version.pk}
