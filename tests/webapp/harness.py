"""Real Redis, Celery workers and an ASGI server for the integration and browser tests.

Tests that share the Redis at settings.REDIS_URL with other test runs isolate themselves
by key prefix (Celery's `global_keyprefix`, the channel layer's `prefix`); tests that
restart or empty Redis get a private redis-server on a free port (scripts/run/localredis.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import redis
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout: float, interval: float = 0.05, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")


def unique_prefix() -> str:
    return f"hue-test-{uuid.uuid4().hex[:12]}"


def delete_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{prefix}*", count=500):
            client.delete(key)
    finally:
        client.close()


def redis_channel_layers(url: str, prefix: str) -> dict:
    """The production channel layer (webapp/settings.py), at `url`, every key under `prefix`."""
    import importlib

    import webapp.settings

    production = importlib.reload(webapp.settings).CHANNEL_LAYERS["default"]
    hosts = [{**host, "address": url} for host in production["CONFIG"]["hosts"]]
    return {"default": {**production, "CONFIG": {**production["CONFIG"], "hosts": hosts, "prefix": prefix}}}


_brokers_in_use = []  # URLs of the brokers that celery_broker() has pointed this process at


def publishing_to_a_test_broker() -> bool:
    """True inside celery_broker(): task messages may go out. Elsewhere tests only record them."""
    return bool(_brokers_in_use)


def record_sent_tasks(monkeypatch, entry) -> list:
    """Record the task messages the app sends (entry(task name, job id) each) instead of publishing them,
    except inside celery_broker(), where they go out for real."""
    from webapp.core import queue

    sent = []
    publish = queue.send

    def record_or_publish(task, pk, countdown=None):
        if publishing_to_a_test_broker():
            return publish(task, pk, countdown=countdown)
        sent.append(entry(task, str(pk)))

    monkeypatch.setattr(queue, "send", record_or_publish)
    return sent


@contextmanager
def celery_broker(url: str, keyprefix: str = ""):
    """Point the Celery app of this process at `url` (every key under `keyprefix`), then back."""
    from worker.celery import app

    saved_url = app.conf.broker_url
    saved_options = dict(app.conf.broker_transport_options or {})

    def reset_pools():
        from kombu import pools

        pools.reset()  # close kombu's process-wide connection and producer pools...
        app._after_fork()  # ...and make the app forget its references to them

    reset_pools()
    app.conf.broker_url = url
    app.conf.broker_transport_options = {**saved_options, "global_keyprefix": keyprefix} if keyprefix else saved_options
    _brokers_in_use.append(url)
    try:
        yield app
    finally:
        _brokers_in_use.remove(url)
        reset_pools()
        app.conf.broker_url = saved_url
        app.conf.broker_transport_options = saved_options


@contextmanager
def worker_in_thread(app, queues=("inference", "maintenance")):
    """A real Celery worker consuming `queues` in a thread of this process (it sees the test's settings)."""
    from celery.contrib.testing.worker import start_worker

    from worker.celery import stop_watching

    try:
        with start_worker(app, pool="solo", concurrency=1, perform_ping_check=False, queues=list(queues),
                          loglevel="WARNING", shutdown_timeout=60) as worker:
            yield worker
    finally:
        stop_watching()  # the model watch it started (worker_process_init) must not outlive the test


class RedisServer:
    """A private redis-server that a test may empty, kill and restart."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.port = int(subprocess.run([sys.executable, "scripts/run/localredis.py", "free-port"], cwd=ROOT, check=True,
                                       capture_output=True, text=True).stdout)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.directory / f"redis-{self.port}.log", "ab")
        self.process = subprocess.Popen([sys.executable, "scripts/run/localredis.py", "serve", str(self.port)], cwd=ROOT,
                                        env={**os.environ, "VAR_DIR": str(self.directory)}, stdout=log, stderr=log)
        wait_for(self.answers, timeout=10, message=f"redis on port {self.port}")

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)

    def kill(self) -> None:
        """Die without saving, like a crashed or restarted container without persistence."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        for dump in (self.directory / "redis").glob("*.rdb"):
            dump.unlink()

    def empty_and_restart(self) -> None:
        self.client().flushall()
        self.kill()
        self.start()


class WorkerProcess:
    """`celery -A worker worker` in its own process group, as deployed (prefork pool)."""

    def __init__(self, env: dict, log: Path, *extra: str, queues: str = "inference,maintenance"):
        self.log = log
        handle = open(log, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "worker", "worker", "--queues", queues, "--concurrency", "1",
             "--loglevel", "INFO", "--without-mingle", "--without-gossip", *extra],
            cwd=ROOT, env=env, stdout=handle, stderr=handle, start_new_session=True,
        )

    def kill(self) -> None:
        """SIGKILL the worker and its pool children: no chance to finish, acknowledge or clean up."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def database_url_for_workers() -> str:
    """The URL of the test database, for worker subprocesses."""
    database = connection.settings_dict
    if database["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{database['NAME']}"
    user = database.get("USER") or ""
    password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    return f"postgres://{credentials}{database.get('HOST') or '127.0.0.1'}:{database.get('PORT') or 5432}/{database['NAME']}"


def worker_env(redis_url: str, media_root: Path, var_dir: Path, **overrides: str) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "webapp.settings",
        "DATABASE_URL": database_url_for_workers(),
        "REDIS_URL": redis_url,
        "MEDIA_ROOT": str(media_root),
        "VAR_DIR": str(var_dir),
        "COLORIZER_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",  # tiny networks; spinning threads crawl on a busy CPU
        "LOG_LEVEL": "INFO",
    }
    env.update(overrides)
    return env


@contextmanager
def asgi_server():
    """The project's ASGI app (HTTP and websockets) served by uvicorn from a thread; yields its base URL."""
    import uvicorn

    from webapp.asgi import application

    port = int(subprocess.run([sys.executable, "scripts/run/localredis.py", "free-port"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout)
    server = uvicorn.Server(uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off", ws="websockets-sansio"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=20, message="uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(20)
