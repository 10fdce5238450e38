"""The model that ships in the repository, as a fresh install gets it: compact, safe, registered
as version 1 with the metrics docs/model_metrics.json gives it, and colorizing."""

import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
import torch
from PIL import Image

from colorizer.checkpoint import read_header
from colorizer.color import rgb_to_lab
from colorizer.inference import Colorizer
from webapp.registry.models import ModelVersion

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "colorizer" / "weights" / "default.safetensors"
METRICS = ROOT / "docs" / "model_metrics.json"


def test_the_shipped_weights_are_compact_fp16_safetensors():
    assert WEIGHTS.stat().st_size <= 40_000_000
    header = read_header(WEIGHTS)
    dtypes = {entry["dtype"] for name, entry in header.items() if name != "__metadata__"}
    assert "F16" in dtypes and not dtypes & {"F32", "F64"}
    assert WEIGHTS.read_bytes()[:2] != b"\x80\x04"  # not a pickle


def test_the_metrics_file_names_the_shipped_row_with_every_metric():
    report = json.loads(METRICS.read_text())
    metrics = report["rows"][report["chosen"]]["metrics"]
    assert {"psnr", "ssim", "ciede2000", "auc", "colorfulness", "colorfulness_gap", "fid"} <= set(metrics)
    assert report["images"] == 660 and metrics["fid"] < report["gray"]["fid"] and metrics["auc"] > report["gray"]["auc"]


@pytest.mark.django_db
def test_a_fresh_install_activates_the_shipped_model_as_v1_with_its_metrics(settings):
    settings.COLORIZER_DEFAULT_WEIGHTS = WEIGHTS
    settings.COLORIZER_DEFAULT_METRICS = METRICS
    ModelVersion.objects.all().delete()

    call_command("migrate", verbosity=0)  # post_migrate registers it on an empty registry

    version = ModelVersion.objects.get()
    report = json.loads(METRICS.read_text())
    assert (version.number, version.is_active) == (1, True)
    assert version.metrics == {**report["rows"][report["chosen"]]["metrics"],
                               "scored_on": f"all {report['images']} photos of the validation set"}
    assert version.config["arch"] == "efficientnet_lite0"


def test_the_shipped_model_colorizes_and_keeps_the_luminance(single_threaded_torch):
    colorizer = Colorizer.load(WEIGHTS, device="cpu")
    ramp = np.tile(np.linspace(0, 255, 300, dtype=np.uint8), (200, 1))
    result = colorizer.colorize(Image.fromarray(ramp, "L"))
    assert result.size == (300, 200) and result.mode == "RGB"
    lab = rgb_to_lab(torch.from_numpy(np.array(result)).permute(2, 0, 1)[None] / 255.0)[0]
    expected = rgb_to_lab(torch.from_numpy(ramp)[None, None].expand(1, 3, -1, -1) / 255.0)[0, 0]
    assert (lab[0] - expected).abs().max() < 1.0  # CIE L*, of 100
    assert lab[1:].norm(dim=0).mean() > 1.0  # and it added colour


def test_the_shipped_model_takes_colour_hints_and_follows_them(single_threaded_torch):
    colorizer = Colorizer.load(WEIGHTS, device="cpu")
    assert colorizer.takes_hints
    rng = np.random.default_rng(0)
    gray = Image.fromarray((np.full((160, 240), 150) + rng.normal(0, 4, (160, 240))).clip(0, 255).astype(np.uint8))

    def a_star_around(result):  # CIE a* (green-red) around (120, 80)
        lab = rgb_to_lab(torch.from_numpy(np.array(result)).permute(2, 0, 1)[None] / 255.0)[0]
        return lab[1, 60:100, 90:150].mean().item()

    plain, hinted = colorizer.colorize(gray), colorizer.colorize(gray, hints=[(120, 80, (200, 30, 40))])
    assert a_star_around(hinted) > a_star_around(plain) + 10  # a red hint turns its surroundings red


def test_the_shipped_file_is_not_listed_among_the_earlier_defaults():
    """A release that ships a new file lists the one it replaces there (existing installs then move to it)."""
    from webapp.registry.services import EARLIER_SHIPPED_DEFAULTS, file_sha256

    with WEIGHTS.open("rb") as handle:
        assert file_sha256(handle) not in EARLIER_SHIPPED_DEFAULTS
