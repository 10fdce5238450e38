"""`default_model.py train --tiny`: every recipe end to end on the CPU, and the layout that comes back."""

import json
import tarfile

import pytest
from PIL import Image

from colorizer.checkpoint import load_generator
from colorizer.inference import Colorizer
from scripts.tools.default_model import RECIPES
from scripts.tools.model_pipeline.device_train import ensure_packages, fit_predictions
from scripts.tools.model_pipeline.limits import join_parts, return_problems, sha256_of, split_file
from scripts.tools.model_pipeline.recipes import Stage, split_seconds, tiny


def test_tiny_run_trains_every_row_and_returns_what_fits_the_device_limits(device_run):
    code, out = device_run
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "row2.tar", "row3.safetensors.part0", "row3.tar", "row4.safetensors.part0", "row4.tar",
        "row5.safetensors.part0", "row5.tar", "summary.json"]
    assert return_problems(out) == []
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["rows"]) == ["row2", "row3", "row4", "row5"]
    assert summary["seconds"] < summary["budget_seconds"]
    for name, recipe in zip(summary["rows"], RECIPES):
        row = summary["rows"][name]
        assert [s["kind"] for s in row["stages"]] == [s.kind for s in recipe.stages]
        assert all(not s["stopped_at_deadline"] for s in row["stages"])
        assert all(s["global_step"] == 2 for s in row["stages"] if s["kind"] != "nogan")
    nogan = summary["rows"]["row5"]["stages"][1]
    assert nogan["generator"] == "generator_gan_00002.safetensors" and nogan["global_step"] > 4


def test_rows_without_weights_bring_every_val_prediction_and_all_rows_their_logs(device_run):
    _, out = device_run
    with tarfile.open(out / "row2.tar") as tar:
        names = set(tar.getnames())
        with Image.open(tar.extractfile("predictions/a/01.jpg")) as prediction:
            assert prediction.size == (64, 64) and prediction.mode == "RGB"
    assert {f"predictions/{k}/{i:02d}.jpg" for k, i in [("a", 1), ("a", 3), ("a", 5), ("b", 0), ("b", 2), ("b", 4)]
            } <= names
    assert {"row.json", "0-gan/log.jsonl", "0-gan/curves.png", "0-gan/samples.jpg"} <= names
    with tarfile.open(out / "row3.tar") as tar:
        names = set(tar.getnames())
        row = json.load(tar.extractfile("row.json"))
    assert {"0-l1/log.jsonl", "1-gan/log.jsonl", "1-gan/samples.jpg"} <= names
    assert not any(name.startswith("predictions/") for name in names)
    assert len(row["stages"][0]["history"]) == 0 and row["generator"]["arch"] == "efficientnet_lite0"


def test_returned_weights_join_into_a_generator_that_names_its_recipe(device_run, tmp_path):
    _, out = device_run
    summary = json.loads((out / "summary.json").read_text())
    weights = join_parts(out / "row4.safetensors", tmp_path / "row4.safetensors",
                         summary["rows"]["row4"]["weights"]["sha256"])
    _, config, extra = load_generator(weights)
    assert config["encoder_weights"] == "imagenet" and config["decoder_widths"] == [16] * 5
    assert extra["recipe"] == "row4" and [s["kind"] for s in extra["stages"]] == ["l1", "gan"]
    assert extra["ema"] is True
    colour = Colorizer.load(weights, device="cpu").colorize(Image.new("L", (64, 64), 128))
    assert colour.size == (64, 64)


def test_each_row_and_stage_gets_its_share_of_the_time_left():
    assert split_seconds(100, [0.40, 0.28, 0.32]) == pytest.approx(40)
    assert split_seconds(100, [0.28, 0.32]) == pytest.approx(100 * 0.28 / 0.60)  # what row 2 left over flows on
    assert split_seconds(-5, [1.0]) == 0.0


def test_recipes_are_the_issues_rows():
    paper, pretrained, improved, nogan = RECIPES
    assert paper.generator["arch"] == "unet" and paper.max_images == 4000 and not paper.returns_weights
    assert [(s.kind, s.epochs, s.batch_size, s.lr, s.lambda_l1) for s in paper.stages] == [("gan", 45, 16, 2e-4, 100)]
    assert [s.kind for s in pretrained.stages] == ["l1", "gan"] and pretrained.max_images is None
    assert pretrained.generator == {"arch": "efficientnet_lite0", "encoder_weights": "imagenet"}
    assert improved.returns_weights and any(s.ema_decay > 0 for s in improved.stages)
    assert [s.kind for s in nogan.stages] == ["l1", "nogan"] and nogan.returns_weights
    assert tiny(paper).generator == {"arch": "unet", "base_width": 8, "num_downs": 5} and tiny(paper).max_images == 6
    with pytest.raises(ValueError, match="stage kind"):
        Stage("perceptual", share=1, epochs=1)


def test_predictions_drop_jpeg_quality_until_their_tar_fits():
    images = {f"p{i}": Image.effect_noise((64, 64), 60 + i).convert("RGB") for i in range(3)}
    best, files = fit_predictions(images, 10**9)
    size = sum(len(v) for v in files.values())
    quality, files = fit_predictions(images, size - 1)
    assert best == 90 and quality < 90 and sum(len(v) for v in files.values()) < size
    assert sorted(files) == ["predictions/p0.jpg", "predictions/p1.jpg", "predictions/p2.jpg"]
    with pytest.raises(ValueError, match="do not fit"):
        fit_predictions(images, 100)


def test_return_problems_names_what_would_not_come_back(tmp_path):
    for i in range(9):
        (tmp_path / f"f{i}").write_bytes(b"x")
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "deep").write_bytes(b"x")
    (tmp_path / "bad name").write_bytes(b"x")
    problems = " | ".join(return_problems(tmp_path))
    assert "11 files" in problems and "more than 2 folders down" in problems and "bad name has characters" in problems


def test_weight_parts_join_back_and_a_damaged_one_is_caught(tmp_path):
    (tmp_path / "w.bin").write_bytes(bytes(range(40)))
    (tmp_path / "out").mkdir()
    parts = split_file(tmp_path / "w.bin", tmp_path / "out" / "w", part_bytes=16)
    assert [p.name for p in parts] == ["w.part0", "w.part1", "w.part2"] and parts[2].stat().st_size == 8
    digest = sha256_of(tmp_path / "w.bin")
    assert join_parts(tmp_path / "out" / "w", tmp_path / "joined", digest).read_bytes() == bytes(range(40))
    parts[1].write_bytes(b"y" * 16)
    with pytest.raises(ValueError, match="sha256"):
        join_parts(tmp_path / "out" / "w", tmp_path / "joined", digest)
    parts[1].unlink()
    with pytest.raises(ValueError, match="not numbered"):
        join_parts(tmp_path / "out" / "w", tmp_path / "joined")


def test_nothing_is_installed_when_every_module_imports(tmp_path):
    assert ensure_packages(tmp_path) is None  # no wheels needed here: kornia and friends are installed


def test_the_whole_run_keeps_its_budget_each_stage_stopping_at_its_share(pack, tmp_path, monkeypatch):
    """With training faked as "step until told to stop", only the clock decides: rows and stages get
    their shares of the time left and the run ends within the budget."""
    import time

    import colorizer.train
    from colorizer.checkpoint import save_generator
    from scripts.tools.model_pipeline import device_train
    from tests.colorizer.conftest import TINY, tiny_generator

    def step_until_stopped(config, on_progress=None, should_stop=None):
        steps = 0
        while not should_stop():
            time.sleep(0.01)
            steps += 1
        path = f"{config.out_dir}/generator.safetensors"
        save_generator(path, tiny_generator().state_dict(), TINY.to_dict())
        return colorizer.train.TrainResult(generator_path=path, history=[], val_metrics={}, sample_grid=None,
                                           curves=None, checkpoint_dir="", cancelled=True, global_step=steps)

    monkeypatch.setattr(colorizer.train, "train", step_until_stopped)
    monkeypatch.setattr(device_train, "FINAL_RESERVE", 0.3)
    monkeypatch.setattr(device_train, "WEIGHTS_RESERVE", 0.3)
    monkeypatch.setattr(device_train, "PREDICTIONS_RESERVE", 0.6)
    started = time.monotonic()
    # The paper's rows (the nogan stage runs colorizer.nogan, which has its own stop test).
    summary = device_train.train_rows(pack[0], tmp_path / "out", RECIPES[:3], budget_seconds=6.0, tiny_run=True,
                                      work=tmp_path / "work", started=started)
    assert time.monotonic() - started < 6.0 and summary["problems"] == []
    stages = [stage for row in summary["rows"].values() for stage in row["stages"]]
    assert len(stages) == 5 and all(stage["stopped_at_deadline"] for stage in stages)
    assert all(abs(stage["seconds"] - stage["budget_seconds"]) < 0.3 for stage in stages)
    row2, row3, row4 = summary["rows"].values()
    assert row2["budget_seconds"] == pytest.approx((6.0 - 0.3) * 0.40, abs=0.2)
    assert row4["stages"][0]["budget_seconds"] > row4["stages"][1]["budget_seconds"]  # 65% / 35%
