"""A candidate against its base on the same held-out photos: the job page and the version list say
plainly when it is worse, and every figure in the list says which photos it comes from."""

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from tests.factories import tiny_generator_bytes
from webapp.finetune.models import FineTuneJob, FineTuneState
from webapp.registry.services import comparison_verdict, register_version

pytestmark = pytest.mark.django_db

BASE = {"auc": 0.906, "ciede2000": 8.10, "fid": 60.2, "colorfulness_gap": -20.0}
WORSE = {"auc": 0.885, "ciede2000": 9.40, "fid": 119.0, "colorfulness_gap": -12.0}
BETTER = {"auc": 0.912, "ciede2000": 7.90, "fid": 58.0, "colorfulness_gap": -10.0}


def comparison(candidate, photos=6):
    return {"photos": photos, "candidate": candidate, "base": BASE, "base_version": 1}


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def finished_job(dataset, base_version, staff_user, candidate):
    version = register_version(ContentFile(tiny_generator_bytes(seed=3), name="g.safetensors"), name="Fine-tuned",
                               base_version=base_version, metrics=candidate, dataset=dataset,
                               comparison=comparison(candidate))
    job = FineTuneJob.objects.create(dataset=dataset, base_version=base_version, created_by=staff_user,
                                     image_size=64, batch_size=2, l1_epochs=1, gan_epochs=1, state=FineTuneState.DONE,
                                     result_version=version, comparison=comparison(candidate))
    return job, version


def test_it_calls_a_candidate_worse_only_when_both_accuracy_measures_agree():
    assert comparison_verdict(comparison(WORSE))["verdict"] == "worse"
    assert comparison_verdict(comparison(BETTER))["verdict"] == "better"
    assert comparison_verdict(comparison({**WORSE, "auc": 0.95}))["verdict"] == "mixed"
    assert comparison_verdict({})["verdict"] == ""
    text = comparison_verdict(comparison(WORSE))["text"]
    assert "worse than its base v1 on the same 6 held-out photos" in text
    assert "AuC 0.885 against 0.906" in text and "FID 119.0 against 60.2" in text


def test_the_job_page_says_plainly_when_the_candidate_is_worse(staff_user, dataset, base_version):
    job, _ = finished_job(dataset, base_version, staff_user, WORSE)

    page = signed_in(staff_user).get(reverse("admin:finetune_finetunejob_change", args=[job.pk])).content.decode()

    assert 'data-verdict="worse"' in page and "Activating it would make colours less accurate" in page


def test_the_job_page_of_a_better_candidate_says_so_without_a_warning(staff_user, dataset, base_version):
    job, _ = finished_job(dataset, base_version, staff_user, BETTER)

    page = signed_in(staff_user).get(reverse("admin:finetune_finetunejob_change", args=[job.pk])).content.decode()

    assert 'data-verdict="better"' in page and "less accurate" not in page


def test_the_version_list_names_the_photos_of_each_figure_and_the_bases_on_the_same_ones(
        staff_user, dataset, base_version):
    base_version.metrics = {**BASE, "scored_on": "all 660 photos of the validation set"}
    base_version.save()
    finished_job(dataset, base_version, staff_user, WORSE)

    page = signed_in(staff_user).get(reverse("admin:registry_modelversion_changelist")).content.decode()

    assert f"6 held-out photos of {dataset.name}" in page and "all 660 photos of the validation set" in page
    assert "119.0 (base 60.2)" in page and "0.885 (base 0.906)" in page


def test_the_version_page_shows_the_verdict_and_where_the_shipped_figures_come_from(
        staff_user, dataset, base_version):
    _, version = finished_job(dataset, base_version, staff_user, WORSE)
    base_version.metrics = {**BASE, "scored_on": "all 660 photos of the validation set"}
    base_version.save()
    client = signed_in(staff_user)

    candidate_page = client.get(reverse("admin:registry_modelversion_change", args=[version.pk])).content.decode()
    base_page = client.get(reverse("admin:registry_modelversion_change", args=[base_version.pk])).content.decode()

    assert 'data-verdict="worse"' in candidate_page
    assert "Validation metrics on all 660 photos of the validation set" in base_page
