"""`default_model.py score`: the metrics table of generators trained here, from the engine's eval."""

import json

import pytest

from scripts.tools import default_model

METRICS = {"psnr": 24.0, "ssim": 0.94, "ciede2000": 9.6, "delta_e_ab": 13.7, "auc": 0.905, "colorfulness": 15.0,
           "colorfulness_gap": -25.0, "fid": 50.0}


def write_eval(path, model, gray=None, images=660, render_size=256):
    report = {"data_dir": "photos/val", "images": images, "render_size": render_size, "colorfulness_truth": 40.0,
              "generator": {"arch": "efficientnet_lite0"}, "model": model}
    if gray is not None:
        report["gray"] = gray
    path.write_text(json.dumps(report))
    return str(path)


def test_score_writes_the_rows_the_registry_reads(tmp_path):
    l1 = write_eval(tmp_path / "l1.json", METRICS, gray={**METRICS, "fid": 73.0, "colorfulness": 0.1})
    gan = write_eval(tmp_path / "gan.json", {**METRICS, "fid": 40.0, "colorfulness": 30.0})
    code = default_model.main(["score", "--row", "interim-l1", "L1 only", l1, "--row", "interim-gan", "then GAN", gan,
                               "--chosen", "interim-l1", "--docs", str(tmp_path / "docs")])
    assert code == 0
    written = json.loads((tmp_path / "docs" / "model_metrics.json").read_text())
    assert written["chosen"] == "interim-l1" and written["rows"]["interim-l1"]["metrics"] == METRICS
    assert written["gray"]["fid"] == 73.0 and written["rows"]["interim-gan"]["title"] == "then GAN"
    table = (tmp_path / "docs" / "model_metrics.md").read_text()
    assert "| **interim-l1** | L1 only |" in table and "| interim-gan | then GAN |" in table
    assert "| gray | grayscale baseline |" in table and "| 40.00 |" in table


def test_score_refuses_rows_scored_on_other_photos(tmp_path):
    l1 = write_eval(tmp_path / "l1.json", METRICS, gray=METRICS)
    other = write_eval(tmp_path / "other.json", METRICS, images=100)
    with pytest.raises(ValueError, match="other photos"):
        default_model.run_score(default_model_args(l1, other, tmp_path))


def test_score_needs_the_gray_baseline_and_a_known_choice(tmp_path):
    l1 = write_eval(tmp_path / "l1.json", METRICS)
    assert default_model.main(["score", "--row", "a", "A", l1, "--chosen", "a", "--docs", str(tmp_path)]) == 2
    assert default_model.main(["score", "--row", "a", "A", l1, "--chosen", "b", "--docs", str(tmp_path)]) == 2
    assert not (tmp_path / "model_metrics.json").exists()


def default_model_args(first, second, tmp_path):
    import argparse

    return argparse.Namespace(row=[["a", "A", first], ["b", "B", second]], chosen="a", docs=tmp_path / "docs")
