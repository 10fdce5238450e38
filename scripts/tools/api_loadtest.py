"""Photos per minute from a folder to results, with the `hue` client against a private copy of the app.

    .venv/bin/python scripts/tools/api_loadtest.py [--photos 200] [--size 1024x768] [--device cpu]
                                             [--render-size 256] [--weights FILE] [--parallel 4]

Starts what `make run` starts for a photo's way through (scripts/tools/loadtest.py's Stack: its own
redis-server, SQLite database and media folder, the ASGI web server and one Celery inference
worker, concurrency 1), makes an account and an API token, writes --photos black-and-white JPEGs
into a folder, then runs `python -m hue_client colorize FOLDER --out RESULTS` as a person would
and prints photos per minute from its start to its end (uploads, colorizing, downloads). The
model is --weights, else the shipped default, else the paper's U-Net with random weights.
Printed, never asserted: a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.tools.loadtest import Stack, black_and_white_photo  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--size", default="1024x768", help="photo size, WIDTHxHEIGHT")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--render-size", type=int, default=256)
    parser.add_argument("--weights")
    parser.add_argument("--parallel", type=int, default=4, help="the client's uploads at once")
    args = parser.parse_args()
    args.concurrency, args.samples = 1, None
    width, height = (int(side) for side in args.size.lower().split("x"))

    stack = Stack(args)
    try:
        model = stack.start()
        from django.contrib.auth.models import User

        from webapp.api.models import ApiToken

        user = User.objects.create_user("archive")
        _, key = ApiToken.issue(user, "load test")
        folder = Path(tempfile.mkdtemp(prefix="hue-api-loadtest-", dir=stack.dir))
        photos = folder / "scans"
        for n in range(args.photos):
            path = photos / f"box{n // 50:02d}" / f"scan-{n:04d}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(black_and_white_photo(width, height, seed=n))
        print(f"model: {model}; device {args.device}; render size {args.render_size}; one worker process; "
              f"{os.cpu_count()} CPUs; {args.photos} photos of {width}x{height}")
        env = {**os.environ, "HUE_URL": stack.base_url, "HUE_TOKEN": key}
        started = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "hue_client", "colorize", str(photos), "--out",
                              str(folder / "results"), "--parallel", str(args.parallel), "--poll", "1"],
                             cwd=ROOT, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        print(run.stdout.strip())
        if run.returncode != 0:
            print(run.stderr[-2000:], file=sys.stderr)
            return run.returncode
        results = list((folder / "results").rglob("*.png"))
        print(f"{len(results)} results from {args.photos} photos in {elapsed:.1f} s -> "
              f"{len(results) / elapsed * 60:.1f} photos per minute, folder to results")
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
