"""scripts/run/supervise.py (what `make run` runs the Procfile with): a process that dies is started again
with a log line, the others go on, and Ctrl-C stops them all."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # real processes under a real supervisor

ROOT = Path(__file__).resolve().parents[2]


class Supervised:
    """supervise.py on a Procfile, its output read line by line into events a test can wait on."""

    def __init__(self, procfile: Path):
        self.process = subprocess.Popen([sys.executable, "scripts/run/supervise.py", "--procfile", str(procfile)], cwd=ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True)
        self.lines: list[str] = []
        self.changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_for_line(self, text: str, after: int = 0, timeout: float = 30) -> str:
        """The first line from index `after` on that contains `text`, once supervise.py has printed it."""
        def found():
            return next((line for line in self.lines[after:] if text in line), None)

        with self.changed:
            assert self.changed.wait_for(found, timeout), f"no line with {text!r}:\n" + "\n".join(self.lines)
            return found()


def pid_in(line: str) -> int:
    return int(line.rsplit("(pid ", 1)[1].rstrip(")"))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def supervised(tmp_path):
    procfile = tmp_path / "Procfile"
    procfile.write_text("crashy: echo up; exec sleep 600\nsteady: echo steady; exec sleep 600\n")
    supervised = Supervised(procfile)
    yield supervised
    if supervised.process.poll() is None:
        os.killpg(supervised.process.pid, signal.SIGKILL)
    supervised.process.wait(10)


def test_it_restarts_a_killed_process_with_a_log_line_and_leaves_the_others_alone(supervised):
    crashy = pid_in(supervised.wait_for_line("started crashy"))
    steady = pid_in(supervised.wait_for_line("started steady"))
    supervised.wait_for_line("crashy    | up")
    seen = len(supervised.lines)

    os.kill(crashy, signal.SIGKILL)

    assert "crashy was killed by SIGKILL" in supervised.wait_for_line("restarting it", after=seen)
    restarted = pid_in(supervised.wait_for_line("started crashy", after=seen))
    assert restarted != crashy and alive(restarted) and alive(steady)


def test_ctrl_c_stops_every_process(supervised):
    pids = [pid_in(supervised.wait_for_line(f"started {name}")) for name in ("crashy", "steady")]

    os.killpg(supervised.process.pid, signal.SIGINT)

    assert supervised.process.wait(30) == 0
    assert "supervise | stopped" in supervised.wait_for_line("stopped")
    assert not any(alive(pid) for pid in pids)
