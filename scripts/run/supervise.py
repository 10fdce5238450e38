"""Run the processes of a Procfile together, the way `make run` needs them.

    python scripts/run/supervise.py --procfile Procfile web inference ...

- Each process runs its Procfile command through the shell (so $VARIABLES expand), in a
  process group of its own; its output is printed line by line, prefixed with its name.
- A process that exits (crashes, is killed) is started again, with a log line that says how
  it ended. One that keeps failing within MIN_UPTIME_S of its start waits longer each time
  (1 s, 2 s, 4 s ... at most MAX_BACKOFF_S).
- Ctrl-C (SIGINT) or SIGTERM stops them all: SIGTERM to each process group, then SIGKILL to
  whatever is left after STOP_GRACE_S.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

MIN_UPTIME_S = 10.0  # a process that ran this long before it ended is restarted at once
MAX_BACKOFF_S = 30.0
STOP_GRACE_S = 20.0
POLL_S = 0.2

_print_lock = threading.Lock()


def say(name: str, text: str, width: int) -> None:
    with _print_lock:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {name.ljust(width)} | {text}\n")
        sys.stdout.flush()


@dataclass
class Process:
    name: str
    command: str
    width: int
    popen: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0  # ends in a row, each within MIN_UPTIME_S of its start
    restart_at: float | None = None
    reader: threading.Thread | None = field(default=None, repr=False)

    def start(self) -> None:
        self.popen = subprocess.Popen(["/bin/sh", "-c", self.command], stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        self.started_at = time.monotonic()
        self.restart_at = None
        self.reader = threading.Thread(target=self._copy_output, args=(self.popen,), daemon=True)
        self.reader.start()
        say("supervise", f"started {self.name} (pid {self.popen.pid})", self.width)

    def _copy_output(self, popen: subprocess.Popen) -> None:
        for raw in iter(popen.stdout.readline, b""):
            say(self.name, raw.decode(errors="replace").rstrip("\n"), self.width)
        popen.stdout.close()

    def signal_group(self, signum: int) -> None:
        """`signum` to the process and everything it started (its pool children, a shell's children)."""
        if self.popen is None:
            return
        try:
            os.killpg(self.popen.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass

    def group_alive(self) -> bool:
        if self.popen is None:
            return False
        try:
            os.killpg(self.popen.pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def read_procfile(path: Path) -> dict[str, str]:
    commands = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, command = line.split(":", 1)
        commands[name.strip()] = command.strip()
    return commands


class Supervisor:
    def __init__(self, commands: dict[str, str]):
        width = max(len(name) for name in [*commands, "supervise"])
        self.width = width
        self.processes = [Process(name, command, width) for name, command in commands.items()]
        self.stopping = False

    def request_stop(self, signum, frame) -> None:
        self.stopping = True

    def run(self) -> int:
        signal.signal(signal.SIGINT, self.request_stop)
        signal.signal(signal.SIGTERM, self.request_stop)
        for process in self.processes:
            process.start()
        while not self.stopping:
            now = time.monotonic()
            for process in self.processes:
                if process.restart_at is not None:
                    if now >= process.restart_at:
                        process.start()
                    continue
                code = process.popen.poll()
                if code is None:
                    continue
                # What it started (a celery worker's pool children) goes with it before the restart.
                process.signal_group(signal.SIGKILL)
                uptime = now - process.started_at
                process.failures = process.failures + 1 if uptime < MIN_UPTIME_S else 0
                delay = min(MAX_BACKOFF_S, 2 ** (process.failures - 1)) if process.failures else 0.0
                process.restart_at = now + delay
                say("supervise", f"{process.name} {describe_exit(code)} after {uptime:.0f} s; restarting it"
                                 + (f" in {delay:.0f} s" if delay else ""), self.width)
            time.sleep(POLL_S)
        return self.stop()

    def stop(self) -> int:
        say("supervise", "stopping every process", self.width)
        for process in self.processes:
            process.signal_group(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        while time.monotonic() < deadline and any(process.group_alive() for process in self.processes):
            for process in self.processes:
                if process.popen is not None:
                    process.popen.poll()  # reap the leader so that an exited group is seen as gone
            time.sleep(POLL_S)
        for process in self.processes:
            if process.group_alive():
                say("supervise", f"{process.name} did not stop within {STOP_GRACE_S:.0f} s; killing it", self.width)
                process.signal_group(signal.SIGKILL)
        for process in self.processes:
            if process.popen is not None:
                try:
                    process.popen.wait(5)
                except subprocess.TimeoutExpired:
                    pass
        say("supervise", "stopped", self.width)
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run Procfile processes; restart any that ends; Ctrl-C stops all.")
    parser.add_argument("--procfile", type=Path, default=Path("Procfile"))
    parser.add_argument("names", nargs="*", help="processes to run (default: all)")
    args = parser.parse_args(argv)
    commands = read_procfile(args.procfile)
    unknown = [name for name in args.names if name not in commands]
    if unknown:
        parser.error(f"not in {args.procfile}: {', '.join(unknown)}")
    selected = {name: commands[name] for name in (args.names or commands)}
    return Supervisor(selected).run()


if __name__ == "__main__":
    sys.exit(main())
