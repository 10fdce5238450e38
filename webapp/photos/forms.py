from django import forms
from django.conf import settings

from webapp.core.jobs import JobState
from webapp.photos.hints import InvalidHints, parse_hints, takes_hints
from webapp.photos.models import Colorization, Photo
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_version


class RerunForm(forms.Form):
    """Colorize a photo again: another render size, a new variation, or another model version."""

    render_size = forms.TypedChoiceField(
        coerce=int, label="Render size",
        help_text="Larger sizes see more detail and take longer; the result keeps the photo's full resolution.",
    )
    variation = forms.BooleanField(
        required=False, label="New variation",
        help_text="Let the model's noise pick different colours (each variation is reproducible).",
    )
    model_version = forms.ModelChoiceField(queryset=ModelVersion.objects.none(), required=False, label="Model")
    intensity = forms.FloatField(
        label="Colour intensity", min_value=0.5, max_value=1.5, initial=1.0, required=False,
        widget=forms.NumberInput(attrs={"type": "range", "min": "0.5", "max": "1.5", "step": "0.1"}),
        help_text="Quieter or stronger colours; the photo's light and shade stay exactly as they are.",
    )
    # Colour hints, placed on the photo by static/js/hints.js: JSON [{x, y, color}] (webapp.photos.hints).
    hints = forms.CharField(required=False, widget=forms.HiddenInput, strip=False)

    def __init__(self, photo: Photo, *args, user=None, **kwargs):
        self.photo = photo
        super().__init__(*args, **kwargs)
        self.fields["render_size"].choices = [(size, f"{size} px") for size in settings.COLORIZE_RENDER_SIZES]
        self.active = active_version()
        staff = user is not None and user.is_staff
        # Staff may try any version; everyone else the active one and those staff made public, by public name.
        versions = ModelVersion.objects.order_by("-number")
        if not staff:
            versions = versions.filter(public=True)
        if self.active is not None:
            versions = versions.exclude(pk=self.active.pk)  # the empty choice
        if versions.exists():
            label = (lambda version: str(version)) if staff else (lambda version: version.public_label)
            self.fields["model_version"].queryset = versions
            self.fields["model_version"].empty_label = (
                f"The active model ({label(self.active)})" if self.active else "The active model"
            )
            self.fields["model_version"].label_from_instance = label
        else:
            del self.fields["model_version"]

    @property
    def offers_versions(self) -> bool:
        return "model_version" in self.fields

    @property
    def offers_hints(self) -> bool:
        """Hints are offered when the active version takes them."""
        return takes_hints(self.active)

    def clean_hints(self) -> list[dict]:
        try:
            return parse_hints(self.cleaned_data.get("hints"), self.photo.width, self.photo.height)
        except InvalidHints as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean(self):
        data = super().clean()
        if data.get("hints") and not takes_hints(data.get("model_version") or self.active):
            self.add_error("hints", "This model does not take colour hints: remove them, or pick a model that does.")
        return data

    def clean_intensity(self) -> float:
        value = self.cleaned_data.get("intensity")
        return 1.0 if value is None else round(value, 2)

    def version_label(self) -> str:
        """The model these settings ask for, as the form names it."""
        version = self.cleaned_data.get("model_version")
        if version is None:
            return f"the active model ({self.active.public_label})" if self.active else "the active model"
        return version.public_label

    def same_result(self) -> Colorization | None:
        """After is_valid(): the photo's result (done, or still on its way) that these settings would repeat.

        A new variation never repeats one. Re-running with the same settings would spend a worker on the
        same picture, so the page shows that result instead (after a rollback, for instance, the active
        model's earlier result)."""
        data = self.cleaned_data
        if data.get("variation"):
            return None
        version = data.get("model_version") or self.active
        same = Colorization.objects.filter(photo=self.photo, render_size=data["render_size"], seed=None,
                                           intensity=data["intensity"]).exclude(state=JobState.FAILED)
        for job in same.order_by("-created_at"):
            if job.hints != data.get("hints", []):
                continue
            if (job.model_version_id or job.requested_version_id or (self.active and self.active.pk)) == (
                version and version.pk
            ):
                return job
        return None
