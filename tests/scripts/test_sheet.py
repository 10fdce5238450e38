"""`default_model.py sheet`: real B&W photos beside their colorizations, small enough for the model card."""

from PIL import Image

from colorizer.checkpoint import save_generator
from scripts.tools import default_model
from scripts.tools.model_pipeline.sheet import GUTTER, MARGIN, MAX_ASPECT, make_sheet
from tests.colorizer.conftest import TINY, tiny_generator


def tiny_weights(path):
    save_generator(path, tiny_generator().state_dict(), TINY.to_dict())
    return path


def test_sheet_sets_each_photo_beside_its_colorization(photo_tree, tmp_path):
    weights = tiny_weights(tmp_path / "tiny.safetensors")
    report = make_sheet(weights, photo_tree / "bw", tmp_path / "sheet.png", height=60, columns=2, device="cpu")
    assert "3 photos, 60 px high" in report
    with Image.open(tmp_path / "sheet.png") as sheet:
        assert sheet.mode == "RGB" and sheet.height == 2 * (60 + MARGIN) + MARGIN  # 3 pairs in rows of 2
        first_pair = 90 + GUTTER + 90  # 90x60 photos stay 90x60
        assert sheet.width >= MARGIN + first_pair + MARGIN


def test_sheet_shrinks_until_it_fits(photo_tree, tmp_path):
    weights = tiny_weights(tmp_path / "tiny.safetensors")
    report = make_sheet(weights, photo_tree / "bw", tmp_path / "sheet.png", height=120, max_bytes=8_000, device="cpu")
    assert "120 px" not in report and (tmp_path / "sheet.png").stat().st_size <= 8_000


def test_sheet_command_line(photo_tree, tmp_path, capsys):
    weights = tiny_weights(tmp_path / "tiny.safetensors")
    assert default_model.main(["sheet", "--weights", str(weights), "--samples", str(photo_tree / "bw"), "--out",
                               str(tmp_path / "s.png"), "--height", "48", "--device", "cpu"]) == 0
    assert "s.png: 3 photos" in capsys.readouterr().out
    (tmp_path / "empty").mkdir()
    assert default_model.main(["sheet", "--weights", str(weights), "--samples", str(tmp_path / "empty"), "--out",
                               str(tmp_path / "t.png")]) == 2
    assert "no images" in capsys.readouterr().err


def test_sheet_sets_two_candidates_side_by_side_after_each_photo(photo_tree, tmp_path):
    first = tiny_weights(tmp_path / "a.safetensors")
    second = tiny_weights(tmp_path / "b.safetensors")
    make_sheet([first, second], photo_tree / "bw", tmp_path / "two.png", height=60, columns=1, device="cpu")
    with Image.open(tmp_path / "two.png") as sheet:
        widest = round(MAX_ASPECT * 60)  # the 110 and 130 px wide photos are cropped to 1.6 x their height
        assert sheet.width == MARGIN + 3 * widest + 2 * GUTTER + MARGIN  # the photo, then each candidate's
        assert sheet.height == 3 * (60 + MARGIN) + MARGIN
