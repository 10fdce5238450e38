"""The `hue` client against a real server and a real worker: killed half-way, run again, every photo once."""

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from PIL import Image

from tests.webapp import samples
from tests.webapp.harness import ROOT, asgi_server, wait_for, worker_in_thread
from webapp.api.models import ApiToken
from webapp.photos.models import Colorization, Photo

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PHOTOS = 25


def make_scans(folder):
    """25 tiny photos in three boxes (names unique, sizes varied) and one text file named like a photo."""
    sizes = {}
    for n in range(PHOTOS):
        relative = f"box{n % 3}/scan-{n:02d}.jpg" if n % 5 else f"scan-{n:02d}.jpg"
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        width, height = 40 + n, 32
        path.write_bytes(samples.gray_jpeg(width, height, seed=n))
        sizes[relative] = (width, height)
    (folder / "box1" / "shopping-list.jpg").write_bytes(samples.text_renamed_jpg())
    return sizes


def uploads_recorded(out) -> int:
    try:
        state = json.loads((out / ".hue-state.json").read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return 0
    return sum(1 for entry in state["photos"].values() if entry.get("photo_id"))


@pytest.mark.timeout(3600)  # the bounds below end a run whose event never comes; a loaded machine is slow
def test_the_client_resumes_after_a_crash_and_colorizes_every_photo_exactly_once(alice, stranger, tiny_model,
                                                                                  shared_redis, tmp_path):
    scans, out = tmp_path / "scans", tmp_path / "colorized"
    sizes = make_scans(scans)
    _, key = ApiToken.issue(alice, "archive")
    stranger_photo_count = Photo.objects.filter(owner=stranger).count()

    with asgi_server() as url, worker_in_thread(shared_redis):
        env = {**os.environ, "HUE_URL": url, "HUE_TOKEN": key}
        command = [sys.executable, "-m", "hue_client", "colorize", str(scans), "--out", str(out), "--parallel", "1",
                   "--poll", "0.2"]
        first = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: uploads_recorded(out) >= 10 or first.poll() is not None, timeout=600,
                     message="the client to record 10 uploads")
        finally:
            first.kill()  # a crash: no chance to save anything more
            first.wait(10)
        assert first.returncode == -9, "the first run ended before it could be killed"

        second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
        third = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        hue = [sys.executable, "-m", "hue_client"]
        status = subprocess.run(hue + ["status", "--out", str(out)], cwd=ROOT, env=env, capture_output=True,
                                text=True, timeout=600)
        some_photo = Photo.objects.filter(owner=alice, original_name="scan-07.jpg").get()
        download = subprocess.run(hue + ["download", str(some_photo.pk), "--out", str(tmp_path / "one"),
                                         "--format", "jpg"], cwd=ROOT, env=env, capture_output=True, text=True,
                                  timeout=600)

    report = second.stdout
    assert second.returncode == 1, report + second.stderr  # the text file failed
    assert "failed: box1/shopping-list.jpg: This is not a photo Hue can read" in report
    photos = Photo.objects.filter(owner=alice)
    assert Counter(photos.values_list("original_name", flat=True)) == Counter(
        relative.rsplit("/", 1)[-1] for relative in sizes)  # each uploaded exactly once
    assert Colorization.objects.filter(photo__owner=alice).count() == PHOTOS
    assert set(Colorization.objects.filter(photo__owner=alice).values_list("state", flat=True)) == {"done"}
    for relative, size in sizes.items():
        with Image.open(out / relative.replace(".jpg", ".png")) as result:
            assert (result.format, result.size) == ("PNG", size)
    assert Photo.objects.filter(owner=stranger).count() == stranger_photo_count

    assert f"0 colorized into {out}, {PHOTOS} already there, 1 failed." in third.stdout  # nothing is sent again
    assert Photo.objects.filter(owner=alice).count() == PHOTOS
    assert f"alice on {url}: {PHOTOS} photos; colorizations: 0 queued, 0 running, {PHOTOS} done" in status.stdout
    assert f"{out}: {PHOTOS} downloaded, 1 failed" in status.stdout
    with Image.open(tmp_path / "one" / "scan-07-colorized.jpg") as result:
        assert (result.format, result.size) == ("JPEG", sizes["box1/scan-07.jpg"])
    assert download.returncode == 0
