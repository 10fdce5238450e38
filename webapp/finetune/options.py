"""What FINETUNE_TRAIN_OPTIONS may set: colorizer.train.TrainConfig fields that no job sets itself.

Read by the settings at load time and by the runner at each job's start, so this module
imports neither Django nor torch.
"""

from __future__ import annotations

# The fields every job sets, and where each comes from: an operator override would silently break
# the job (train somewhere else, never resume, start from other weights, lose its checkpoints).
JOB_OWNED = {
    "train_dir": "set from the job's dataset",
    "val_dir": "set from the job's dataset",
    "max_images": "set from the job's dataset",
    "val_split": "set from the job's recipe",
    "l1_epochs": "set from the job's recipe",
    "gan_epochs": "set from the job's recipe",
    "batch_size": "set from the job's recipe",
    "lr": "set from the job's recipe",
    "lambda_l1": "set from the job's recipe",
    "image_size": "set from the job's recipe",
    "init_generator": "set from the job's base version",
    "generator": "set from the job's base version",
    "seed": "set from the job, so its split and shuffling stay the same on every resume",
    "out_dir": "set from TRAINING_DIR",
    "resume": "a job always continues from its own checkpoint",
    "checkpoint_every": "a job checkpoints every epoch, so a resume loses at most one",
    "device": "set from COLORIZER_DEVICE",
    "num_workers": "set from FINETUNE_LOADER_WORKERS",
    "cache_images": "set from FINETUNE_CACHE_BYTES",
    "progress_bar": "a worker logs no progress bar",
}


def check_train_options(options) -> None:
    """ValueError, for a person, unless `options` is a dict that sets no field a job owns."""
    if not isinstance(options, dict):
        raise ValueError("FINETUNE_TRAIN_OPTIONS must be a JSON object of colorizer.train.TrainConfig fields")
    owned = sorted(name for name in options if name in JOB_OWNED)
    if owned:
        raise ValueError("FINETUNE_TRAIN_OPTIONS may not set " + "; ".join(
            f"{name} ({JOB_OWNED[name]})" for name in owned))
