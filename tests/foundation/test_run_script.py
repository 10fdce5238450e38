"""The README's run command (`make run` runs scripts/run/run.sh): it serves the app, and Ctrl-C stops it all."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 240  # an upper bound, not a window: migrations, collectstatic and gunicorn on a busy machine
STOP_TIMEOUT_S = 40  # scripts/run/supervise.py sends SIGTERM, and SIGKILL after 20 s

pytestmark = [pytest.mark.integration, pytest.mark.timeout(STARTUP_TIMEOUT_S + STOP_TIMEOUT_S + 60)]


def free_port() -> int:
    return int(subprocess.run([sys.executable, "scripts/run/localredis.py", "free-port"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout)


def children(pid: int) -> set[int]:
    """Every live descendant of `pid` (supervise.py starts each Procfile process in a session of its own)."""
    parents = {}
    for folder in Path("/proc").glob("[0-9]*"):
        fields = stat(int(folder.name))
        if fields and fields[0] != "Z":
            parents.setdefault(int(fields[1]), []).append(int(folder.name))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def stat(pid: int) -> list[str] | None:
    """State, parent, process group, ... of a process (None when it is gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie waits for whoever adopted it)."""
    fields = stat(pid)
    return fields is not None and fields[0] != "Z"


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def get(url: str) -> tuple[int, bytes] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:  # not listening yet
        return None


@pytest.fixture
def run_sh(tmp_path):
    """scripts/run/run.sh in a process group of its own, with nothing of the checkout's var/."""
    var_dir = tmp_path / "var"
    web_port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("MEDIA_ROOT", "STATIC_ROOT", "TRAINING_DIR", "DEBUG")},
        "APP_ENV": "local",
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / 'db.sqlite3'}",
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing answers: run.sh starts its own
        "WEB_PORT": str(web_port),
        "WEB_CONCURRENCY": "1",
        "COLORIZER_DEVICE": "cpu",
        "OMP_NUM_THREADS": "1",
    }
    log_path = tmp_path / "run.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(["bash", "scripts/run/run.sh"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    run = {"process": process, "url": f"http://127.0.0.1:{web_port}", "log": log_path, "var_dir": var_dir,
           "seen": set()}
    try:
        yield run
    finally:
        # Whatever happened, leave nothing running: every process seen, and the process groups
        # they lead (which hold what started after the last look, e.g. a new pool child).
        ours = {process.pid} | run["seen"] | children(process.pid)
        groups = {int(fields[2]) for pid in ours if (fields := stat(pid))} & ours
        for kill, target in [*((os.killpg, group) for group in groups), *((os.kill, pid) for pid in ours)]:
            try:
                kill(target, signal.SIGKILL)
            except OSError:  # already gone
                pass
        process.wait(10)


def test_it_serves_the_app_and_ctrl_c_stops_every_process(run_sh):
    process, url, log = run_sh["process"], run_sh["url"], run_sh["log"]

    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while (home := get(url + "/")) is None or home[0] != 200:
        assert process.poll() is None, f"run.sh exited with {process.returncode}:\n{log.read_text()[-4000:]}"
        assert time.monotonic() < deadline, f"GET / never answered 200:\n{log.read_text()[-4000:]}"
        run_sh["seen"] |= children(process.pid)
        time.sleep(0.5)
    health = get(url + "/healthz")
    assert health is not None and health[0] in (200, 503)
    assert json.loads(health[1])["database"]["ok"] is True

    output = log.read_text()
    assert f"Hue is starting on {url}/" in output
    assert f"VAR_DIR={run_sh['var_dir']} make superuser" in output
    assert (run_sh["var_dir"] / "db.sqlite3").exists()
    deadline = time.monotonic() + STARTUP_TIMEOUT_S  # beat writes its schedule (a dbm: several files) once started
    while not list(run_sh["var_dir"].glob("celerybeat-schedule*")):
        assert time.monotonic() < deadline, f"beat kept no schedule in VAR_DIR:\n{log.read_text()[-4000:]}"
        time.sleep(0.2)

    started = children(process.pid)
    run_sh["seen"] |= started
    commands = " | ".join(command_line(pid) for pid in started)
    for expected in ("redis-server", "gunicorn", "--queues inference", "--queues maintenance", "--queues training",
                     "worker beat"):
        assert expected in commands, f"no {expected} process: {commands}"

    # A crashed process is started again, with a log line, and the others go on.
    def inference_worker() -> int | None:
        """The inference worker's main process (not one of its pool's children, which share its command line)."""
        return next((pid for pid in children(process.pid) if "--hostname inference@" in command_line(pid)
                     and (fields := stat(pid)) and "--hostname inference@" not in command_line(int(fields[1]))), None)

    killed = inference_worker()
    os.kill(killed, signal.SIGKILL)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    # Wait for the supervisor's word first: until it has reaped the killed worker, the worker's orphaned
    # pool children can look like a new main process for a moment.
    while "inference was killed by SIGKILL" not in log.read_text() or inference_worker() in (None, killed):
        assert time.monotonic() < deadline, f"the inference worker was not restarted:\n{log.read_text()[-4000:]}"
        time.sleep(0.2)
    run_sh["seen"] |= children(process.pid)
    assert "restarting it" in log.read_text()
    assert get(url + "/") is not None and get(url + "/")[0] == 200  # web stayed up
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal does

    process.wait(STOP_TIMEOUT_S)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while left := {pid for pid in run_sh["seen"] if running(pid)}:
        assert time.monotonic() < deadline, f"still running after Ctrl-C: {sorted(left)}\n{log.read_text()[-4000:]}"
        time.sleep(0.2)
