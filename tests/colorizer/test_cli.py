"""The command line, run as users run it: in a subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from colorizer.__main__ import main

from .conftest import colour_photo

ROOT = Path(__file__).resolve().parents[2]


def cli(*args):
    return subprocess.run([sys.executable, "-m", "colorizer", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.slow
def test_colorize_writes_a_full_resolution_colour_file(tmp_path, tiny_weights):
    colour_photo(0, (70, 50)).convert("L").save(tmp_path / "old.png")
    done = cli("colorize", tmp_path / "old.png", tmp_path / "new.jpg", "--weights", tiny_weights, "--seed", 3)
    assert done.returncode == 0, done.stderr
    result = Image.open(tmp_path / "new.jpg")
    assert result.size == (70, 50) and result.mode == "RGB"


@pytest.mark.slow
def test_colorize_without_weights_says_what_to_do(tmp_path):
    colour_photo(0).save(tmp_path / "old.png")
    done = cli("colorize", tmp_path / "old.png", tmp_path / "new.png", "--weights", tmp_path / "missing.safetensors")
    assert done.returncode == 2
    assert "no generator weights" in done.stderr and "--weights" in done.stderr


@pytest.mark.slow
def test_eval_prints_a_table_and_writes_json(tmp_path, photo_folder, tiny_weights):
    done = cli("eval", "--weights", tiny_weights, "--data", photo_folder, "--baseline", "gray", "--no-fid",
               "--limit", 3, "--json", tmp_path / "scores.json")
    assert done.returncode == 0, done.stderr
    assert "PSNR" in done.stdout and "gray" in done.stdout
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["images"] == 3 and "psnr" in scores["gray"]


@pytest.mark.slow
def test_train_then_export_through_the_cli_entry_point(tmp_path, photo_folder, capsys):
    code = main(["train", "--train-dir", str(photo_folder), "--out-dir", str(tmp_path / "run"), "--image-size", "64",
                 "--base-width", "8", "--num-downs", "5", "--batch-size", "4", "--l1-epochs", "1", "--gan-epochs", "1",
                 "--num-workers", "0", "--no-progress"])
    assert code == 0 and json.loads(capsys.readouterr().out)["global_step"] == 4  # 9 photos + 1 held out
    code = main(["export", "--checkpoint", str(tmp_path / "run"), "--out", str(tmp_path / "model.safetensors")])
    assert code == 0
    from colorizer.checkpoint import load_generator

    state, config, extra = load_generator(tmp_path / "model.safetensors")
    assert config["base_width"] == 8 and extra["ema"] is True and extra["global_step"] == 4
    assert main(["export", "--checkpoint", str(tmp_path / "run" / "checkpoints"), "--no-ema",
                 "--out", str(tmp_path / "live.safetensors")]) == 0
    live, _, extra = load_generator(tmp_path / "live.safetensors")
    assert extra["ema"] is False and any(not torch.equal(live[k], state[k]) for k in state)


def test_export_of_a_folder_without_checkpoint_fails_cleanly(tmp_path, capsys):
    assert main(["export", "--checkpoint", str(tmp_path), "--out", str(tmp_path / "x.safetensors")]) == 2
    assert "no training checkpoint" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["colorize"], ["eval", "--weights", "w"]])
def test_missing_arguments_are_usage_errors(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


@pytest.mark.slow
def test_eval_scores_a_folder_of_predictions(tmp_path, photo_folder):
    for path in sorted(photo_folder.rglob("*.png")):
        target = tmp_path / "predictions" / path.relative_to(photo_folder).with_suffix(".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.open(path).save(target, quality=90)
    done = cli("eval", "--predictions", tmp_path / "predictions", "--data", photo_folder, "--baseline", "gray",
               "--no-fid", "--json", tmp_path / "scores.json")
    assert done.returncode == 0, done.stderr
    scores = json.loads((tmp_path / "scores.json").read_text())
    assert scores["images"] == 10 and scores["model"]["auc"] > 0.95 > scores["gray"]["auc"]
