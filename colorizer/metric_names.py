"""The validation metrics by name: what to call each one and which way is better (no torch).

One table for everything that shows scores: the engine's `eval` table, the metrics table of
docs/model_metrics.md and the model registry's admin pages.
"""

from __future__ import annotations

# (key in evaluate()'s results, label for people, which way is better), in display order.
METRICS = (
    ("auc", "AuC of ab error (0-150)", "higher"),
    ("ciede2000", "Colour error (CIEDE2000)", "lower"),
    ("delta_e_ab", "Colour error (ΔE on ab)", "lower"),
    ("psnr", "PSNR (dB)", "higher"),
    ("ssim", "SSIM", "higher"),
    ("colorfulness", "Colorfulness", "closer to ground truth"),
    ("colorfulness_gap", "Colorfulness gap to ground truth", "closer to 0"),
    ("fid", "FID", "lower"),
)
