"""Files of datasets and training runs in the media storage: whole folders, and local copies of files."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from django.core.files.storage import default_storage


def delete_tree(prefix: str) -> None:
    """Delete every stored file under `prefix` (a storage has no folders to delete, only names)."""
    try:
        directories, files = default_storage.listdir(prefix)
    except (FileNotFoundError, NotADirectoryError):
        return
    for name in files:
        default_storage.delete(f"{prefix}/{name}")
    for name in directories:
        delete_tree(f"{prefix}/{name}")


def copy_atomically(source, target: Path) -> None:
    """Copy a stored file to local disk so that a crash never leaves a truncated file under its name."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with open(partial, "wb") as out:
        shutil.copyfileobj(source, out)
    os.replace(partial, target)
