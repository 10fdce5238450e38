import subprocess
import sys
from pathlib import Path

import pytest

from tests.factories import register_tiny_model
from webapp.registry import loader
from webapp.registry.services import activate_version

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def test_it_loads_the_active_version_once_per_process(tiny_model, monkeypatch):
    from colorizer import Colorizer

    loads = []
    real_load = Colorizer.load
    monkeypatch.setattr(Colorizer, "load", classmethod(lambda cls, source, device: loads.append(device) or
                                                       real_load(source, device=device)))

    first = loader.get_colorizer()
    second = loader.get_colorizer()

    assert first is second
    assert len(loads) == 1


def test_it_switches_when_another_version_is_activated(tiny_model):
    before = loader.get_colorizer()
    newer = register_tiny_model(name="Newer", seed=1, activate=False)

    assert loader.get_colorizer() is before  # registering alone changes nothing
    activate_version(newer)

    after = loader.get_colorizer()
    assert after is not before
    assert loader.loaded_versions() == [tiny_model.pk, newer.pk]


def test_it_loads_a_requested_version_that_is_not_active(tiny_model):
    older = tiny_model
    newer = register_tiny_model(name="Newer", seed=1)

    assert loader.get_colorizer(older) is not loader.get_colorizer(newer)
    assert loader.get_colorizer() is loader.get_colorizer(newer)


def test_it_keeps_at_most_two_versions_in_memory(tiny_model):
    versions = [tiny_model] + [register_tiny_model(name=f"v{n}", seed=n) for n in (2, 3)]

    for version in versions:
        loader.get_colorizer(version)

    assert loader.loaded_versions() == [versions[1].pk, versions[2].pk]


def test_it_honours_the_device_setting(tiny_model, settings, monkeypatch):
    from colorizer import Colorizer

    devices = []
    real_load = Colorizer.load
    monkeypatch.setattr(Colorizer, "load", classmethod(lambda cls, source, device: devices.append(device) or
                                                       real_load(source, device="cpu")))
    settings.COLORIZER_DEVICE = "cuda"

    loader.get_colorizer()

    assert devices == ["cuda"]


def test_without_an_active_version_it_says_so(db):
    with pytest.raises(loader.NoActiveModel):
        loader.get_colorizer()


@pytest.mark.slow
def test_the_worker_parent_process_never_imports_torch():
    """Celery's parent process loads the tasks and Django, then forks: CUDA must not be initialised by then."""
    code = (
        "import sys, django; django.setup(); "
        "from worker.celery import app; app.loader.import_default_modules(); "
        "import worker.tasks, webapp.photos.services, webapp.registry.loader, webapp.photos.consumers; "
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={"DJANGO_SETTINGS_MODULE": "webapp.settings", "PATH": "/usr/bin:/bin"})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
