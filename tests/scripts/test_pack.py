"""`default_model.py pack`: what the GPU machine needs, inside the size the device call carries."""

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file

from scripts.tools.model_pipeline.limits import MiB, folder_bytes
from scripts.tools.model_pipeline.pack import ENCODER_FILE, MANIFEST_SLACK, gray_of, make_pack

from .conftest import make_wheel


def test_pack_holds_training_photos_gray_val_inputs_encoder_and_wheels(pack, photo_tree):
    folder, manifest = pack
    assert sorted(p.relative_to(folder / "train").as_posix() for p in (folder / "train").rglob("*.webp"))[:2] == [
        "a/01.webp", "a/03.webp"]
    assert manifest["train"]["count"] == 12 and len(list((folder / "val_gray").rglob("*.webp"))) == 6
    assert manifest["val_watch"]["count"] == 3 and manifest["train"]["quality"] == 95  # plenty of room
    assert manifest["train"]["psnr_mean"] > 30 and manifest["val_gray"]["l_psnr_mean"] > 30
    with Image.open(folder / "train" / "a" / "01.webp") as photo:
        assert photo.size == (64, 64)
    with Image.open(folder / "val_gray" / "b" / "00.webp") as gray, \
            Image.open(photo_tree / "val" / "b" / "00.jpg") as truth:
        exact = np.asarray(gray_of(truth.convert("RGB").resize((64, 64), Image.BICUBIC)), dtype=float)
        stored = np.asarray(gray.convert("RGB"), dtype=float)
        assert np.abs(stored[..., 0] - stored[..., 2]).max() <= 1  # gray: no colour travels
        assert np.abs(stored[..., 0] - exact).mean() < 3  # the photo's own luminance
    assert sorted(w["file"].split("-")[0] for w in manifest["wheels"]) == [
        "efficientnet_lite_pytorch", "kornia", "kornia_rs"]
    assert manifest["unmet_requirements"] == []  # kornia-rs travels, numpy and torch are on the device
    assert manifest["budget"]["carried_total"] == manifest["budget"]["pack_bytes"]  # --reserve-bytes 0


def test_encoder_weights_are_fp16_and_fit_efficientnet_lite0_but_its_classifier(pack):
    from efficientnet_lite_pytorch import EfficientNet

    state = load_file(pack[0] / "encoder" / ENCODER_FILE)
    assert {v.dtype for v in state.values() if v.is_floating_point()} == {__import__("torch").float16}
    missing, unexpected = EfficientNet.from_name("efficientnet-lite0").load_state_dict(state, strict=False)
    assert unexpected == [] and sorted(missing) == ["_fc.bias", "_fc.weight"]


def test_pack_lowers_the_photo_quality_until_it_fits_its_cap(photo_tree, tmp_path):
    gray_bytes = 6 * 400  # about what six 64 px gray inputs take
    cap = MANIFEST_SLACK + gray_bytes + 15 * 300  # room for 15 photos (12 + 3 watched) of ~300 bytes
    manifest = make_pack(tmp_path / "pack", photo_tree / "train", photo_tree / "val", image_size=64,
                         max_mib=cap / MiB, reserve_bytes=0, watch_count=3, encoder=None, wheels=None, workers=1)
    assert manifest["train"]["quality"] < 95
    assert folder_bytes(tmp_path / "pack") <= cap and manifest["budget"]["carried_total"] <= cap


def test_pack_says_when_nothing_fits(photo_tree, tmp_path):
    with pytest.raises(ValueError, match="even at WebP quality 0"):
        make_pack(tmp_path / "pack", photo_tree / "train", photo_tree / "val", image_size=64,
                  max_mib=(MANIFEST_SLACK + 6 * 400 + 200) / MiB, reserve_bytes=0, encoder=None, wheels=None, workers=1)
    with pytest.raises(ValueError, match="no room for training photos"):
        make_pack(tmp_path / "pack", photo_tree / "train", photo_tree / "val", image_size=64, max_mib=1,
                  reserve_bytes=2 * MiB, encoder=None, wheels=None, workers=1)


def test_pack_replaces_an_old_pack_but_not_another_folder(photo_tree, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="something other than a pack"):
        make_pack(tmp_path / "mine", photo_tree / "train", photo_tree / "val", encoder=None, wheels=None)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_requirements_neither_carried_nor_on_the_device_are_reported(photo_tree, tmp_path):
    make_wheel(tmp_path / "wheels", "fancy", "1.0", ["torch", "mystery-lib>=2", "other; extra == 'docs'"])
    manifest = make_pack(tmp_path / "pack", photo_tree / "train", photo_tree / "val", image_size=64,
                         reserve_bytes=0, encoder=None, wheels=str(tmp_path / "wheels"), workers=1)
    assert manifest["unmet_requirements"] == ["mystery-lib"]
