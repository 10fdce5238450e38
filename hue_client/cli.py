"""The `hue` command: colorize a folder, show the account's status, download one photo's result."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from pathlib import Path

from tqdm import tqdm

from hue_client import __version__
from hue_client.api import Client, HueError, Rejected
from hue_client.state import DOWNLOADED, FAILED, STATE_NAME, UPLOADED, State

PHOTO_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
OVERLAP = timedelta(minutes=2)  # results are asked for again this far back: a late commit is never missed
SAVE_EVERY = 0.25  # s: the state file is rewritten at most this often while uploading (and at the end)


def say(text: str) -> None:
    tqdm.write(text, file=sys.stderr)


# --- Finding the photos ---------------------------------------------------------------------------


def find_photos(source: Path, out: Path) -> list[tuple[str, Path]]:
    """(relative path, path) of every photo under `source`, in a stable order; hidden files and `out` skipped."""
    out = out.resolve()
    found = []
    for root, folders, files in os.walk(source):
        root_path = Path(root)
        folders[:] = sorted(name for name in folders
                            if not name.startswith(".") and (root_path / name).resolve() != out)
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in PHOTO_SUFFIXES:
                path = root_path / name
                found.append((path.relative_to(source).as_posix(), path))
    return found


def result_names(relatives: list[str], extension: str) -> dict[str, str]:
    """Where each result goes, relative to the output folder: beside its relative path, with the result's
    extension (`box/a.jpg` -> `box/a.png`); photos that would land on one name keep theirs (`a.jpg.png`)."""
    plain = {relative: str(Path(relative).with_suffix(f".{extension}").as_posix()) for relative in relatives}
    taken: dict[str, int] = {}
    for name in plain.values():
        taken[name] = taken.get(name, 0) + 1
    return {relative: name if taken[name] == 1 else f"{relative}.{extension}" for relative, name in plain.items()}


# --- colorize -------------------------------------------------------------------------------------


class Run:
    def __init__(self, client: Client, source: Path, out: Path, extension: str, parallel: int, poll: float,
                 retry_failed: bool):
        self.client, self.source, self.out, self.extension = client, source, out, extension
        self.parallel, self.poll, self.retry_failed = parallel, poll, retry_failed
        self.state = State(out, client.base)
        if self.state.server.rstrip("/") != client.base:
            raise HueError(f"{out} holds the results of a run against {self.state.server}: give another --out, "
                           f"or the same --url.")
        self.waiting: dict[str, str] = {}  # job id -> relative path
        self.lock = threading.Lock()
        self.uploading_done = threading.Event()
        self.saved_at = 0.0
        self.colorized = 0

    def save(self, force: bool = False) -> None:
        if force or time.monotonic() - self.saved_at >= SAVE_EVERY:
            self.state.save()
            self.saved_at = time.monotonic()

    def execute(self) -> int:
        photos = find_photos(self.source, self.out)
        names = result_names([relative for relative, _ in photos], self.extension)
        self.names = names
        paths = dict(photos)
        skipped, to_upload = 0, []
        for relative, _ in photos:
            entry = self.state.photos.get(relative, {})
            if (self.out / names[relative]).exists():
                skipped += 1
                continue
            if entry.get("state") == FAILED:
                if not self.retry_failed:
                    continue
                if entry.get("photo_id"):
                    self.ask_again(relative, entry)
                    continue
            if entry.get("state") == UPLOADED and entry.get("job_id"):
                self.waiting[entry["job_id"]] = relative
            else:
                to_upload.append(relative)
        self.save(force=True)
        say(f"{len(photos)} photos in {self.source}: {skipped} already in {self.out}, {len(to_upload)} to upload, "
            f"{len(self.waiting)} already on the server.")
        self.bars = {
            "up": tqdm(total=len(to_upload), desc="uploaded ", unit="photo", position=0, disable=None),
            "done": tqdm(total=len(to_upload) + len(self.waiting), desc="colorized", unit="photo", position=1,
                         disable=None),
        }
        uploader = threading.Thread(target=self.upload_all, args=(to_upload, paths), daemon=True)
        uploader.start()
        try:
            self.wait_and_download()
        finally:
            self.uploading_done.wait(timeout=0 if sys.exc_info()[0] else None)
            self.save(force=True)
            for bar in self.bars.values():
                bar.close()
        if getattr(self, "upload_error", None):
            raise self.upload_error
        return self.report(skipped)

    def upload_all(self, relatives: list[str], paths: dict[str, Path]) -> None:
        def upload(relative: str) -> None:
            path = paths[relative]
            key = self.state.key_for(relative, path)
            try:
                answer = self.client.upload(path, path.name, key)
            except Rejected as rejection:
                self.state.record(relative, state=FAILED, error=str(rejection))
                self.bars["done"].update(1)
            else:
                self.state.record(relative, state=UPLOADED, photo_id=answer["id"], job_id=answer["job"]["id"],
                                  created_at=answer["job"]["created_at"], error="")
                with self.lock:
                    self.waiting[answer["job"]["id"]] = relative
                if answer["job"]["state"] in ("done", "failed"):  # uploaded before: its result may be ready
                    self.handle(answer["job"])
            self.bars["up"].update(1)
            with self.lock:
                self.save()

        try:
            with ThreadPoolExecutor(max_workers=self.parallel) as pool:
                for _ in pool.map(upload, relatives):
                    pass
        except BaseException as exc:  # a bad token, the server gone for longer than our patience
            self.upload_error = exc
        finally:
            with self.lock:
                self.save(force=True)
            self.uploading_done.set()

    def ask_again(self, relative: str, entry: dict) -> None:
        response = self.client.request("POST", f"/photos/{entry['photo_id']}/colorizations/", json={})
        if response.status_code >= 400:
            return
        job = response.json()
        self.state.record(relative, state=UPLOADED, job_id=job["id"], created_at=job["created_at"], error="")
        self.waiting[job["id"]] = relative

    def cursor(self) -> str | None:
        if self.state.cursor:
            return self.state.cursor
        with self.lock:
            created = [self.state.photos[relative].get("created_at") for relative in self.waiting.values()]
        created = [moment for moment in created if moment]
        return min(created) if created else None

    def wait_and_download(self) -> None:
        last_progress = time.monotonic()
        while True:
            with self.lock:
                finished_uploading = self.uploading_done.is_set()
                waiting = bool(self.waiting)
            if finished_uploading and not waiting:
                return
            if getattr(self, "upload_error", None):
                return
            progressed = False
            cursor = self.cursor()
            if cursor:
                since = (datetime.fromisoformat(cursor.replace("Z", "+00:00")) - OVERLAP).isoformat()
                newest = cursor
                for job in self.client.finished_since(since):
                    newest = max(newest, job["finished_at"]) if job.get("finished_at") else newest
                    progressed |= self.handle(job)
                if newest != self.state.cursor:
                    self.state.cursor = newest
            if progressed:
                last_progress = time.monotonic()
                self.save(force=True)
            elif time.monotonic() - last_progress > 60 and waiting:
                self.check_one_by_one()  # a safety net: jobs deleted on the server, clocks far apart
                last_progress = time.monotonic()
            if not progressed:
                if finished_uploading:
                    time.sleep(self.poll)
                else:
                    self.uploading_done.wait(self.poll)

    def check_one_by_one(self) -> None:
        with self.lock:
            jobs = list(self.waiting)[:100]
        for job_id in jobs:
            job = self.client.colorization(job_id)
            if job is None:
                with self.lock:
                    relative = self.waiting.pop(job_id, None)
                if relative is not None:
                    self.state.record(relative, state=FAILED, error="It was deleted on the server.")
                    self.bars["done"].update(1)
            else:
                self.handle(job)
        self.save(force=True)

    def handle(self, job: dict) -> bool:
        """Deal with a job that ended; True when it was one this run waits for (each is handled once)."""
        if job["state"] not in ("done", "failed"):
            return False
        with self.lock:
            relative = self.waiting.pop(job["id"], None)  # claimed: no other thread handles it too
        if relative is None:
            return False
        if job["state"] == "done":
            url = job["result_png_url"] if self.extension == "png" else job["result_jpeg_url"]
            try:
                self.client.download(url, self.out / self.names[relative])
            except Rejected as rejection:
                self.state.record(relative, state=FAILED, error=f"Download failed: {rejection}")
            else:
                self.state.record(relative, state=DOWNLOADED, error="")
                with self.lock:
                    self.colorized += 1
        else:
            self.state.record(relative, state=FAILED, error=job.get("message") or "The colorization failed.")
        self.bars["done"].update(1)
        return True

    def report(self, skipped: int) -> int:
        failed = sorted((relative, entry.get("error", "")) for relative, entry in self.state.photos.items()
                        if entry.get("state") == FAILED and not (self.out / self.names.get(relative, relative)).exists())
        print(f"{self.colorized} colorized into {self.out}, {skipped} already there, {len(failed)} failed.")
        for relative, reason in failed:
            print(f"  failed: {relative}: {reason}")
        if failed:
            print("Run again with --retry-failed to try the failed ones again.")
        return 1 if failed else 0


def colorize(client: Client, args) -> int:
    source, out = Path(args.folder), Path(args.out)
    if not source.is_dir():
        raise HueError(f"{source} is not a folder.")
    out.mkdir(parents=True, exist_ok=True)
    return Run(client, source, out, args.format, args.parallel, args.poll, args.retry_failed).execute()


# --- status and download --------------------------------------------------------------------------


def status(client: Client, args) -> int:
    account = client.account()
    jobs = account["colorizations"]
    print(f"{account['username']} on {client.base}: {account['photos']} photos; colorizations: "
          + ", ".join(f"{count} {state}" for state, count in jobs.items()))
    print(f"limits: {account['rate']} requests per token, {account['queued_cap']} colorizations waiting at once, "
          f"{account['upload_max_bytes'] // (1024 * 1024)} MB per photo")
    if args.out:
        state_file = Path(args.out) / STATE_NAME
        if not state_file.exists():
            print(f"{args.out}: no run recorded there.")
        else:
            counts = State(Path(args.out), client.base).counts()
            print(f"{args.out}: " + ", ".join(f"{count} {name}" for name, count in sorted(counts.items())))
    return 0


def download(client: Client, args) -> int:
    photo = client.photo(args.photo_id)
    done = [job for job in photo["colorizations"] if job["state"] == "done"]
    if args.job:
        done = [job for job in done if job["id"] == args.job]
    if not done:
        states = ", ".join(job["state"] for job in photo["colorizations"]) or "none"
        print(f"{photo['name']} has no finished colorization yet (colorizations: {states}).", file=sys.stderr)
        return 1
    job = done[0]  # newest first
    stem = Path(photo["name"]).stem or "photo"
    destination = Path(args.out) / f"{stem}-colorized.{args.format}"
    url = job["result_png_url"] if args.format == "png" else job["result_jpeg_url"]
    size = client.download(url, destination)
    print(f"{destination} ({size:,} bytes)")
    return 0


# --- The command line -----------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    main_parser = argparse.ArgumentParser(prog="hue", description="Colorize black-and-white photos on a Hue server.")
    main_parser.add_argument("--url", default=os.environ.get("HUE_URL", ""),
                             help="the server, e.g. https://photos.example.org (default: $HUE_URL)")
    main_parser.add_argument("--token", default=os.environ.get("HUE_TOKEN", ""),
                             help="an API token from your account page (default: $HUE_TOKEN)")
    main_parser.add_argument("--patience", type=float, default=900,
                             help="seconds to keep retrying while the server cannot be reached (default 900)")
    main_parser.add_argument("--version", action="version", version=f"hue {__version__}")
    commands = main_parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("colorize", help="upload every photo in a folder and download the results")
    run.add_argument("folder", help="the folder of photos (searched recursively)")
    run.add_argument("--out", required=True, help="where results go, beside their relative paths")
    run.add_argument("--format", choices=["png", "jpg"], default="png", help="result format (default png)")
    run.add_argument("--parallel", type=int, default=4, help="uploads at once (default 4)")
    run.add_argument("--poll", type=float, default=2.0, help="seconds between asking for finished results")
    run.add_argument("--retry-failed", action="store_true", help="try the photos that failed before again")
    run.set_defaults(handler=colorize)

    show = commands.add_parser("status", help="your photos and limits on the server (and a run's progress)")
    show.add_argument("--out", help="also summarise the run recorded in this output folder")
    show.set_defaults(handler=status)

    fetch = commands.add_parser("download", help="download the newest result of one photo")
    fetch.add_argument("photo_id")
    fetch.add_argument("--job", help="a particular colorization of it")
    fetch.add_argument("--out", default=".", help="folder to save into (default: here)")
    fetch.add_argument("--format", choices=["png", "jpg"], default="png")
    fetch.set_defaults(handler=download)
    return main_parser


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        client = Client(args.url, args.token, patience=args.patience, say=say)
        return args.handler(client, args)
    except HueError as error:
        print(f"hue: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("hue: interrupted; run the same command again to carry on where it stopped.", file=sys.stderr)
        return 130
