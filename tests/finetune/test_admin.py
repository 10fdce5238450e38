"""The admin pages for datasets, fine-tuning jobs and model versions: staff only, and they do what they say."""

import pickle
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from tests.finetune.conftest import colour_zip
from tests.factories import register_tiny_model, tiny_generator_bytes
from webapp.finetune import datasets, services
from webapp.finetune.models import Dataset, FineTuneJob, FineTuneState
from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(dataset, base_version, staff_user):
    return FineTuneJob.objects.create(dataset=dataset, base_version=base_version, created_by=staff_user,
                                      image_size=64, batch_size=2, l1_epochs=1, gan_epochs=1)


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


ADMIN_APPS = ("finetune", "registry")


def every_url(dataset, job, version) -> list[str]:
    """Every URL the admin site serves for the fine-tuning and registry apps (the app indexes, each
    model's changelist, add, change, delete and history views, and the custom views), generated from
    admin.site.get_urls() with real primary keys, so a view added later is covered without a list."""
    from django.contrib import admin
    from django.urls import URLResolver

    pks = {"finetune_dataset": dataset.pk, "finetune_finetunejob": job.pk, "registry_modelversion": version.pk}

    def patterns(resolvers):
        for pattern in resolvers:
            if isinstance(pattern, URLResolver):
                yield from patterns(pattern.url_patterns)
            elif pattern.name:
                yield pattern

    urls = []
    for pattern in patterns(admin.site.get_urls()):
        converters = set(pattern.pattern.converters)
        if pattern.name == "app_list":
            urls += [reverse("admin:app_list", kwargs={"app_label": app}) for app in ADMIN_APPS]
            continue
        model = next((prefix for prefix in pks if pattern.name.startswith(prefix + "_")), None)
        if model is None:
            continue  # another app's, or the site's own (index, login, password change, ...)
        kwargs = {name: 0 if name == "index" else pks[model] for name in converters}
        urls.append(reverse(f"admin:{pattern.name}", kwargs=kwargs))
    return urls


def test_the_url_list_covers_every_view_of_both_apps(dataset, job, base_version):
    urls = every_url(dataset, job, base_version)

    assert {"/admin/finetune/", "/admin/registry/"} <= set(urls)
    for prefix, pk in (("finetune/dataset", dataset.pk), ("finetune/finetunejob", job.pk),
                       ("registry/modelversion", base_version.pk)):
        for view in ("", "add/", f"{pk}/change/", f"{pk}/delete/", f"{pk}/history/"):
            assert f"/admin/{prefix}/{view}" in urls
    assert f"/admin/finetune/finetunejob/{job.pk}/cancel/" in urls
    assert f"/admin/registry/modelversion/{base_version.pk}/activate/" in urls
    # App indexes, five views per model, and the custom ones: dataset thumbnail; job cancel, resume and
    # samples; version activate and samples.
    assert len(urls) == len(set(urls)) == 2 + 3 * 5 + 1 + 3 + 2


def test_it_refuses_every_page_and_action_to_non_staff(stranger, dataset, job, base_version):
    other = register_tiny_model(name="Other", activate=False)
    client = signed_in(stranger)

    for url in every_url(dataset, job, other):
        for method in ("get", "post"):
            response = getattr(client, method)(url)
            assert response.status_code == 403, f"{method.upper()} {url}: {response.status_code}"

    other.refresh_from_db()
    job.refresh_from_db()
    assert not other.is_active and job.state == FineTuneState.QUEUED and Dataset.objects.filter(pk=dataset.pk).exists()


def test_it_sends_anonymous_visitors_to_the_login_page(dataset, job, base_version):
    for url in every_url(dataset, job, base_version):
        for method in ("get", "post"):
            response = getattr(Client(), method)(url)
            assert response.status_code == 302 and "/admin/login/" in response["Location"], f"{method.upper()} {url}"

    job.refresh_from_db()
    assert job.state == FineTuneState.QUEUED and ModelVersion.objects.filter(pk=base_version.pk).exists()


def test_staff_upload_a_dataset_and_its_check_is_queued(staff_user, sent_finetune_tasks,
                                                        django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("holidays.zip", colour_zip(3), "application/zip")

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(staff_user).post(reverse("admin:finetune_dataset_add"),
                                              {"name": "Holidays", "archive": upload, "folder": ""})

    assert response.status_code == 302
    dataset = Dataset.objects.get()
    assert (dataset.source, dataset.state, dataset.created_by) == (Dataset.Source.ARCHIVE, Dataset.State.QUEUED, staff_user)
    assert sent_finetune_tasks == [("check_dataset", str(dataset.pk))]


def test_the_dataset_page_shows_counts_reasons_and_thumbnails(staff_user, dataset):
    response = signed_in(staff_user).get(reverse("admin:finetune_dataset_change", args=[dataset.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "4 photos ready" in page
    assert page.count(f"/admin/finetune/dataset/{dataset.pk}/thumbnail/") == 4
    thumbnail = signed_in(staff_user).get(reverse("admin:finetune_dataset_thumbnail", args=[dataset.pk, 0]))
    assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/jpeg"


def test_staff_start_a_job_that_is_queued_for_the_training_worker(staff_user, dataset, base_version,
                                                                  sent_finetune_tasks,
                                                                  django_capture_on_commit_callbacks):
    recipe = {"dataset": dataset.pk, "base_version": base_version.pk, "l1_epochs": 1, "gan_epochs": 2,
              "batch_size": 4, "learning_rate": "0.0001", "lambda_l1": "100", "val_split": "0.25", "image_size": 64}

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(staff_user).post(reverse("admin:finetune_finetunejob_add"), recipe)

    assert response.status_code == 302, response.content.decode()[:2000]
    job = FineTuneJob.objects.get()
    assert (job.state, job.gan_epochs, job.base_version, job.created_by) == ("queued", 2, base_version, staff_user)
    assert sent_finetune_tasks == [("run_finetune", str(job.pk))]


def test_the_job_form_checks_the_recipe(staff_user, dataset, base_version):
    recipe = {"dataset": dataset.pk, "base_version": base_version.pk, "l1_epochs": 0, "gan_epochs": 0,
              "batch_size": 4, "learning_rate": "0.5", "lambda_l1": "100", "val_split": "0.9", "image_size": 50}

    response = signed_in(staff_user).post(reverse("admin:finetune_finetunejob_add"), recipe)

    page = response.content.decode()
    assert response.status_code == 200 and not FineTuneJob.objects.exists()
    assert "Train for at least one epoch" in page
    assert "learning rate between 0 and 0.01" in page
    assert "at most half of the photos" in page
    assert "a multiple of 32" in page


@pytest.mark.parametrize("size", [32, 2048])
def test_the_job_form_refuses_an_image_size_the_engine_cannot_score(staff_user, dataset, base_version, size):
    recipe = {"dataset": dataset.pk, "base_version": base_version.pk, "l1_epochs": 1, "gan_epochs": 1,
              "batch_size": 4, "learning_rate": "0.0001", "lambda_l1": "100", "val_split": "0.25", "image_size": size}

    response = signed_in(staff_user).post(reverse("admin:finetune_finetunejob_add"), recipe)

    assert response.status_code == 200 and not FineTuneJob.objects.exists()
    assert "between 64 and 1024" in response.content.decode()


def test_the_smallest_training_size_is_the_smallest_size_the_engine_renders():
    from colorizer.inference import MAX_RENDER_SIZE, MIN_RENDER_SIZE

    assert FineTuneJob.IMAGE_SIZE_MIN == MIN_RENDER_SIZE
    assert FineTuneJob.IMAGE_SIZE_MAX <= MAX_RENDER_SIZE


def test_a_job_that_cannot_succeed_again_is_not_offered_resume(staff_user, job, sent_finetune_tasks,
                                                               django_capture_on_commit_callbacks):
    FineTuneJob.objects.filter(pk=job.pk).update(state=FineTuneState.FAILED, image_size=32,
                                                 message="Training failed: render size must be between 64 and 2048")
    client = signed_in(staff_user)

    page = client.get(reverse("admin:finetune_finetunejob_change", args=[job.pk])).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:finetune_finetunejob_resume", args=[job.pk]), follow=True)

    assert 'data-action="resume" hidden' in page
    assert "outside what the engine can train and score" in page
    job.refresh_from_db()
    assert job.state == FineTuneState.FAILED and sent_finetune_tasks == []
    flash = [str(message) for message in response.context["messages"]]
    assert len(flash) == 1 and "start a new job" in flash[0] and "Queued" not in flash[0]


def test_the_job_page_follows_the_job_live(staff_user, job):
    response = signed_in(staff_user).get(reverse("admin:finetune_finetunejob_change", args=[job.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert f'data-socket-path="/ws/admin/finetune/{job.pk}/"' in page
    assert 'id="job-state"' in page and "finetune-job.js" in page
    assert "Cancel training" in page


def test_cancelling_a_queued_job_stops_it_at_once(staff_user, job):
    response = signed_in(staff_user).post(reverse("admin:finetune_finetunejob_cancel", args=[job.pk]))

    job.refresh_from_db()
    assert response.status_code == 302
    assert (job.state, job.cancel_requested) == (FineTuneState.CANCELLED, True)


def test_resuming_a_cancelled_job_queues_it_again(staff_user, job, sent_finetune_tasks,
                                                  django_capture_on_commit_callbacks):
    services.request_cancel(job)

    with django_capture_on_commit_callbacks(execute=True):
        signed_in(staff_user).post(reverse("admin:finetune_finetunejob_resume", args=[job.pk]))

    job.refresh_from_db()
    assert (job.state, job.cancel_requested) == (FineTuneState.QUEUED, False)
    assert sent_finetune_tasks == [("run_finetune", str(job.pk))]


def test_resuming_a_job_without_a_checkpoint_says_it_starts_again(staff_user, job,
                                                                   django_capture_on_commit_callbacks):
    services.request_cancel(job)

    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in(staff_user).post(reverse("admin:finetune_finetunejob_resume", args=[job.pk]), follow=True)

    flash = [str(message) for message in response.context["messages"]]
    assert any("start again from the beginning" in message for message in flash)


def test_staff_make_a_version_public_under_a_name_people_see(staff_user, base_version):
    candidate = register_tiny_model(name="Fine-tuned on val40 test set", activate=False, seed=1)

    response = signed_in(staff_user).post(reverse("admin:registry_modelversion_change", args=[candidate.pk]),
                                          {"public": "on", "public_name": "Portraits", "name": "renamed"})

    assert response.status_code == 302, response.content.decode()[:2000]
    candidate.refresh_from_db()
    assert (candidate.public, candidate.public_name, candidate.name) == (True, "Portraits",
                                                                          "Fine-tuned on val40 test set")
    assert candidate.public_label == "v2 Portraits"


def test_activating_a_version_makes_it_the_only_active_one(staff_user, base_version):
    candidate = register_tiny_model(name="Candidate", activate=False, seed=1)

    response = signed_in(staff_user).post(reverse("admin:registry_modelversion_activate", args=[candidate.pk]),
                                          {"confirm": "yes"})

    assert response.status_code == 302
    assert list(ModelVersion.objects.filter(is_active=True)) == [candidate]


def test_activating_a_version_asks_for_confirmation_first(staff_user, base_version):
    candidate = register_tiny_model(name="Candidate", activate=False, seed=1)
    client = signed_in(staff_user)
    url = reverse("admin:registry_modelversion_activate", args=[candidate.pk])

    version_page = client.get(reverse("admin:registry_modelversion_change", args=[candidate.pk])).content.decode()
    asked = client.get(url)
    posted_without_confirming = client.post(url)

    assert f'href="{url}?return_to=version"' in version_page
    for response in (asked, posted_without_confirming):
        page = response.content.decode()
        assert response.status_code == 200
        assert "Yes, activate v2" in page and "No, keep v1" in page and 'name="confirm" value="yes"' in page
    assert list(ModelVersion.objects.filter(is_active=True)) == [base_version]


def test_rolling_back_is_one_action_from_the_version_list(staff_user, base_version):
    candidate = register_tiny_model(name="Candidate", activate=True, seed=1)
    client = signed_in(staff_user)

    page = client.get(reverse("admin:registry_modelversion_changelist")).content.decode()
    assert "Roll back to this" in page
    assert "Yes, roll back to v1" in client.get(reverse("admin:registry_modelversion_activate",
                                                        args=[base_version.pk])).content.decode()
    client.post(reverse("admin:registry_modelversion_activate", args=[base_version.pk]), {"confirm": "yes"})

    assert list(ModelVersion.objects.filter(is_active=True)) == [base_version]
    candidate.refresh_from_db()
    assert not candidate.is_active


def test_the_database_allows_one_active_version_at_most(base_version):
    other = register_tiny_model(name="Other", activate=False, seed=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=other.pk).update(is_active=True)


def test_the_version_page_shows_candidate_and_active_metrics_side_by_side(staff_user, base_version):
    ModelVersion.objects.filter(pk=base_version.pk).update(metrics={"auc": 0.89, "fid": 40.0})
    candidate = register_tiny_model(name="Candidate", activate=False, seed=1)
    ModelVersion.objects.filter(pk=candidate.pk).update(metrics={"auc": 0.91, "fid": 30.0})

    page = signed_in(staff_user).get(reverse("admin:registry_modelversion_change", args=[candidate.pk])).content.decode()

    assert "Active v1" in page and "0.910" in page and "0.890" in page
    assert "Activate v2" in page


def test_the_version_page_numbers_epochs_within_their_stage_as_the_job_page_does(staff_user, base_version):
    candidate = register_tiny_model(name="Candidate", activate=False, seed=1)
    history = [{"epoch": 1, "stage": "l1", "stage_epoch": 1, "losses": {"G_L1": 9.0}, "val": {}}]
    history += [{"epoch": 1 + n, "stage": "gan", "stage_epoch": n, "losses": {"G_L1": 8.0, "G_GAN": 1.0}, "val": {}}
                for n in (1, 2, 3)]
    ModelVersion.objects.filter(pk=candidate.pk).update(history=history)

    page = signed_in(staff_user).get(reverse("admin:registry_modelversion_change", args=[candidate.pk])).content.decode()

    assert "<td>L1</td><td>1 / 1</td>" in page
    assert "<td>GAN</td><td>1 / 3</td>" in page and "<td>GAN</td><td>3 / 3</td>" in page
    assert "<td>GAN</td><td>4" not in page


def test_uploaded_weights_become_an_inactive_version(staff_user, base_version):
    upload = SimpleUploadedFile("mine.safetensors", tiny_generator_bytes(seed=3))

    response = signed_in(staff_user).post(reverse("admin:registry_modelversion_add"),
                                          {"name": "From the lab", "weights": upload, "notes": ""})

    assert response.status_code == 302
    version = ModelVersion.objects.get(name="From the lab")
    assert not version.is_active and version.config["base_width"] == 8


def test_uploaded_weights_are_never_unpickled(staff_user, base_version, monkeypatch):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))

    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("pickle.loads was called"))
    upload = SimpleUploadedFile("evil.safetensors", pickle.dumps(Boom()))

    response = signed_in(staff_user).post(reverse("admin:registry_modelversion_add"),
                                          {"name": "Evil", "weights": upload, "notes": ""})

    assert response.status_code == 200
    assert "not a usable colorizer generator file" in response.content.decode()
    assert not ModelVersion.objects.filter(name="Evil").exists()


def test_staff_see_404_for_a_job_that_does_not_exist(staff_user):
    response = signed_in(staff_user).post(reverse("admin:finetune_finetunejob_cancel", args=[uuid.uuid4()]))
    assert response.status_code == 404


COMPARISON = {"photos": 2, "candidate": {"auc": 0.91}, "base": {"auc": 0.87}, "base_version": 1}


def version_page(user, version) -> str:
    return signed_in(user).get(reverse("admin:registry_modelversion_change", args=[version.pk])).content.decode()


def fine_tuned(base_version, dataset, job=None):
    """A candidate as a finished job registers it."""
    from webapp.registry.services import register_version

    version = register_version(ContentFile(tiny_generator_bytes(seed=2), name="g.safetensors"),
                               name="Fine-tuned", base_version=base_version, metrics={"auc": 0.91},
                               dataset=dataset, comparison=COMPARISON)
    if job is not None:
        FineTuneJob.objects.filter(pk=job.pk).update(state=FineTuneState.DONE, result_version=version,
                                                     comparison=COMPARISON)
    return version


def test_the_version_page_says_when_its_base_is_the_active_version(staff_user, base_version, dataset):
    candidate = fine_tuned(base_version, dataset)

    page = version_page(staff_user, candidate)

    assert "Active v1 (its base) on the same photos" in page and "0.870" in page
    assert "Its base v1" not in page and "its own evaluation" not in page
    assert "on the 2 photos its job held out" in page


def test_the_version_page_names_an_inactive_base_as_its_base(staff_user, base_version, dataset):
    candidate = fine_tuned(base_version, dataset)
    other = register_tiny_model(name="Other", activate=True, seed=4)

    page = version_page(staff_user, candidate)

    assert "Its base v1 on the same photos" in page
    assert f"Active v{other.number} (its own evaluation)" in page


def test_where_a_version_came_from_survives_deleting_its_job_and_dataset(staff_user, base_version, dataset, job):
    candidate = fine_tuned(base_version, dataset, job)

    datasets.delete_dataset(Dataset.objects.get(pk=dataset.pk))  # its finished job goes with it

    candidate.refresh_from_db()
    assert (candidate.dataset, candidate.dataset_name, candidate.comparison) == (None, "Holidays", COMPARISON)
    page = version_page(staff_user, candidate)
    assert "a fine-tuning job (since deleted) on the dataset" in page and "Holidays (since deleted)" in page
    assert "Active v1 (its base) on the same photos" in page and "0.870" in page


def test_the_migration_copies_each_versions_provenance_from_its_job(base_version, dataset, job):
    import importlib

    from django.apps import apps

    version = register_tiny_model(name="Trained before the migration", activate=False, seed=6)
    FineTuneJob.objects.filter(pk=job.pk).update(state=FineTuneState.DONE, result_version=version,
                                                 comparison=COMPARISON)

    importlib.import_module("webapp.registry.migrations.0002_version_provenance").copy_from_jobs(apps, None)

    version.refresh_from_db()
    assert (version.dataset, version.dataset_name, version.comparison) == (dataset, "Holidays", COMPARISON)


def bulk_delete(client, *datasets):
    return client.post(reverse("admin:finetune_dataset_changelist"), {
        "action": "delete_selected", "_selected_action": [str(dataset.pk) for dataset in datasets], "post": "yes"},
        follow=True)


def test_bulk_deleting_a_dataset_a_job_trains_on_is_refused_with_the_reason(staff_user, dataset, job):
    FineTuneJob.objects.filter(pk=job.pk).update(state=FineTuneState.RUNNING)

    response = bulk_delete(signed_in(staff_user), dataset)

    page = response.content.decode()
    assert response.status_code == 200 and "Cannot delete dataset" in page
    assert "Holidays: a fine-tuning job is still queued or training on it; cancel it first" in page
    assert "permission" not in page and Dataset.objects.filter(pk=dataset.pk).exists()


def test_a_job_queued_after_the_delete_was_confirmed_leaves_the_dataset_with_a_message(staff_user, dataset, job,
                                                                                      monkeypatch):
    from django.contrib import admin

    dataset_admin = admin.site._registry[Dataset]
    # The confirmation saw no job: it was queued between that check and the delete.
    monkeypatch.setattr(type(dataset_admin), "get_deleted_objects",
                        lambda self, objs, request: ([], {}, set(), []))

    response = bulk_delete(signed_in(staff_user), dataset)

    assert response.status_code == 200
    assert "Not deleted: Holidays: a fine-tuning job is still queued or training on it" in response.content.decode()
    assert Dataset.objects.filter(pk=dataset.pk).exists()


def test_bulk_deleting_idle_datasets_deletes_them_and_their_photos(staff_user, dataset,
                                                                   django_capture_on_commit_callbacks):
    from django.core.files.storage import default_storage

    from webapp.finetune.ingest import read_manifest

    photos = read_manifest(dataset)["photos"]

    with django_capture_on_commit_callbacks(execute=True):
        bulk_delete(signed_in(staff_user), dataset)

    assert not Dataset.objects.filter(pk=dataset.pk).exists()
    assert not any(default_storage.exists(name) for name in photos)


def test_admin_images_need_the_view_permission_of_their_page(base_version, dataset, job):
    """Dataset thumbnails and sample grids are served under the same model permission as their pages."""
    from django.contrib.auth.models import Permission, User

    base_version.sample_grid.save("grid.png", ContentFile(b"png"), save=True)
    job.sample_grid.save("grid.png", ContentFile(b"png"), save=True)
    urls = {"view_dataset": reverse("admin:finetune_dataset_thumbnail", args=[dataset.pk, 0]),
            "view_finetunejob": reverse("admin:finetune_finetunejob_samples", args=[job.pk]),
            "view_modelversion": reverse("admin:registry_modelversion_samples", args=[base_version.pk])}
    plain_staff = User.objects.create_user("sam", password="correct-horse-battery", is_staff=True)
    client = signed_in(plain_staff)

    refused = {codename: client.get(url).status_code for codename, url in urls.items()}
    plain_staff.user_permissions.add(*Permission.objects.filter(codename__in=urls))
    client = signed_in(User.objects.get(pk=plain_staff.pk))  # permissions are cached per user object
    served = {codename: client.get(url).status_code for codename, url in urls.items()}

    assert refused == {codename: 403 for codename in urls}
    assert served == {codename: 200 for codename in urls}


def test_a_versions_missing_sample_file_is_a_404(staff_user, base_version):
    ModelVersion.objects.filter(pk=base_version.pk).update(sample_grid="models/samples/gone.png")

    response = signed_in(staff_user).get(reverse("admin:registry_modelversion_samples", args=[base_version.pk]))

    assert response.status_code == 404
