"""The generator each worker process colorizes with, loaded once and switched on activation.

    colorizer = get_colorizer()           # the active version's Colorizer
    colorizer = get_colorizer(version)    # a specific version (re-runs with an older model)

Callers ask before every job; the active version is one indexed query away, so a worker
switches within one job of an activation, without a restart. Weights are read through
the storage API (local disk or S3) and kept in memory per process, at most
`CACHE_SIZE` versions at a time.

torch (and with it CUDA) is imported on the first call only: the Celery parent process
never calls this, so nothing touches CUDA before the pool forks its workers.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from django.conf import settings

from webapp.registry.models import ModelVersion
from webapp.registry.services import active_version

if TYPE_CHECKING:
    from colorizer import Colorizer

log = logging.getLogger(__name__)

CACHE_SIZE = 2  # the active version and the one before it: a switch back costs nothing

_lock = threading.Lock()
_loaded: OrderedDict[tuple[int, str, str], "Colorizer"] = OrderedDict()


class NoActiveModel(LookupError):
    """No model version is active yet, so there is nothing to colorize with."""


def get_colorizer(version: ModelVersion | None = None) -> "Colorizer":
    """The Colorizer of `version` (default: the active one), loaded on first use in this process."""
    if version is None:
        version = active_version()
        if version is None:
            raise NoActiveModel("No model version is active yet.")
    key = (version.pk, version.weights.name, settings.COLORIZER_DEVICE)
    with _lock:
        colorizer = _loaded.get(key)
        if colorizer is not None:
            _loaded.move_to_end(key)
            return colorizer
        colorizer = _load(version)
        _loaded[key] = colorizer
        while len(_loaded) > CACHE_SIZE:
            _loaded.popitem(last=False)
    return colorizer


def _load(version: ModelVersion) -> "Colorizer":
    from colorizer import Colorizer

    with version.weights.open("rb") as handle:
        weights = handle.read()
    colorizer = Colorizer.load(weights, device=settings.COLORIZER_DEVICE)
    log.info("loaded model %s on %s", version, colorizer.device)
    return colorizer


def loaded_versions() -> list[int]:
    """Primary keys of the versions this process holds in memory, most recently used last."""
    return [key[0] for key in _loaded]


def forget_all() -> None:
    """Drop every loaded model (tests, or to free memory)."""
    with _lock:
        _loaded.clear()


# --- Keeping a worker ready: the active model loaded before the first photo ----------------------


WARM_UP_SHAPES = ((1024, 768), (768, 1024))  # the shapes of most scans: landscape and portrait 4:3


def preload() -> ModelVersion | None:
    """Load the active version now and run it once on a small gray image, so that a fresh worker's
    first photo costs what every other one does (no weights to read, no kernels to pick). Returns the
    version, or None when none is active."""
    version = active_version()
    if version is None:
        log.info("no active model version to preload")
        return None
    from PIL import Image

    started = time.perf_counter()
    colorizer = get_colorizer(version)
    size = settings.COLORIZE_RENDER_SIZES[0]
    for shape in WARM_UP_SHAPES:  # the network's first run at a shape picks its kernels: do it now
        colorizer.colorize(Image.new("L", shape, 128), render_size=size)
    log.info("preloaded model %s in %.2f s", version, time.perf_counter() - started)
    return version


class ActiveVersionWatch:
    """In a thread of a worker process: loads the active version as soon as the process starts, then again
    whenever it changes (an activation or a rollback), looking every `interval` seconds (0: only at the
    start), so neither a fresh worker's first photo nor the first photo after an activation waits for
    weights. A photo that arrives while a version loads waits for it (the loader's lock), never loads it twice.
    """

    def __init__(self, interval: float):
        self.interval = interval
        self.stopped = threading.Event()
        self.current: tuple[int, str] | None = None
        self.thread = threading.Thread(target=self.run, name="model-watch", daemon=True)

    def start(self) -> "ActiveVersionWatch":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()

    def check(self) -> ModelVersion | None:
        """One look: preload the active version when it is not the one seen last; returns it when it was."""
        version = active_version()
        key = (version.pk, version.weights.name) if version is not None else None
        if key is None or key == self.current:
            self.current = key
            return None
        preload()
        self.current = key
        return version

    def run(self) -> None:
        from django.db import connection

        first = True
        while first or (self.interval > 0 and not self.stopped.wait(self.interval)):
            first = False
            try:
                self.check()
            except Exception:  # the database may be down for a while: try again at the next look
                log.warning("could not check the active model version", exc_info=True)
            finally:
                connection.close()  # this thread's own connection; a new one at the next look
