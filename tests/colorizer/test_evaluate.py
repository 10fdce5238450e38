import tarfile

import pytest
from PIL import Image

from colorizer.evaluate import evaluate, evaluate_predictions, format_table
from colorizer.inference import Colorizer

from .conftest import TINY, tiny_generator

METRIC_KEYS = {"psnr", "ssim", "ciede2000", "delta_e_ab", "auc", "colorfulness", "colorfulness_gap", "fid"}


@pytest.mark.slow
def test_evaluation_returns_every_metric_for_the_model_and_the_gray_baseline(photo_folder, tiny_weights):
    result = evaluate(tiny_weights, photo_folder, baseline="gray", limit=6, device="cpu")
    assert result["images"] == 6
    assert set(result["model"]) == set(result["gray"]) == METRIC_KEYS
    assert all(isinstance(v, float) for v in result["model"].values())
    assert result["gray"]["colorfulness"] < 1.0 < result["colorfulness_truth"]
    assert result["gray"]["colorfulness_gap"] == pytest.approx(-result["colorfulness_truth"], abs=1.0)
    assert 0 <= result["model"]["auc"] <= 1 and result["model"]["fid"] >= 0
    table = format_table(result)
    assert "FID" in table and "CIEDE2000" in table and "gray" in table


def test_evaluation_without_fid_or_baseline(photo_folder):
    result = evaluate(Colorizer(tiny_generator(), TINY, device="cpu"), photo_folder, baseline=None, fid=False,
                      limit=2)
    assert "gray" not in result and "fid" not in result["model"]


def test_evaluation_refuses_unknown_baselines_and_empty_folders(photo_folder, tiny_weights, tmp_path):
    with pytest.raises(ValueError, match="baseline"):
        evaluate(tiny_weights, photo_folder, baseline="sepia")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no colour photos"):
        evaluate(tiny_weights, tmp_path / "empty", fid=False)


# --------------------------------------------------------------------------------------
# Predictions made elsewhere.


def write_predictions(colorizer, photo_folder, destination, suffix=".jpg", quality=90):
    """What a GPU run returns: each photo's colorization, saved under the photo's relative path."""
    from colorizer.data import scan_images

    for path in scan_images(photo_folder).paths:
        with Image.open(path) as image:
            output = colorizer.colorize(image.convert("RGB"))
        target = destination / path.relative_to(photo_folder).with_suffix(suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        output.save(target, quality=quality)


@pytest.mark.slow
def test_predictions_score_as_the_colorizer_that_made_them(photo_folder, tmp_path):
    colorizer = Colorizer(tiny_generator(seed=3), TINY, device="cpu")
    write_predictions(colorizer, photo_folder, tmp_path / "predictions")
    direct = evaluate(colorizer, photo_folder, baseline="gray", fid=False, limit=5)
    scored = evaluate_predictions(tmp_path / "predictions", photo_folder, baseline="gray", fid=False, limit=5)
    assert scored["images"] == direct["images"] == 5
    assert scored["gray"] == direct["gray"] and scored["colorfulness_truth"] == direct["colorfulness_truth"]
    tolerance = {"psnr": 0.5, "ssim": 0.01, "ciede2000": 0.3, "delta_e_ab": 0.5, "auc": 0.005, "colorfulness": 0.5,
                 "colorfulness_gap": 0.5}
    for key, allowed in tolerance.items():  # what JPEG quality 90 does to the a/b of the predictions
        assert scored["model"][key] == pytest.approx(direct["model"][key], abs=allowed), key


@pytest.mark.slow
def test_predictions_keep_the_photos_own_luminance(photo_folder, tmp_path):
    """A gray prediction of any lightness and size scores as the grayscale baseline: L is the photo's."""
    (tmp_path / "predictions" / "sub").mkdir(parents=True)
    for index, path in enumerate(sorted(photo_folder.rglob("*.png"))):
        flat = Image.new("RGB", (32, 48), (40 + 20 * index,) * 3)
        flat.save(tmp_path / "predictions" / path.relative_to(photo_folder).with_suffix(".webp"), lossless=True)
    result = evaluate_predictions(tmp_path / "predictions", photo_folder, baseline="gray", fid=False, limit=4)
    for key, value in result["gray"].items():
        assert result["model"][key] == pytest.approx(value, abs=0.02), key


@pytest.mark.slow
def test_predictions_from_a_tar_under_a_folder_and_several_sets_in_one_pass(photo_folder, tmp_path):
    colorizer = Colorizer(tiny_generator(seed=3), TINY, device="cpu")
    write_predictions(colorizer, photo_folder, tmp_path / "a", suffix=".png")
    with tarfile.open(tmp_path / "b.tar", "w") as tar:
        tar.add(tmp_path / "a", arcname="predictions")
    result = evaluate_predictions({"folder": tmp_path / "a", "tar": tmp_path / "b.tar"}, photo_folder, fid=True,
                                  limit=3)
    assert result["methods"] == ["folder", "tar"] and result["images"] == 3
    assert result["folder"] == result["tar"] and result["folder"]["fid"] >= 0
    assert "folder" in format_table(result) and "tar" in format_table(result)


def test_predictions_must_cover_every_photo(photo_folder, tmp_path):
    colorizer = Colorizer(tiny_generator(), TINY, device="cpu")
    write_predictions(colorizer, photo_folder, tmp_path / "predictions")
    (tmp_path / "predictions" / "00.jpg").unlink()
    with pytest.raises(ValueError, match="1 photos have no prediction"):
        evaluate_predictions(tmp_path / "predictions", photo_folder, fid=False)
    with pytest.raises(FileNotFoundError, match="no folder or tar"):
        evaluate_predictions(tmp_path / "missing", photo_folder, fid=False)
