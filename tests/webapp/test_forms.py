import pytest

from tests.factories import register_tiny_model
from webapp.photos.forms import RerunForm
from webapp.photos.models import Colorization

pytestmark = pytest.mark.django_db


def test_it_rejects_a_re_run_that_would_repeat_an_existing_result(photo, tiny_model):
    form = RerunForm(photo, {"render_size": "256"})

    assert not form.is_valid()
    assert "already has that result" in form.non_field_errors()[0]


def test_it_accepts_another_render_size(photo, tiny_model):
    form = RerunForm(photo, {"render_size": "512"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["render_size"] == 512


def test_a_new_variation_is_always_allowed(photo, tiny_model):
    assert RerunForm(photo, {"render_size": "256", "variation": "on"}).is_valid()


def test_a_failed_result_can_be_retried_with_the_same_settings(photo, tiny_model):
    Colorization.objects.filter(photo=photo).update(state="failed")

    assert RerunForm(photo, {"render_size": "256"}).is_valid()


def test_it_refuses_a_render_size_that_is_not_offered(photo, tiny_model):
    form = RerunForm(photo, {"render_size": "4096"})

    assert not form.is_valid()
    assert "render_size" in form.errors


def test_it_offers_model_versions_only_once_there_are_several(photo, tiny_model):
    assert not RerunForm(photo).offers_versions

    newer = register_tiny_model(name="Sharper", seed=1)
    form = RerunForm(photo, {"render_size": "256", "model_version": str(tiny_model.pk)})

    assert form.offers_versions
    assert form.is_valid(), form.errors  # the queued job will use the active (newer) model, so v1 is new
    assert form.cleaned_data["model_version"] == tiny_model
    assert form.fields["model_version"].empty_label == f"The active model ({newer})"
