"""How fast the whole app turns uploads into results, measured from the outside.

    .venv/bin/python scripts/tools/loadtest.py [--photos 50] [--latency-runs 5] [--concurrency 1]
                                         [--device cpu] [--render-size 256] [--weights FILE]
                                         [--samples FOLDER]

Starts a private copy of the app in a temporary folder (its own redis-server, SQLite
database and media folder): the ASGI web server (uvicorn) and one Celery inference worker,
as `make run` does. Then, as a signed-in user, over real HTTP and a real websocket:

1. latency: uploads a 1024x768 black-and-white photo, waits for its `done` event on the
   websocket, and repeats; prints the time from the start of the upload to that event (the
   first job on the fresh worker separately: it shows whether the worker had its model ready);
2. throughput: uploads --photos photos at once (one request each, all in parallel) and
   prints jobs per minute from the first upload to the last `done` event.

The model is --weights, else the shipped default (COLORIZER_DEFAULT_WEIGHTS) when present,
else the paper's full-size U-Net with random weights (it runs exactly as fast as trained ones).
Figures are printed, never asserted: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))  # the project's packages, when run as `python scripts/tools/loadtest.py`


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def black_and_white_photo(width: int = 1024, height: int = 768, seed: int = 0, samples_dir: str | None = None) -> bytes:
    """A 1024x768 gray JPEG: one of --samples' photos when given, else a textured gradient made here."""
    import numpy as np
    from PIL import Image, ImageOps

    samples = sorted(Path(samples_dir).glob("*.jp*g")) if samples_dir else []
    if samples:
        with Image.open(samples[seed % len(samples)]) as source:
            image = ImageOps.fit(source.convert("L"), (width, height), Image.Resampling.LANCZOS)
    else:
        rng = np.random.default_rng(seed)
        ramp = np.linspace(20, 230, width)[None, :] + np.linspace(0, 25, height)[:, None]
        image = Image.fromarray(np.clip(ramp + rng.normal(0, 8, (height, width)), 0, 255).astype(np.uint8), "L")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


class Stack:
    """Redis, the web server and a worker, each a process group of its own."""

    def __init__(self, args):
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="hue-loadtest-"))
        self.redis_port, self.web_port = free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.env = {
            **os.environ,
            "APP_ENV": "local", "DEBUG": "false", "VAR_DIR": str(self.dir),
            "DATABASE_URL": f"sqlite:///{self.dir / 'db.sqlite3'}", "MEDIA_ROOT": str(self.dir / "media"),
            "REDIS_URL": f"redis://127.0.0.1:{self.redis_port}/0", "COLORIZER_DEVICE": args.device,
            "COLORIZE_RENDER_SIZES": str(args.render_size), "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
        }
        self.processes: list[subprocess.Popen] = []

    def spawn(self, name: str, *command: str) -> None:
        log = open(self.dir / f"{name}.log", "ab")
        self.processes.append(subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log,
                                               start_new_session=True))

    def start(self) -> str:
        """Start everything, the model registered before the worker starts (as after `make run`); returns
        the model's description once the worker answers."""
        os.environ.update(self.env)  # this process reads the same database (Django ORM for set-up)
        self.spawn("redis", sys.executable, "scripts/run/localredis.py", "serve", str(self.redis_port))
        subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env,
                       check=True)
        model = register_model(self.args, self.dir)
        self.spawn("web", sys.executable, "-m", "uvicorn", "webapp.asgi:application", "--host", "127.0.0.1",
                   "--port", str(self.web_port), "--log-level", "warning")
        worker_started = time.perf_counter()
        self.spawn("worker", sys.executable, "-m", "celery", "-A", "worker", "worker", "--queues", "inference",
                   "--concurrency", str(self.args.concurrency), "--loglevel", "INFO")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.base_url + "/accounts/login/", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"the web server did not start; see {self.dir / 'web.log'}")
        # Each worker process loads the active model as it starts and logs "preloaded model": wait for all.
        log = self.dir / "worker.log"
        deadline = time.monotonic() + 120
        while log.read_text(errors="replace").count("preloaded model") < self.args.concurrency:
            if time.monotonic() > deadline:
                raise SystemExit(f"the worker never had its model ready; see {log}")
            time.sleep(0.1)
        self.worker_ready_s = time.perf_counter() - worker_started
        return model

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


def register_model(args, folder: Path) -> str:
    """Register and activate the model to measure; returns a description of it."""
    import django

    django.setup()
    from django.conf import settings
    from django.core.files import File

    from webapp.registry.services import register_version

    weights = Path(args.weights) if args.weights else settings.COLORIZER_DEFAULT_WEIGHTS
    if weights.exists():
        description = f"{weights.name}"
    else:
        import torch

        from colorizer import GeneratorConfig, build_generator
        from colorizer.checkpoint import save_generator

        config = GeneratorConfig()
        network = build_generator(config, load_pretrained=False)
        weights = folder / "paper-unet-random.safetensors"
        save_generator(weights, network.state_dict(), config.to_dict())
        parameters = sum(p.numel() for p in network.parameters()) / 1e6
        description = f"paper U-Net, random weights ({parameters:.1f} M parameters; no trained model found)"
        del network, torch
    with weights.open("rb") as handle:
        version = register_version(File(handle, name=weights.name), name="loadtest", activate=True)
    config = version.config
    return f"{description} [{config.get('arch')}]"


class Session:
    """A signed-in user speaking HTTP and the job websocket to the server."""

    def __init__(self, base_url: str):
        from django.contrib.auth.models import User
        from django.test import Client

        user = User.objects.create_user(f"load-{uuid.uuid4().hex[:8]}")
        client = Client()
        client.force_login(user)
        self.base_url = base_url
        self.cookie = f"sessionid={client.cookies['sessionid'].value}"
        self.csrf_token = uuid.uuid4().hex  # any 32 letters and digits: Django compares cookie and header
        self.done_at: dict[str, float] = {}
        self.failed: dict[str, str] = {}
        self.lost: Exception | None = None  # the websocket dropped: no more results can arrive
        self.changed = threading.Condition()
        self.socket = None

    def listen(self) -> None:
        from websockets.sync.client import connect

        ws_url = self.base_url.replace("http://", "ws://") + "/ws/jobs/"
        self.socket = connect(ws_url, additional_headers={"Cookie": self.cookie, "Origin": self.base_url})
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            self._read_events()
        except Exception as exc:
            with self.changed:
                self.lost = exc
                self.changed.notify_all()

    def _read_events(self) -> None:
        for text in self.socket:
            event = json.loads(text)
            if event.get("type") != "job.update":
                continue
            job = event["job"]
            if job["state"] in ("done", "failed"):
                with self.changed:
                    if job["state"] == "done":
                        self.done_at.setdefault(job["id"], time.perf_counter())
                    else:
                        self.failed[job["id"]] = job["message"]
                    self.changed.notify_all()

    def upload(self, data: bytes, name: str) -> str:
        boundary = uuid.uuid4().hex
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
                f"Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
        request = urllib.request.Request(self.base_url + "/upload/", data=body, method="POST", headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Accept": "application/json",
            "Cookie": f"{self.cookie}; csrftoken={self.csrf_token}", "X-CSRFToken": self.csrf_token,
        })
        with urllib.request.urlopen(request, timeout=120) as response:
            return json.loads(response.read())["job"]["id"]

    def wait(self, job_ids: list[str], timeout: float = 1800) -> float:
        """The perf_counter time of the last `done` among job_ids."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not all(job in self.done_at or job in self.failed for job in job_ids):
                if self.lost:
                    raise SystemExit(f"the websocket dropped: {self.lost!r}")
                if not self.changed.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise SystemExit("timed out waiting for results")
        failures = [self.failed[job] for job in job_ids if job in self.failed]
        if failures:
            raise SystemExit(f"{len(failures)} jobs failed, e.g. {failures[0]}")
        return max(self.done_at[job] for job in job_ids)


def latency_summary(latencies: list[float]) -> str:
    """The latency line: the cold first job, then the warm runs' median (none with --latency-runs 0)."""
    line = f"upload -> result on the websocket, 1024x768 photo: first job (fresh worker) {latencies[0]:.2f} s"
    warm = latencies[1:]
    if not warm:
        return line + "; no warm runs (--latency-runs 0)"
    return (line + f"; then median {statistics.median(warm):.2f} s "
            f"(min {min(warm):.2f}, max {max(warm):.2f}, {len(warm)} run{'s' if len(warm) != 1 else ''})")


def job_stages(job_id: str, uploaded_at: float) -> dict:
    """Where a job's time went, from its row: upload -> queued (web), -> running (broker and worker), -> done."""
    from webapp.photos.models import Colorization

    job = Colorization.objects.get(pk=job_id)
    return {"web": job.created_at.timestamp() - uploaded_at,
            "queue": (job.started_at - job.created_at).total_seconds(),
            "colorize": (job.finished_at - job.started_at).total_seconds()}


def stages_summary(stages: list[dict]) -> str:
    """The first job's stages beside the warm runs' medians."""
    def line(values: dict) -> str:
        return ", ".join(f"{name} {seconds:.2f} s" for name, seconds in values.items())

    text = f"where the time went: first job {line(stages[0])}"
    if len(stages) > 1:
        medians = {name: statistics.median(stage[name] for stage in stages[1:]) for name in stages[0]}
        text += f"; warm median {line(medians)}"
    return text


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=50, help="photos uploaded at once for the throughput figure")
    parser.add_argument("--latency-runs", type=non_negative, default=5,
                        help="warm single-photo runs after the cold one (0: the cold one only)")
    parser.add_argument("--concurrency", type=int, default=1, help="worker processes (compose runs 1 per machine)")
    parser.add_argument("--device", default="cpu", help="COLORIZER_DEVICE of the worker: cpu, cuda or auto")
    parser.add_argument("--render-size", type=int, default=256)
    parser.add_argument("--weights", help="generator file to measure (default: shipped model or paper U-Net)")
    parser.add_argument("--samples", help="a folder of black-and-white JPEGs to upload (default: gray gradients)")
    args = parser.parse_args()

    stack = Stack(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))  # stop the stack on `kill` or `timeout` too
    try:
        model = stack.start()
        session = Session(stack.base_url)
        session.listen()
        photo = black_and_white_photo(samples_dir=args.samples)
        print(f"model: {model}; device {args.device}; render size {args.render_size}; "
              f"worker concurrency {args.concurrency}; {os.cpu_count()} CPUs")
        print(f"worker started and had the model loaded in {stack.worker_ready_s:.1f} s")

        latencies, stages = [], []
        for run in range(args.latency_runs + 1):
            started, wall = time.perf_counter(), time.time()
            job = session.upload(photo, f"latency-{run}.jpg")
            latencies.append(session.wait([job]) - started)
            stages.append(job_stages(job, wall))
        print(latency_summary(latencies))
        print(stages_summary(stages))

        photos = [black_and_white_photo(seed=n, samples_dir=args.samples) for n in range(args.photos)]
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.photos) as pool:
            jobs = list(pool.map(lambda item: session.upload(item[1], f"batch-{item[0]}.jpg"), enumerate(photos)))
        uploaded = time.perf_counter() - started
        finished = session.wait(jobs) - started
        print(f"{args.photos} photos uploaded at once: all uploads answered in {uploaded:.1f} s, "
              f"last result after {finished:.1f} s -> {args.photos / finished * 60:.1f} jobs per minute")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
