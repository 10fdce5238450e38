"""The client's memory of one output folder: `.hue-state.json` inside it.

It records, per photo (by its path relative to the input folder), the server's photo and job ids
and how far it got (uploaded, done, failed). Written atomically (a new file, then a rename), so a
crash leaves the previous version, never half a file. Uploads carry an Idempotency-Key made from
the folder's run id, the relative path and the file's content, so a photo whose upload the server
took but the state file never recorded is answered with the same photo, not uploaded twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import uuid
from pathlib import Path

STATE_NAME = ".hue-state.json"

UPLOADED = "uploaded"  # on the server, colorizing
DOWNLOADED = "downloaded"  # its result is in the output folder
FAILED = "failed"  # refused or failed, with a reason


class State:
    def __init__(self, folder: Path, server: str):
        self.path = folder / STATE_NAME
        self.lock = threading.Lock()
        if self.path.exists():
            self.data = json.loads(self.path.read_text())
        else:
            self.data = {"version": 1, "server": server, "run": uuid.uuid4().hex, "cursor": None, "photos": {}}
        self.photos: dict[str, dict] = self.data["photos"]

    @property
    def server(self) -> str:
        return self.data["server"]

    def key_for(self, relative: str, path: Path) -> str:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(block)
        return hashlib.sha256(f"{self.data['run']}\0{relative}\0{digest.hexdigest()}".encode()).hexdigest()

    def record(self, relative: str, **fields) -> None:
        with self.lock:
            self.photos.setdefault(relative, {}).update(fields)

    @property
    def cursor(self) -> str | None:
        return self.data.get("cursor")

    @cursor.setter
    def cursor(self, value: str) -> None:
        self.data["cursor"] = value

    def save(self) -> None:
        with self.lock:
            text = json.dumps(self.data, indent=1, sort_keys=True)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            partial = self.path.with_name(self.path.name + ".new")
            with partial.open("w") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(partial, self.path)

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for entry in self.photos.values():
            counts[entry.get("state", "?")] = counts.get(entry.get("state", "?"), 0) + 1
        return counts
