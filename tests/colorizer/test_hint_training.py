"""Training, fine-tuning, scoring and the command line with hint-capable generators (tiny data)."""

import numpy as np
import pytest
import torch
from PIL import Image

from colorizer.__main__ import main
from colorizer.checkpoint import load_generator, save_generator
from colorizer.hint_eval import evaluate_hints
from colorizer.hints import encode_hints
from colorizer.inference import Colorizer
from colorizer.model import DiscriminatorConfig
from colorizer.train import TrainConfig, train

from .conftest import TINY, TINY_HINTS, hint_pass_through_generator, tiny_generator


def hint_run(train_dir, out_dir, **overrides):
    settings = dict(train_dir=str(train_dir), out_dir=str(out_dir), image_size=64, batch_size=4, val_split=0.25,
                    discriminator=DiscriminatorConfig(base_width=8), l1_epochs=1, gan_epochs=1, max_steps=3,
                    num_workers=0, progress_bar=False, sample_count=2, ema_decay=0)
    settings.update(overrides)
    return train(TrainConfig(**settings))


@pytest.fixture
def plain_weights(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_generator(path, tiny_generator().state_dict(), TINY.to_dict())
    return path


def test_it_fine_tunes_a_plain_generator_into_a_hint_capable_one_that_reloads(tmp_path, photo_folder, plain_weights):
    result = hint_run(photo_folder, tmp_path / "run", init_generator=str(plain_weights), hints=True)
    assert result.global_step == 3
    colorizer = Colorizer.load(result.generator_path, device="cpu")
    assert colorizer.takes_hints
    photo = Image.open(next(photo_folder.glob("*.png")))
    assert colorizer.colorize(photo, hints=[(5, 5, (255, 0, 0))]).size == photo.size


def test_a_fine_tune_of_a_hint_capable_generator_stays_hint_capable(tmp_path, photo_folder):
    source = tmp_path / "hinted.safetensors"
    save_generator(source, hint_pass_through_generator().state_dict(), TINY_HINTS.to_dict())
    result = hint_run(photo_folder, tmp_path / "run", init_generator=str(source))  # no --hints needed
    _, config, extra = load_generator(result.generator_path)
    assert config["hints"] is True and extra["hints"] is True


def test_training_on_simulated_hints_wakes_the_zero_initialised_hint_inputs(tmp_path, photo_folder, plain_weights):
    """A few steps on simulated hints: the hint inputs, zero at the start, now change the colour where a hint
    is (that they move it toward the hint is shown by construction in test_hints.py; a tiny run is too short)."""
    torch.manual_seed(0)
    result = hint_run(photo_folder, tmp_path / "run", init_generator=str(plain_weights), hints=True, max_steps=4,
                      lr=2e-3, l1_epochs=4, gan_epochs=0)
    state, _, _ = load_generator(result.generator_path)
    assert state["model.model.0.weight"][:, 1:].abs().sum() > 0  # (8, 4, 4, 4): L, then a, b, mask
    colorizer = Colorizer.load(result.generator_path, device="cpu")
    L = torch.zeros(1, 1, 64, 64)
    hints = encode_hints([(32, 32, (30, 60, 200))], (64, 64), (64, 64))[None]  # (1, 3, 64, 64)
    moved = (colorizer.predict_ab(L, hints=hints) - colorizer.predict_ab(L))[0, :, 30:35, 30:35]
    assert moved.abs().max() > 0.01  # Lab units


def test_the_command_line_trains_scores_and_colorizes_with_hints(tmp_path, photo_folder, plain_weights, capsys):
    out = tmp_path / "run"
    assert main(["train", "--train-dir", str(photo_folder), "--out-dir", str(out), "--init-generator",
                 str(plain_weights), "--hints", "--image-size", "64", "--batch-size", "4", "--gan-epochs", "1",
                 "--max-steps", "2", "--num-workers", "0", "--no-progress", "--ema-decay", "0"]) == 0
    weights = out / "generator.safetensors"
    capsys.readouterr()
    assert main(["eval", "--weights", str(weights), "--data", str(photo_folder), "--hints", "0,1,5",
                 "--render-size", "64", "--limit", "3"]) == 0
    table = capsys.readouterr().out
    assert "PSNR" in table and "AuC" in table
    assert [line.split()[0] for line in table.splitlines()[2:]] == ["0", "1", "5"]
    photo, result = next(photo_folder.glob("*.png")), tmp_path / "out.png"
    assert main(["colorize", str(photo), str(result), "--weights", str(weights), "--hint", "3,4,#ff0000",
                 "--hint", "10,12,#00aa00"]) == 0
    assert Image.open(result).size == Image.open(photo).size
    assert main(["colorize", str(photo), str(result), "--weights", str(plain_weights), "--hint", "3,4,#ff0000"]) == 2
    assert "does not take colour hints" in capsys.readouterr().err


def test_true_hints_raise_the_scores_of_a_model_that_follows_them(tmp_path, photo_folder):
    colorizer = Colorizer(hint_pass_through_generator(), TINY_HINTS, device="cpu")
    result = evaluate_hints(colorizer, photo_folder, counts=(0, 64), render_size=64, limit=4)
    assert result["hints"][64]["auc"] > result["hints"][0]["auc"]
    assert np.isfinite(result["hints"][0]["psnr"])
    plain = Colorizer(tiny_generator(), TINY, device="cpu")
    with pytest.raises(ValueError, match="does not take colour hints"):
        evaluate_hints(plain, photo_folder, counts=(1,))
    baseline = evaluate_hints(plain, photo_folder, counts=(0,), render_size=64, limit=4)  # the row to compare with
    assert set(baseline["hints"]) == {0} and np.isfinite(baseline["hints"][0]["auc"])


def test_a_hints_only_fine_tune_keeps_every_other_weight_and_statistic(tmp_path, photo_folder):
    from colorizer.model import GeneratorConfig, build_generator

    lite = GeneratorConfig(arch="efficientnet_lite0", decoder_widths=(16, 16, 8, 8, 8))
    base = tmp_path / "lite.safetensors"
    torch.manual_seed(0)
    save_generator(base, build_generator(lite, load_pretrained=False).state_dict(), lite.to_dict(), half=False)
    result = hint_run(photo_folder, tmp_path / "run", init_generator=str(base), hints_only=True, gan_epochs=0,
                      l1_epochs=1, lr=1e-2)

    before, _, _ = load_generator(base)
    after, config, _ = load_generator(result.generator_path)
    assert config["hints"] is True
    changed = {name for name in after if name not in before or not torch.equal(after[name].float(),
                                                                                before[name].half().float())}
    assert changed and all(name.startswith(("hint_in.", "hint_blend.")) for name in changed)  # BatchNorm too
    tuned = Colorizer.load(result.generator_path, device="cpu")
    L = torch.rand(2, 1, 64, 64) * 2 - 1
    assert torch.equal(tuned.predict_ab(L, hints=torch.zeros(2, 3, 64, 64)), tuned.predict_ab(L))  # no hints: as before


def test_hints_only_needs_a_pretrained_encoder(tmp_path, photo_folder, plain_weights):
    with pytest.raises(ValueError, match="pretrained encoder"):
        hint_run(photo_folder, tmp_path / "run", init_generator=str(plain_weights), hints_only=True)
