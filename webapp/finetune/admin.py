"""Datasets and fine-tuning jobs in the admin: upload, check, train, watch live, cancel, resume."""

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from webapp.finetune import datasets, events, services
from webapp.finetune.forms import DatasetForm, FineTuneJobForm
from webapp.finetune.models import Dataset, FineTuneJob, FineTuneState

PRIVATE_CACHE = "private, max-age=3600"
# A dataset or job is not edited after it is created: its page shows state and actions, no save buttons.
READ_ONLY_PAGE = {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}


def stored_image(name: str, content_type: str) -> HttpResponse:
    """A small stored image (thumbnail, sample grid), read through the storage API: no media URL exists."""
    if not name:
        raise Http404("No such file.")
    try:
        with default_storage.open(name, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise Http404("No such file.") from None
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = PRIVATE_CACHE
    return response


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    form = DatasetForm
    change_form_template = "admin/finetune/dataset/change_form.html"
    list_display = ("name", "source", "state", "image_count", "skipped_count", "created_at")
    list_filter = ("state", "source")
    search_fields = ("name",)
    readonly_fields = ("name", "source", "folder", "state", "message", "image_count", "skipped_count", "created_by",
                       "created_at", "finished_at")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("name", "archive", "folder")
        return self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else ()

    def save_model(self, request, obj, form, change):
        if change:
            return
        obj.created_by = request.user
        obj.source = Dataset.Source.ARCHIVE if obj.archive else Dataset.Source.FOLDER
        obj.save()
        datasets.queue_check(obj)
        messages.info(request, "The photos are being checked by the training worker; this page shows the result.")

    def response_add(self, request, obj, post_url_continue=None):
        # Straight to the dataset's page, which shows the check as it happens.
        return HttpResponseRedirect(reverse("admin:finetune_dataset_change", args=[obj.pk]))

    def delete_model(self, request, obj):
        self.delete_queryset(request, [obj])

    def delete_queryset(self, request, queryset):
        for dataset in queryset:
            try:
                datasets.delete_dataset(dataset)
            except datasets.DatasetInUse as exc:  # a job was queued on it after the confirmation page
                messages.error(request, f"Not deleted: {exc}.")

    def get_deleted_objects(self, objs, request):
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        busy = [dataset for dataset in objs if datasets.dataset_in_use(dataset)]
        if busy:
            # Django would say the account may not delete fine-tune jobs; the truth is that one is training.
            protected = [f"{dataset}: a fine-tuning job is still queued or training on it; cancel it first"
                         for dataset in busy]
            perms_needed = set()
        return deleted, counts, perms_needed, protected

    def has_delete_permission(self, request, obj=None):
        if obj is not None and datasets.dataset_in_use(obj):
            return False  # a job is training on it
        return super().has_delete_permission(request, obj)

    def get_urls(self):
        thumbnail = self.admin_site.admin_view(self.thumbnail_view)
        return [path("<uuid:dataset_id>/thumbnail/<int:index>/", thumbnail, name="finetune_dataset_thumbnail"),
                *super().get_urls()]

    def thumbnail_view(self, request, dataset_id, index):
        dataset = get_object_or_404(Dataset, pk=dataset_id)
        if not self.has_view_permission(request, dataset):
            raise PermissionDenied  # the same permission as the dataset's page
        if not 0 <= index < len(dataset.thumbnails):
            raise Http404("No such thumbnail.")
        return stored_image(dataset.thumbnails[index], "image/jpeg")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        dataset = self.get_object(request, object_id)
        extra = {}
        if dataset is not None:
            extra = {**READ_ONLY_PAGE,
                "dataset": dataset,
                "thumbnail_urls": [reverse("admin:finetune_dataset_thumbnail", args=[dataset.pk, index])
                                   for index in range(len(dataset.thumbnails))],
                "still_checking": not dataset.is_finished,
            }
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})


@admin.register(FineTuneJob)
class FineTuneJobAdmin(admin.ModelAdmin):
    form = FineTuneJobForm
    change_form_template = "admin/finetune/finetunejob/change_form.html"
    list_display = ("__str__", "state", "progress_summary", "base_version", "result_version_link", "created_at")
    list_filter = ("state",)
    recipe = ("dataset", "base_version", "l1_epochs", "gan_epochs", "batch_size", "learning_rate", "lambda_l1",
              "val_split", "image_size")
    # State, message and progress live in the page's live panel; these are what does not change.
    status_fields = ("created_by", "created_at", "attempts", "worker")

    def get_fields(self, request, obj=None):
        return self.recipe if obj is None else self.recipe + self.status_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.recipe + self.status_fields

    @admin.display(description="progress")
    def progress_summary(self, job: FineTuneJob) -> str:
        progress = job.progress or {}
        if not progress.get("total_steps"):
            return "—"
        return (f"{progress.get('stage', '').upper()} epoch {progress.get('epoch')}/{progress.get('epochs')}, "
                f"step {progress.get('global_step')}/{progress.get('total_steps')}")

    @admin.display(description="result")
    def result_version_link(self, job: FineTuneJob) -> str:
        if not job.result_version_id:
            return "—"
        url = reverse("admin:registry_modelversion_change", args=[job.result_version_id])
        return format_html('<a href="{}">{}</a>', url, job.result_version)

    def save_model(self, request, obj, form, change):
        if change:
            return
        obj.created_by = request.user
        obj.save()
        services.start_job(obj)
        messages.info(request, "The job is queued for the training worker. This page follows it live.")

    def response_add(self, request, obj, post_url_continue=None):
        # Straight to the job's page, which follows the training live.
        return HttpResponseRedirect(reverse("admin:finetune_finetunejob_change", args=[obj.pk]))

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.state in (FineTuneState.QUEUED, FineTuneState.RUNNING):
            return False  # cancel it first
        return super().has_delete_permission(request, obj)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<uuid:job_id>/cancel/", wrap(require_POST(self.cancel_view)), name="finetune_finetunejob_cancel"),
            path("<uuid:job_id>/resume/", wrap(require_POST(self.resume_view)), name="finetune_finetunejob_resume"),
            path("<uuid:job_id>/samples.png", wrap(self.samples_view), name="finetune_finetunejob_samples"),
            *super().get_urls(),
        ]

    def cancel_view(self, request, job_id):
        job = get_object_or_404(FineTuneJob, pk=job_id)
        if not self.has_change_permission(request, job):
            raise Http404
        services.request_cancel(job)
        messages.info(request, "Cancel requested: training stops at its next step and keeps a checkpoint.")
        return HttpResponseRedirect(reverse("admin:finetune_finetunejob_change", args=[job.pk]))

    def resume_view(self, request, job_id):
        job = get_object_or_404(FineTuneJob, pk=job_id)
        if not self.has_change_permission(request, job):
            raise Http404
        had_checkpoint = bool(job.checkpoint_prefix)
        if services.resume_job(job):
            messages.info(request, "Queued to resume from its last checkpoint." if had_checkpoint else
                          "Queued to start again from the beginning: no checkpoint was kept.")
        else:
            messages.error(request, job.resume_blocker or "Only an interrupted, failed or cancelled job can be resumed.")
        return HttpResponseRedirect(reverse("admin:finetune_finetunejob_change", args=[job.pk]))

    def samples_view(self, request, job_id):
        job = get_object_or_404(FineTuneJob, pk=job_id)
        if not self.has_view_permission(request, job):
            raise PermissionDenied  # the same permission as the job's page
        return stored_image(job.sample_grid.name, "image/png")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job = self.get_object(request, object_id)
        extra = {"job": job, "job_state": events.job_payload(job) if job else {},
                 "loss_history": job.loss_history if job else [], **READ_ONLY_PAGE}
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})
