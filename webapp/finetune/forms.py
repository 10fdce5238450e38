from django import forms
from django.conf import settings

from webapp.finetune.archive import ArchiveRejected, inspect, open_archive
from webapp.finetune.ingest import DatasetRejected, allowed_folder, archive_limits, check_archive_size
from webapp.finetune.models import Dataset, FineTuneJob
from webapp.registry.models import ModelVersion
from webapp.registry.services import active_version


class DatasetForm(forms.ModelForm):
    """A new dataset: an uploaded .zip, or a folder that already sits on the server."""

    class Meta:
        model = Dataset
        fields = ["name", "archive", "folder"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "folder" not in self.fields:
            return  # the admin's read-only page of an existing dataset
        roots = ", ".join(str(root) for root in settings.DATASET_FOLDER_ROOTS) or "none configured"
        self.fields["folder"].help_text = f"For large sets: an absolute path under {roots}. Nothing is copied."
        self.fields["archive"].widget.attrs["accept"] = ".zip,application/zip"

    def clean_archive(self):
        upload = self.cleaned_data.get("archive")
        if not upload:
            return upload
        if not upload.name.lower().endswith(".zip"):
            raise forms.ValidationError("Upload a .zip archive of photos.")
        # The directory is checked now for a quick answer; the worker checks it again before extracting.
        try:
            check_archive_size(upload.size)
            inspect(open_archive(upload), archive_limits())
        except ArchiveRejected as exc:
            raise forms.ValidationError(f"This archive cannot be used: {exc}.") from exc
        finally:
            upload.seek(0)
        return upload

    def clean_folder(self):
        folder = self.cleaned_data.get("folder", "").strip()
        if folder:
            try:
                allowed_folder(folder)
            except DatasetRejected as exc:
                raise forms.ValidationError(str(exc)) from exc
        return folder

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("archive")) == bool(cleaned.get("folder")) and not self.errors:
            raise forms.ValidationError("Give either a .zip archive or a server folder (one of the two).")
        return cleaned


class FineTuneJobForm(forms.ModelForm):
    """The recipe of a new fine-tuning job."""

    class Meta:
        model = FineTuneJob
        fields = ["dataset", "base_version", "l1_epochs", "gan_epochs", "batch_size", "learning_rate", "lambda_l1",
                  "val_split", "image_size"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "dataset" not in self.fields:
            return  # the admin's read-only page of an existing job
        self.fields["dataset"].queryset = Dataset.objects.filter(state=Dataset.State.DONE)
        self.fields["dataset"].help_text = "Only datasets whose photos were checked (status: ready) can be used."
        self.fields["base_version"].queryset = ModelVersion.objects.all()
        self.fields["base_version"].required = True
        if not self.is_bound:
            self.initial.setdefault("base_version", getattr(active_version(), "pk", None))

    def clean_learning_rate(self):
        rate = self.cleaned_data["learning_rate"]
        if not 0 < rate <= 0.01:
            raise forms.ValidationError("Use a learning rate between 0 and 0.01 (the paper: 0.0002).")
        return rate

    def clean_val_split(self):
        split = self.cleaned_data["val_split"]
        if not 0 < split <= 0.5:
            raise forms.ValidationError("Hold out more than 0 and at most half of the photos.")
        return split

    def clean_batch_size(self):
        size = self.cleaned_data["batch_size"]
        if not 1 <= size <= 512:
            raise forms.ValidationError("Use a batch size between 1 and 512.")
        return size

    def clean(self):
        cleaned = super().clean()
        epochs = (cleaned.get("l1_epochs"), cleaned.get("gan_epochs"))
        if None not in epochs and sum(epochs) == 0:
            self.add_error(None, "Train for at least one epoch (L1 or GAN).")
        version, size = cleaned.get("base_version"), cleaned.get("image_size")
        if version is not None and size:
            from colorizer.model import GeneratorConfig

            multiple = GeneratorConfig.from_dict(version.config).size_multiple
            low, high = FineTuneJob.IMAGE_SIZE_MIN, FineTuneJob.IMAGE_SIZE_MAX
            if size % multiple or not low <= size <= high:
                self.add_error("image_size", f"v{version.number}'s network needs a size that is a multiple of "
                                             f"{multiple}, between {low} and {high}.")
        dataset = cleaned.get("dataset")
        if dataset is not None and dataset.image_count < 2:
            self.add_error("dataset", "A dataset needs at least 2 photos: one to train on and one to hold out.")
        return cleaned
