"""The model shipped in the repository: registered by migrate or by a command, with its metrics;
without it the admin says how to add one."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError
from django.test import Client
from django.urls import reverse

from tests.factories import register_tiny_model
from tests.webapp import samples
from tests.webapp.conftest import alice, sent_tasks, upload  # noqa: F401  (fixtures)
from webapp.photos import colorizing
from webapp.registry import services
from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db

ROW3 = {"auc": 0.93, "ciede2000": 7.1, "fid": 21.0, "colorfulness_gap": -1.5}
ROW4 = {"auc": 0.92, "ciede2000": 7.4, "fid": 19.0, "colorfulness_gap": -2.0}
SCORED_ON = {"scored_on": "all 200 photos of the validation set"}  # the metrics file's "images"


def generator_bytes(seed: int = 0, **extra) -> bytes:
    """A tiny generator file, with the metadata the device pipeline writes (`recipe`: the row it trained)."""
    import torch

    from colorizer import GeneratorConfig, build_generator
    from colorizer.checkpoint import save_generator

    torch.manual_seed(seed)
    config = GeneratorConfig(base_width=8, num_downs=5)
    buffer = io.BytesIO()
    save_generator(buffer, build_generator(config, load_pretrained=False).state_dict(), config.to_dict(), extra=extra)
    return buffer.getvalue()


@pytest.fixture
def shipped(settings, tmp_path, single_threaded_torch):
    """Where the shipped weights and their metrics live, both absent until a test writes them."""
    settings.COLORIZER_DEFAULT_WEIGHTS = tmp_path / "weights" / "default.safetensors"
    settings.COLORIZER_DEFAULT_METRICS = tmp_path / "docs" / "model_metrics.json"
    settings.COLORIZER_DEFAULT_WEIGHTS.parent.mkdir()
    settings.COLORIZER_DEFAULT_METRICS.parent.mkdir()
    return settings


def write_metrics(settings, chosen="row3") -> None:
    """docs/model_metrics.json as scripts/tools/default_model.py writes it (the parts read here)."""
    settings.COLORIZER_DEFAULT_METRICS.write_text(json.dumps({
        "images": 200, "reference": "row2", "chosen": chosen, "accepted": True, "gray": {"auc": 0.85},
        "rows": {"row2": {"title": "the paper's recipe", "metrics": {"auc": 0.90, "fid": 30.0}},
                 "row3": {"title": "pretrained encoder", "weights": True, "metrics": ROW3},
                 "row4": {"title": "longer", "weights": True, "metrics": ROW4},
                 "row5": {"title": "failed", "error": "out of memory"}},
    }))


def test_migrate_registers_the_shipped_model_as_v1_active_with_the_chosen_rows_metrics(shipped):
    shipped.COLORIZER_DEFAULT_WEIGHTS.write_bytes(generator_bytes())
    write_metrics(shipped, chosen="row3")

    call_command("migrate", verbosity=0)

    version = ModelVersion.objects.get()
    assert (version.number, version.is_active, version.metrics) == (1, True, {**ROW3, **SCORED_ON})
    assert len(version.sha256) == 64


def test_the_shipped_models_metrics_are_those_of_the_row_its_weights_were_trained_as(shipped):
    shipped.COLORIZER_DEFAULT_WEIGHTS.write_bytes(generator_bytes(recipe="row4"))  # installed with --force, say
    write_metrics(shipped, chosen="row3")

    services.register_shipped_default()

    assert ModelVersion.objects.get().metrics == {**ROW4, **SCORED_ON}


def test_without_a_metrics_file_the_shipped_model_has_no_metrics(shipped):
    shipped.COLORIZER_DEFAULT_WEIGHTS.write_bytes(generator_bytes())

    services.register_shipped_default()

    version = ModelVersion.objects.get()
    assert version.is_active and version.metrics == {}


def test_the_command_adds_a_shipped_file_that_arrived_after_the_install(shipped):
    call_command("migrate", verbosity=0)  # no file yet: nothing registered
    assert not ModelVersion.objects.exists()
    shipped.COLORIZER_DEFAULT_WEIGHTS.write_bytes(generator_bytes())
    write_metrics(shipped)
    out = io.StringIO()

    call_command("register_default_model", stdout=out)
    call_command("register_default_model", stdout=out)  # the same weights: not added twice

    version = ModelVersion.objects.get()
    assert version.is_active and version.metrics == {**ROW3, **SCORED_ON}
    assert "as v1 with its metrics; active" in out.getvalue() and "v1 already holds these weights" in out.getvalue()


def test_the_command_adds_a_new_shipped_file_beside_the_active_version_without_activating_it(shipped):
    in_use = register_tiny_model(name="In use", activate=True, seed=1)
    shipped.COLORIZER_DEFAULT_WEIGHTS.write_bytes(generator_bytes(seed=2))

    call_command("register_default_model", stdout=io.StringIO())

    shipped_version = ModelVersion.objects.get(name="Shipped default")
    assert shipped_version.number == 2 and not shipped_version.is_active
    assert list(ModelVersion.objects.filter(is_active=True)) == [in_use]


def test_the_command_recognises_weights_registered_before_digests_were_kept(shipped):
    data = generator_bytes(seed=3)
    shipped.COLORIZER_DEFAULT_WEIGHTS.write_bytes(data)
    uploaded = services.register_version(io.BytesIO(data), name="Uploaded earlier")
    ModelVersion.objects.filter(pk=uploaded.pk).update(sha256="")

    call_command("register_default_model", stdout=io.StringIO())

    assert list(ModelVersion.objects.all()) == [uploaded]
    uploaded.refresh_from_db()
    assert uploaded.is_active and uploaded.sha256


def test_the_command_explains_a_missing_file(shipped):
    with pytest.raises(CommandError, match="No model file at .*default.safetensors: put the generator"):
        call_command("register_default_model")


def test_without_a_model_the_admin_says_how_to_add_one_and_photos_fail_with_a_reason(shipped, staff_user, alice):
    from webapp.photos import services as photos

    call_command("migrate", verbosity=0)
    admin = Client()
    admin.force_login(staff_user)

    for url in (reverse("admin:index"), reverse("admin:registry_modelversion_changelist")):
        page = admin.get(url).content.decode()
        assert 'id="model-warning"' in page and "No colorization model is installed" in page
        assert "python manage.py register_default_model" in page and "Model versions → Add" in page

    photo = photos.accept_upload(alice, upload(samples.gray_jpeg(96, 64)))
    job = photo.colorizations.get()
    colorizing.run_colorization(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and "No colorization model is active yet" in job.message


def test_the_admin_warns_while_no_version_is_active_and_not_once_one_is(shipped, staff_user):
    version = register_tiny_model(name="Uploaded", activate=False)
    admin = Client()
    admin.force_login(staff_user)

    assert "No model version is active" in admin.get(reverse("admin:index")).content.decode()
    services.activate_version(version)
    assert 'id="model-warning"' not in admin.get(reverse("admin:index")).content.decode()


def test_an_activation_that_collides_with_another_is_retried_not_a_server_error(staff_user, monkeypatch):
    first = register_tiny_model(name="First", activate=False, seed=1)
    second = register_tiny_model(name="Second", activate=False, seed=2)
    mark_active = services._mark_active
    collisions = []

    def another_activation_got_in_first(version, using):
        # What a concurrent activation does when nothing was active to lock: it commits its version
        # between this one's deactivating the others and marking itself active.
        if not collisions:
            collisions.append(version)
            mark_active(first, using)
        mark_active(version, using)

    monkeypatch.setattr(services, "_mark_active", another_activation_got_in_first)
    admin = Client()
    admin.force_login(staff_user)

    response = admin.post(reverse("admin:registry_modelversion_activate", args=[second.pk]), {"confirm": "yes"})

    assert response.status_code == 302 and collisions == [second]
    assert list(ModelVersion.objects.filter(is_active=True)) == [second]


def test_an_activation_that_keeps_colliding_is_not_retried_forever(monkeypatch):
    version = register_tiny_model(name="Only", activate=False)
    monkeypatch.setattr(services, "_mark_active", lambda version, using: (_ for _ in ()).throw(IntegrityError("x")))

    with pytest.raises(IntegrityError):
        services.activate_version(version)


def test_an_upgrade_moves_an_install_running_the_earlier_default_to_the_new_one(shipped, monkeypatch):
    shipped.COLORIZER_DEFAULT_WEIGHTS.write_bytes(generator_bytes(seed=4))
    call_command("migrate", verbosity=0)
    earlier = ModelVersion.objects.get()
    monkeypatch.setattr(services, "EARLIER_SHIPPED_DEFAULTS", frozenset({earlier.sha256}))
    shipped.COLORIZER_DEFAULT_WEIGHTS.write_bytes(generator_bytes(seed=5))  # the release ships a new file

    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)  # and again: nothing more

    new = ModelVersion.objects.get(is_active=True)
    assert (new.number, new.name) == (2, "Shipped default") and ModelVersion.objects.count() == 2


def test_an_upgrade_keeps_the_version_an_admin_chose(shipped, monkeypatch):
    shipped.COLORIZER_DEFAULT_WEIGHTS.write_bytes(generator_bytes(seed=4))
    call_command("migrate", verbosity=0)
    monkeypatch.setattr(services, "EARLIER_SHIPPED_DEFAULTS", frozenset({ModelVersion.objects.get().sha256}))
    chosen = register_tiny_model(name="Fine-tuned on our archive", activate=True, seed=6)
    shipped.COLORIZER_DEFAULT_WEIGHTS.write_bytes(generator_bytes(seed=5))

    call_command("migrate", verbosity=0)

    assert ModelVersion.objects.count() == 3
    assert list(ModelVersion.objects.filter(is_active=True)) == [chosen]

