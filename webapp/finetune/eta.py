"""How long a fine-tuning run has left, from the epochs it has timed, and where a run stands.

The engine's own estimate counts training steps only: every epoch also validates, draws a sample
grid and stores a checkpoint, which on a small dataset takes longer than the steps. The runner
times whole epochs on the wall clock (webapp.finetune.runner.JobRunner), and this module
estimates from those times: the stage's measured epochs when there are any, else the current
epoch extrapolated from how far it has come, else the other stage's epochs.
"""

from __future__ import annotations

from statistics import fmean


def epoch_seconds(stage: str, history: list[dict], *, current_stage: str, step: int, steps_per_epoch: int,
                  elapsed_in_epoch: float | None) -> float | None:
    """The expected wall-clock length of one epoch of `stage`."""
    measured = [epoch["seconds"] for epoch in history if epoch.get("stage") == stage and epoch.get("seconds")]
    if measured:
        return fmean(measured)
    extrapolated = (elapsed_in_epoch * steps_per_epoch / step
                    if step > 0 and elapsed_in_epoch and steps_per_epoch else None)
    if stage == current_stage and extrapolated:
        return extrapolated
    others = [epoch["seconds"] for epoch in history if epoch.get("seconds")]
    return fmean(others) if others else extrapolated  # the other stage's epochs: as long as these, until timed


def seconds_left(progress: dict, history: list[dict], *, l1_epochs: int, gan_epochs: int,
                 elapsed_in_epoch: float | None) -> float | None:
    """Seconds until training ends: the rest of the current epoch and every epoch after it. None until
    something has been timed."""
    stage, epoch = progress.get("stage"), progress.get("epoch")
    step, steps_per_epoch = progress.get("step", 0), progress.get("steps_per_epoch", 0)
    if stage not in ("l1", "gan") or not epoch or not steps_per_epoch:
        return None
    if progress.get("kind") == "epoch":  # that epoch just ended: the next one starts now
        step, epoch, elapsed_in_epoch = 0, epoch + 1, 0.0
        if stage == "l1" and epoch > l1_epochs:
            stage, epoch = "gan", 1
    counts = {"l1": l1_epochs, "gan": gan_epochs}
    if epoch > counts[stage]:
        return 0.0

    def length(which: str) -> float | None:
        return epoch_seconds(which, history, current_stage=stage, step=step, steps_per_epoch=steps_per_epoch,
                             elapsed_in_epoch=elapsed_in_epoch)

    current = length(stage)
    if current is None:
        return None
    if elapsed_in_epoch is not None:
        total = max(current - elapsed_in_epoch, 0.0)
    else:
        total = current * (1 - step / steps_per_epoch)
    later = {stage: counts[stage] - epoch, **({"gan": gan_epochs} if stage == "l1" else {})}
    for which, count in later.items():
        if count > 0:
            each = length(which)
            if each is None:
                return None
            total += count * each
    return round(total, 1)


def position(global_step: int, steps_per_epoch: int, l1_epochs: int) -> dict:
    """Stage, epoch within the stage (1-based) and step within the epoch of the run's `global_step`th step."""
    if global_step <= 0 or steps_per_epoch <= 0:
        return {}
    index = (global_step - 1) // steps_per_epoch  # 0-based epoch over both stages
    stage = "l1" if index < l1_epochs else "gan"
    return {"stage": stage, "epoch": index + 1 if stage == "l1" else index - l1_epochs + 1,
            "step": global_step - index * steps_per_epoch}
