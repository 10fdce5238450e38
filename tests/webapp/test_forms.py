import pytest

from tests.factories import register_tiny_model
from webapp.photos.forms import RerunForm
from webapp.photos.models import Colorization

pytestmark = pytest.mark.django_db


def test_it_finds_the_result_that_a_re_run_would_repeat(photo, tiny_model):
    form = RerunForm(photo, {"render_size": "256"})

    assert form.is_valid(), form.errors
    assert form.same_result() == photo.colorizations.get()


def test_another_render_size_repeats_nothing(photo, tiny_model):
    form = RerunForm(photo, {"render_size": "512"})

    assert form.is_valid(), form.errors
    assert form.cleaned_data["render_size"] == 512
    assert form.same_result() is None


def test_a_new_variation_never_repeats_a_result(photo, tiny_model):
    form = RerunForm(photo, {"render_size": "256", "variation": "on"})

    assert form.is_valid() and form.same_result() is None


def test_a_failed_result_can_be_retried_with_the_same_settings(photo, tiny_model):
    Colorization.objects.filter(photo=photo).update(state="failed")
    form = RerunForm(photo, {"render_size": "256"})

    assert form.is_valid() and form.same_result() is None


def test_it_refuses_a_render_size_that_is_not_offered(photo, tiny_model):
    form = RerunForm(photo, {"render_size": "4096"})

    assert not form.is_valid()
    assert "render_size" in form.errors


def test_it_offers_model_versions_only_once_there_are_several(photo, tiny_model, staff):
    assert not RerunForm(photo, user=staff).offers_versions

    newer = register_tiny_model(name="Sharper", seed=1)
    form = RerunForm(photo, {"render_size": "256", "model_version": str(tiny_model.pk)}, user=staff)

    assert form.offers_versions
    assert form.is_valid(), form.errors  # the queued job will use the active (newer) model, so v1 is new
    assert form.cleaned_data["model_version"] == tiny_model
    assert form.same_result() is None
    assert form.fields["model_version"].empty_label == f"The active model ({newer})"


def test_people_choose_between_the_active_model_and_the_versions_staff_made_public(photo, tiny_model, alice):
    internal = register_tiny_model(name="Fine-tuned on val40 test set", activate=False, seed=1)
    public = register_tiny_model(name="Portraits run 7", activate=False, seed=2)
    public.public, public.public_name = True, "Portraits"
    public.save()

    field = RerunForm(photo, user=alice).fields["model_version"]

    assert list(field.queryset) == [public]
    assert [label for _, label in field.choices] == ["The active model (v1)", "v3 Portraits"]
    assert internal not in field.queryset


def test_without_public_versions_people_get_no_model_choice(photo, tiny_model, alice):
    register_tiny_model(name="Fine-tuned on val40 test set", activate=False, seed=1)

    assert not RerunForm(photo, user=alice).offers_versions


def test_staff_may_try_every_version_by_its_internal_name(photo, tiny_model, staff):
    internal = register_tiny_model(name="Fine-tuned on val40 test set", activate=False, seed=1)

    field = RerunForm(photo, user=staff).fields["model_version"]

    assert list(field.queryset) == [internal]
    assert "v2 Fine-tuned on val40 test set" in [label for _, label in field.choices]
