"""`default_model.py train`: one command chains the default recipe's stages in a run folder that a
rerun continues, then scores the result and draws its sheet (the --smoke chain, on the CPU)."""

import json

import pytest

import torch

from colorizer.checkpoint import load_generator, save_generator
from colorizer.inference import Colorizer
from scripts.tools import default_model
from tests.colorizer.conftest import colour_photo
from tests.factories import tiny_generator_bytes


def train(photo_tree, run, *extra):
    return default_model.main(["train", "--photos", str(photo_tree / "train"), "--out", str(run), "--smoke", *extra])


@pytest.fixture(scope="module")
def trained_run(photo_tree, tmp_path_factory):
    """A smoke run of the training stages alone (no validation photos, no sheet)."""
    run = tmp_path_factory.mktemp("default") / "run"
    assert train(photo_tree, run) == 0
    return run


@pytest.mark.slow
def test_the_chain_ends_with_a_generator_at_the_chosen_temperature(trained_run):
    progress = json.loads((trained_run / "progress.json").read_text())

    assert list(progress) == ["l1", "nogan", "temperature", "hints"]
    chosen = progress["temperature"]["temperature"]
    assert chosen in (0.38, 1.0) and set(json.loads((trained_run / "temperatures.json").read_text())["methods"]) == {
        "T=0.38", "T=1"}
    _, config, _ = load_generator(trained_run / "generator.safetensors")
    assert config["head"] == "bins" and config["temperature"] == chosen
    colour = Colorizer.load(trained_run / "generator.safetensors", device="cpu").colorize(colour_photo(1, (40, 32)))
    assert colour.size == (40, 32)
    hinted = Colorizer.load(trained_run / "generator.safetensors", device="cpu")
    assert hinted.takes_hints and hinted.colorize(colour_photo(1, (40, 32)), hints=[(5, 5, (200, 30, 40))])


@pytest.mark.slow
def test_a_rerun_skips_finished_stages_and_adds_the_scores_and_the_sheet(trained_run, photo_tree, capsys):
    capsys.readouterr()
    assert train(photo_tree, trained_run, "--val-photos", str(photo_tree / "val"),
                 "--bw-samples", str(photo_tree / "bw")) == 0

    out = capsys.readouterr().out
    assert all(f"{stage}: done earlier, skipped" in out for stage in ("l1", "nogan", "temperature", "hints"))
    metrics = json.loads((trained_run / "model_metrics.json").read_text())
    assert metrics["chosen"] == "default" and list(metrics["rows"]) == ["l1", "default"]
    assert metrics["images"] == 6 and "auc" in metrics["gray"] and "auc" in metrics["rows"]["default"]["metrics"]
    assert "| **default** |" in (trained_run / "model_metrics.md").read_text()
    assert (trained_run / "bw_samples_sheet.png").stat().st_size > 0


@pytest.mark.slow
def test_a_run_folder_continues_only_the_recipe_it_started_with(trained_run, photo_tree, capsys):
    assert train(photo_tree, trained_run, "--l1-epochs", "3") == 2
    assert "l1_epochs differ" in capsys.readouterr().err


@pytest.mark.slow
def test_a_smoke_run_is_never_installed(trained_run, photo_tree, capsys):
    assert train(photo_tree, trained_run, "--val-photos", str(photo_tree / "val"), "--install") == 2
    assert "never installed" in capsys.readouterr().err


def test_install_ships_the_generator_its_metrics_and_its_sheet(tmp_path):
    run, root = tmp_path / "run", tmp_path / "checkout"
    run.mkdir()
    state, config, _ = load_generator(tiny_generator_bytes())
    save_generator(run / "generator.safetensors", state, config,
                   extra={"train_dir": str(tmp_path / "me" / "photos" / "train"), "epochs": 3})
    for name, data in {"model_metrics.json": b"{}", "model_metrics.md": b"# table",
                       "bw_samples_sheet.png": b"png"}.items():
        (run / name).write_bytes(data)

    default_model.install(run, root)

    shipped, shipped_config, extra = load_generator(root / "colorizer" / "weights" / "default.safetensors")
    assert shipped_config == config and all(torch.equal(shipped[key], state[key]) for key in state)
    assert extra == {"train_dir": "photos/train", "epochs": 3}  # no folder of the training machine ships
    assert (root / "docs" / "model_metrics.md").read_bytes() == b"# table"
    assert (root / "docs" / "bw_samples_sheet.png").read_bytes() == b"png"


def test_install_refuses_a_generator_too_big_to_ship(tmp_path, monkeypatch):
    (tmp_path / "generator.safetensors").write_bytes(tiny_generator_bytes())
    monkeypatch.setattr(default_model, "MAX_DEFAULT_BYTES", 3)

    with pytest.raises(ValueError, match="over the"):
        default_model.install(tmp_path, tmp_path / "checkout")
    assert not (tmp_path / "checkout").exists()
