"""`default_model.py collect`: score what a device run brought back, pick a row, install it."""

import json
import shutil

import pytest

from colorizer.checkpoint import load_generator
from scripts.tools import default_model
from scripts.tools.model_pipeline.collect import collect, judge, pick

METRICS = {"psnr", "ssim", "ciede2000", "delta_e_ab", "auc", "colorfulness", "colorfulness_gap"}


def run_collect(device_run, pack, photo_tree, tmp_path, **options):
    return collect(device_run[1], photo_tree / "val", pack=pack[0], work=tmp_path / "work", docs=tmp_path / "docs",
                   fid=False, **options)


def test_collect_scores_every_row_and_the_baseline_and_picks_a_row(device_run, pack, photo_tree, tmp_path):
    result = run_collect(device_run, pack, photo_tree, tmp_path)
    written = json.loads((tmp_path / "docs" / "model_metrics.json").read_text())
    assert written["images"] == 6 and set(written["gray"]) == METRICS
    assert all(set(written["rows"][name]["metrics"]) == METRICS for name in ("row2", "row3", "row4", "row5"))
    assert set(written["acceptance"]) == {"row3", "row4", "row5"} and written["chosen"] in ("row3", "row4", "row5")
    assert written["acceptance"]["row3"]["fid"] is None and result["accepted"] is False  # no FID, no acceptance
    table = (tmp_path / "docs" / "model_metrics.md").read_text()
    names = ("gray", "row2", "row3", "row4", "row5")
    assert all(f"| {name} |" in table or f"| **{name}** |" in table for name in names)
    assert "## Acceptance against row2" in table and "No row meets every rule" in table
    assert len(list((tmp_path / "work" / "row3" / "predictions").rglob("*.jpg"))) == 6  # colorized here


def test_install_needs_an_accepted_row_or_force_then_draws_the_sheet(device_run, pack, photo_tree, tmp_path):
    weights = tmp_path / "weights" / "default.safetensors"
    with pytest.raises(ValueError, match="--force installs"):
        run_collect(device_run, pack, photo_tree, tmp_path, install=True, weights_out=weights)
    assert (tmp_path / "docs" / "model_metrics.md").is_file() and not weights.exists()  # the metrics are kept
    code = default_model.main(["collect", "--from", str(device_run[1]), "--val-dir", str(photo_tree / "val"),
                               "--pack", str(pack[0]), "--work", str(tmp_path / "work"), "--docs",
                               str(tmp_path / "docs"), "--no-fid", "--install", "--force", "--weights-out",
                               str(weights), "--samples", str(photo_tree / "bw")])
    assert code == 0
    chosen = json.loads((tmp_path / "docs" / "model_metrics.json").read_text())["chosen"]
    assert load_generator(weights)[2]["recipe"] == chosen and weights.stat().st_size <= 40_000_000
    assert (tmp_path / "docs" / "bw_samples_sheet.png").stat().st_size > 0


def test_damaged_weights_are_refused(device_run, pack, photo_tree, tmp_path):
    returned = tmp_path / "returned"
    shutil.copytree(device_run[1], returned)
    (returned / "row3.safetensors.part0").write_bytes(b"not the weights")
    with pytest.raises(ValueError, match="sha256"):
        collect(returned, photo_tree / "val", pack=pack[0], work=tmp_path / "work", docs=tmp_path / "docs", fid=False)


def test_the_rules_are_the_issues():
    reference = {"fid": 40.0, "auc": 0.90, "colorfulness_gap": -9.0}
    good = {"fid": 30.0, "auc": 0.91, "colorfulness_gap": -2.5}
    assert judge(good, reference) == {"fid": True, "colorfulness": True, "auc": True, "accepted": True}
    assert judge({**good, "fid": 30.1}, reference)["accepted"] is False  # a quarter lower at least
    assert judge({**good, "colorfulness_gap": 3.2}, reference)["colorfulness"] is False
    assert judge({**good, "auc": 0.899}, reference)["auc"] is False
    rows = {"row3": {"metrics": {**good, "fid": 25.0}}, "row4": {"metrics": good}, "row5": {"metrics": good}}
    verdicts = {"row3": judge({**good, "auc": 0.8}, reference), "row4": judge(good, reference),
                "row5": judge({**good, "fid": 29.0}, reference)}
    assert pick(verdicts, rows) == "row4"  # accepted beats a lower FID that breaks a rule
