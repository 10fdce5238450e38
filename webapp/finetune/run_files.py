"""A training session's local files: copies of what lives in the media storage (photos, base weights,
checkpoints), and its checkpoints copied back to storage, so that a job resumes on any machine."""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage

from webapp.finetune.ingest import allowed_folder, photo_in_folder, read_manifest
from webapp.finetune.models import Dataset, FineTuneJob
from webapp.finetune.stored_files import copy_atomically, delete_tree


class RunFiles:
    """The file work of a JobRunner (webapp.finetune.runner), which provides `job`, `run_dir`,
    `update(**fields)` (a write while it holds the claim) and `between_copies()` (stops on a cancel)."""

    job: FineTuneJob
    run_dir: Path

    def prepare_photos(self) -> tuple[Path, Path]:
        """Local train/ and val/ folders: links to a server folder's files, or copies of stored photos."""
        manifest = read_manifest(self.job.dataset)
        if manifest["source"] == Dataset.Source.FOLDER:
            # Checked again now: the allowed roots may have changed, or a folder on the way become a link.
            root = allowed_folder(manifest["folder"])
        photos = sorted(manifest["photos"])
        random.Random(str(self.job.pk)).shuffle(photos)  # the same split on every resume
        val_count = min(len(photos) - 1, max(1, round(len(photos) * self.job.val_split)))
        splits = {"val": photos[:val_count], "train": photos[val_count:]}
        folders = {}
        for split, names in splits.items():
            folder = folders[split] = self.run_dir / "photos" / split
            if folder.is_dir() and len(os.listdir(folder)) == len(names):
                continue  # prepared by an earlier session of this job
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            for index, name in enumerate(names):
                self.between_copies()
                target = folder / f"{index:06d}{Path(name).suffix.lower()}"
                if manifest["source"] == Dataset.Source.FOLDER:
                    target.symlink_to(photo_in_folder(root, name))
                else:
                    with default_storage.open(name, "rb") as source:
                        copy_atomically(source, target)
        return folders["train"], folders["val"]

    def fetch_base_weights(self) -> Path:
        version = self.job.base_version
        if version is None:
            raise ValueError("its base model version was deleted")
        target = self.run_dir / f"base-v{version.number}.safetensors"
        if not target.exists():
            with version.weights.open("rb") as source:
                copy_atomically(source, target)
        return target

    def fetch_checkpoint(self) -> None:
        """Bring the last checkpoint back from storage: the job may resume on another machine."""
        prefix = self.job.checkpoint_prefix
        local = self.run_dir / "run" / "checkpoints"
        if not prefix or local.is_dir():
            return
        incoming = local.with_name("checkpoints.incoming")
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(parents=True)
        _, files = default_storage.listdir(prefix)
        for name in files:
            with default_storage.open(f"{prefix}/{name}", "rb") as source, open(incoming / name, "wb") as out:
                shutil.copyfileobj(source, out)
        incoming.rename(local)  # complete or absent, never half there

    def store_checkpoint(self, checkpoint_dir: str) -> None:
        """Copy the checkpoint to storage, then point the job at it (the old one is removed after)."""
        stamp = int(time.time() * 1000)
        prefix = f"finetune/{self.job.pk}/checkpoint-{stamp}"
        for path in sorted(Path(checkpoint_dir).iterdir()):
            if path.is_file():
                with open(path, "rb") as handle:
                    default_storage.save(f"{prefix}/{path.name}", File(handle))
        previous = self.job.checkpoint_prefix
        if not self.update(checkpoint_prefix=prefix):
            delete_tree(prefix)  # the job is another worker's now: its checkpoints are not ours to touch
            return
        self.job.checkpoint_prefix = prefix
        if previous:
            delete_tree(previous)


def delete_checkpoints(job: FineTuneJob) -> None:
    """A finished job's stored checkpoints (both networks and their optimisers: large) are not needed again."""
    prefix = f"finetune/{job.pk}"
    try:
        directories, _ = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in directories:
        if name.startswith("checkpoint-"):
            delete_tree(f"{prefix}/{name}")


def checkpoint_step(directory: Path) -> int:
    """The global step the engine resumes from: its checkpoint's, 0 without one."""
    from colorizer.checkpoint import recover_checkpoint

    if not recover_checkpoint(directory):  # the engine's own test, swap of a crashed save included
        return 0
    return json.loads((directory / "state.json").read_text())["global_step"]
