"""Model versions in the admin: compare a candidate with the active version, activate, roll back."""

from collections import Counter

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.template.response import TemplateResponse
from django.views.decorators.http import require_http_methods

from colorizer.metric_names import METRICS  # the metrics shown side by side: (key, label, better)
from webapp.registry import services
from webapp.registry.models import ModelVersion


class ModelVersionUploadForm(forms.ModelForm):
    """Add a version from a generator file trained elsewhere (safetensors: never unpickled)."""

    weights = forms.FileField(help_text="A generator .safetensors file written by `python -m colorizer train` or "
                                        "`export`. Pickled .pt/.pth files are refused.")

    class Meta:
        model = ModelVersion
        fields = ["name", "weights", "notes"]

    def clean_weights(self):
        upload = self.cleaned_data["weights"]
        from colorizer import Colorizer

        try:
            Colorizer.load(upload.read(), device="cpu")  # header, config and every tensor shape checked
        except Exception as exc:
            raise forms.ValidationError(f"This is not a usable colorizer generator file: {exc}") from exc
        finally:
            upload.seek(0)
        return upload


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    change_form_template = "admin/registry/modelversion/change_form.html"
    list_display = ("__str__", "active_badge", "public", "public_name", "auc", "colour_error", "colorfulness_gap",
                    "fid", "scored_on", "base_version", "created_at", "activate_button")
    readonly_fields = ("number", "name", "notes", "is_active", "activated_at", "created_at", "base_version",
                       "weights_file", "architecture")
    # The only things staff change on a version: whether people may pick it, and the name they see.
    public_fields = ("public", "public_name")
    fields = public_fields + readonly_fields

    # -- list columns ------------------------------------------------------------------

    @admin.display(description="active", boolean=True)
    def active_badge(self, version: ModelVersion) -> bool:
        return version.is_active

    # A fine-tuned version was scored on its dataset's held-out photos, not on the photos the shipped
    # model was: each figure names its base's on the same photos beside it, and "scored on" says which.

    @admin.display(description="AuC")
    def auc(self, version: ModelVersion) -> str:
        return _with_base(version, "auc", 3)

    @admin.display(description="colour error")
    def colour_error(self, version: ModelVersion) -> str:
        return _with_base(version, "ciede2000", 2)

    @admin.display(description="colorfulness gap")
    def colorfulness_gap(self, version: ModelVersion) -> str:
        return _with_base(version, "colorfulness_gap", 1)

    @admin.display(description="FID")
    def fid(self, version: ModelVersion) -> str:
        return _with_base(version, "fid", 1)

    @admin.display(description="scored on")
    def scored_on(self, version: ModelVersion) -> str:
        return services.scored_on(version) or "—"

    @admin.display(description="")
    def activate_button(self, version: ModelVersion) -> str:
        if version.is_active:
            return "in use"
        url = reverse("admin:registry_modelversion_activate", args=[version.pk])
        # A link to the confirmation page: switching every worker's model is one deliberate click further.
        label = "Roll back to this" if version.pk and self._is_older_than_active(version) else "Activate"
        return format_html('<a class="button" href="{}">{}</a>', url, label)

    @staticmethod
    def _is_older_than_active(version: ModelVersion) -> bool:
        return ModelVersion.objects.filter(is_active=True, number__gt=version.number).exists()

    @admin.display(description="weights")
    def weights_file(self, version: ModelVersion) -> str:
        return version.weights.name

    @admin.display(description="network")
    def architecture(self, version: ModelVersion) -> str:
        config = version.config or {}
        return ", ".join(f"{key}={value}" for key, value in config.items() if key != "encoder_weights")

    # -- adding: upload a generator file ---------------------------------------------

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ModelVersionUploadForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        return ("name", "weights", "notes") if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=list(self.public_fields))
            return
        version = services.register_version(form.cleaned_data["weights"], name=obj.name, notes=obj.notes)
        obj.pk, obj.number = version.pk, version.number
        messages.info(request, f"Added v{version.number}. It is not used until you activate it.")

    def response_add(self, request, obj, post_url_continue=None):
        return HttpResponseRedirect(reverse("admin:registry_modelversion_change", args=[obj.pk]))

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_active:
            return False  # activate another version first
        return super().has_delete_permission(request, obj)

    # -- activation, rollback, files -----------------------------------------------------

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:version_id>/activate/", wrap(require_http_methods(["GET", "POST"])(self.activate_view)),
                 name="registry_modelversion_activate"),
            path("<int:version_id>/samples.png", wrap(self.samples_view), name="registry_modelversion_samples"),
            *super().get_urls(),
        ]

    def activate_view(self, request, version_id):
        """GET (or a POST without `confirm`): what activating it changes, and a button to confirm. A POST
        with `confirm`: activate it."""
        version = get_object_or_404(ModelVersion, pk=version_id)
        if not self.has_change_permission(request, version):
            raise Http404
        previous = services.active_version()
        return_to = "version" if request.POST.get("return_to", request.GET.get("return_to")) == "version" else ""
        if request.method != "POST" or request.POST.get("confirm") != "yes":
            if version.is_active:
                messages.info(request, f"v{version.number} is already active.")
                return HttpResponseRedirect(reverse("admin:registry_modelversion_change", args=[version.pk]))
            context = {**self.admin_site.each_context(request), "opts": self.model._meta, "version": version,
                       "active": previous, "return_to": return_to,
                       "is_rollback": previous is not None and previous.number > version.number,
                       "title": f"{'Roll back to' if previous and previous.number > version.number else 'Activate'}"
                                f" v{version.number}?"}
            return TemplateResponse(request, "admin/registry/modelversion/activate_confirmation.html", context)
        services.activate_version(version)
        if previous and previous.number > version.number:
            messages.success(request, f"Rolled back to v{version.number} (from v{previous.number}). "
                                      "Workers switch before their next photo.")
        else:
            messages.success(request, f"v{version.number} is now active. Workers switch before their next photo.")
        if return_to == "version":
            return HttpResponseRedirect(reverse("admin:registry_modelversion_change", args=[version.pk]))
        return HttpResponseRedirect(reverse("admin:registry_modelversion_changelist"))

    def samples_view(self, request, version_id):
        version = get_object_or_404(ModelVersion, pk=version_id)
        if not self.has_view_permission(request, version):
            raise PermissionDenied  # the same permission as the version's page
        if not version.sample_grid:
            raise Http404("No sample grid.")
        try:
            with default_storage.open(version.sample_grid.name, "rb") as handle:
                response = HttpResponse(handle.read(), content_type="image/png")
        except FileNotFoundError:  # the row names a file the storage lost
            raise Http404("No sample grid.") from None
        response["Cache-Control"] = "private, max-age=3600"
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        version = self.get_object(request, object_id)
        extra = {"show_save_and_continue": False, "show_save_and_add_another": False}
        if version is not None:
            extra.update(comparison_context(version))
        return super().change_view(request, object_id, form_url, {**extra, **(extra_context or {})})


def comparison_context(version: ModelVersion) -> dict:
    """The version's metrics beside the active version's (and, for a fine-tuned one, its base's on the
    same held-out photos, which is the fair comparison)."""
    active = services.active_version()
    comparison = version.comparison  # a copy of its job's: it outlives the job
    columns = [("This version", version.metrics)]
    if comparison.get("base"):
        number = comparison.get("base_version")
        base_is_active = active is not None and active.pk == version.base_version_id
        title = f"Active v{number} (its base)" if base_is_active else f"Its base v{number}"
        columns.append((f"{title} on the same photos", comparison["base"]))
    if active is not None and active.pk not in (version.pk, version.base_version_id if comparison.get("base") else None):
        columns.append((f"Active v{active.number} (its own evaluation)", active.metrics))
    rows = [{"label": label, "better": better, "values": [_number(metrics.get(key), 3) for _, metrics in columns]}
            for key, label, better in METRICS if any(key in metrics for _, metrics in columns)]
    return {
        "version": version,
        "active": active,
        "columns": [title for title, _ in columns],
        "metric_rows": rows,
        "trained_by": getattr(version, "trained_by", None),
        "held_out_photos": comparison.get("photos"),
        "verdict": services.comparison_verdict(comparison),
        "scored_on": services.scored_on(version),
        "sample_grid_url": (reverse("admin:registry_modelversion_samples", args=[version.pk])
                            if version.sample_grid else ""),
        "activate_url": reverse("admin:registry_modelversion_activate", args=[version.pk]),
        "history": history_rows(version.history),
        "is_rollback": active is not None and active.number > version.number,
    }


def history_rows(history: list[dict]) -> list[dict]:
    """Training epochs numbered within their stage, "GAN 1 / 3", as the job's page numbers them (the engine
    records the epoch over both stages too: the first GAN epoch after one L1 epoch is its epoch 2)."""
    per_stage = Counter(epoch.get("stage") for epoch in history)
    return [{**epoch, "number": f"{epoch.get('stage_epoch', epoch.get('epoch'))} / {per_stage[epoch.get('stage')]}"}
            for epoch in history]


def _with_base(version: ModelVersion, key: str, digits: int) -> str:
    own = _number(version.metrics.get(key), digits)
    base = (version.comparison.get("base") or {}).get(key)
    if base is None or version.metrics.get(key) is None:
        return own
    return f"{own} (base {_number(base, digits)})"


def _number(value, digits: int) -> str:
    if value is None:
        return "—"
    try:
        return f"{float(value):.{digits}f}"
    except (TypeError, ValueError):
        return str(value)
