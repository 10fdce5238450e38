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
