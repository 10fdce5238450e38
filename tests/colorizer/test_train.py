import json

import pytest
import torch
from PIL import Image

from colorizer.checkpoint import load_generator
from colorizer.inference import Colorizer
from colorizer.model import DiscriminatorConfig, GeneratorConfig
from colorizer.train import TrainConfig, train

from .conftest import TINY, colour_photo


def tiny_config(train_dir, out_dir, **overrides) -> TrainConfig:
    settings = dict(train_dir=str(train_dir), out_dir=str(out_dir), image_size=64, batch_size=4, val_split=0.25,
                    generator=TINY, discriminator=DiscriminatorConfig(base_width=8), l1_epochs=3, gan_epochs=2,
                    num_workers=0, log_every=1, progress_bar=False, sample_count=3)
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    for i in range(12):
        colour_photo(i).save(folder / f"{i:02d}.png")
    colour_photo(99).convert("L").save(folder / "gray.png")  # skipped, and reported
    return folder


@pytest.fixture(scope="module")
def run(photos, tmp_path_factory):
    """One tiny run (9 training photos: 2 steps per epoch; 3 L1 epochs, then 2 GAN epochs)."""
    events = []
    out_dir = tmp_path_factory.mktemp("run")
    result = train(tiny_config(photos, out_dir), on_progress=events.append)
    return result, events, out_dir


@pytest.mark.slow
def test_training_lowers_the_l1_loss(run):
    result, _, _ = run
    l1 = [epoch["losses"]["G_L1"] for epoch in result.history]
    assert len(result.history) == 5 and result.global_step == 10
    assert l1[2] < l1[0] * 0.95


def test_the_stages_run_in_order_with_the_gan_losses_only_in_stage_two(run):
    result, _, _ = run
    assert [e["stage"] for e in result.history] == ["l1", "l1", "l1", "gan", "gan"]
    assert [e["stage_epoch"] for e in result.history] == [1, 2, 3, 1, 2]
    assert result.history[0]["losses"]["D_real"] is None
    assert all(result.history[-1]["losses"][k] > 0 for k in ("D_real", "D_fake", "G_GAN", "G_L1"))


def test_progress_events_follow_the_schema(run):
    _, events, _ = run
    kinds = [e["kind"] for e in events]
    assert kinds.count("epoch") == 5 and kinds.count("step") == 10 and kinds[-1] == "done"
    step = next(e for e in events if e["kind"] == "step" and e["stage"] == "gan")
    assert set(step) == {"kind", "stage", "epoch", "epochs", "step", "steps_per_epoch", "global_step", "total_steps",
                         "losses", "eta_seconds", "images_per_second"}
    assert step["epochs"] == 2 and step["steps_per_epoch"] == 2 and step["total_steps"] == 10
    assert set(step["losses"]) == {"D_real", "D_fake", "G_GAN", "G_L1"}
    epoch = next(e for e in events if e["kind"] == "epoch")
    assert set(epoch["val"]) == {"l1", "psnr", "ab_error"}
    assert Image.open(epoch["sample_grid"]).size[1] == 3 * (64 + 2)  # gray / generated / truth rows
    assert (epoch["checkpoint"] and json.loads((run[2] / "checkpoints" / "state.json").read_text()))
    assert events[-1]["data"]["train"]["skipped"]["grayscale"] == 1
    json.dumps(events)  # everything a web socket can carry


def test_the_run_folder_holds_logs_curves_samples_and_the_generator(run):
    result, _, out_dir = run
    lines = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
    assert [line["kind"] for line in lines].count("step") == 10
    assert Image.open(result.curves).size[0] > 600
    assert sorted(p.name for p in (out_dir / "samples").iterdir()) == [f"epoch_00{i}.png" for i in range(1, 6)]
    state, config, extra = load_generator(result.generator_path)
    assert config == TINY.to_dict() and extra["global_step"] == 10 and extra["val"] == result.val_metrics
    assert Colorizer.load(result.generator_path, device="cpu").colorize(colour_photo(0).convert("L")).size == (64, 64)
    # The checkpoint's files and state.json's keys are a format: run folders written by earlier versions resume.
    state = json.loads((out_dir / "checkpoints" / "state.json").read_text())
    assert list(state) == ["epoch", "step_in_epoch", "global_step", "history", "epoch_sums", "config"]
    names = sorted(p.name for p in (out_dir / "checkpoints").iterdir())
    assert names == ["discriminator.safetensors", "generator.safetensors", "generator_ema.safetensors",
                     "optimizer_D.json", "optimizer_D.safetensors", "optimizer_G.json", "optimizer_G.safetensors",
                     "rng.json", "rng.safetensors", "state.json"]


@pytest.mark.slow
def test_a_cancelled_run_resumes_where_it_stopped_and_ends_like_an_uninterrupted_one(photos, tmp_path):
    straight = train(tiny_config(photos, tmp_path / "straight", l1_epochs=1, gan_epochs=2))

    polls = iter(range(100))
    events = []
    cancelled = train(tiny_config(photos, tmp_path / "resumed", l1_epochs=1, gan_epochs=2),
                      on_progress=events.append, should_stop=lambda: next(polls) >= 2)
    assert cancelled.cancelled and cancelled.global_step == 3 and events[-1]["kind"] == "cancelled"
    state = json.loads((tmp_path / "resumed" / "checkpoints" / "state.json").read_text())
    assert (state["epoch"], state["step_in_epoch"], state["global_step"]) == (1, 1, 3)

    resumed = train(tiny_config(photos, tmp_path / "resumed", l1_epochs=1, gan_epochs=2))
    assert not resumed.cancelled and resumed.global_step == straight.global_step == 6
    assert [e["losses"] for e in resumed.history] == [e["losses"] for e in straight.history]
    a, _, _ = load_generator(straight.generator_path)
    b, _, _ = load_generator(resumed.generator_path)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_max_steps_stops_mid_epoch_and_still_scores(photos, tmp_path):
    result = train(tiny_config(photos, tmp_path / "short", max_steps=3, ema_decay=0, cache_images=True))
    assert result.global_step == 3 and not result.cancelled
    assert set(result.val_metrics) == {"l1", "psnr", "ab_error"} and result.sample_grid.endswith("final.png")


def test_fine_tuning_starts_from_a_generator_file_and_keeps_its_config(run, photos, tmp_path):
    source, _, _ = run
    other = GeneratorConfig(base_width=16, num_downs=5)
    result = train(tiny_config(photos, tmp_path / "finetune", generator=other, init_generator=source.generator_path,
                               l1_epochs=0, gan_epochs=1))
    _, config, extra = load_generator(result.generator_path)
    assert config == TINY.to_dict() and extra["init_generator"] == source.generator_path


def test_a_folder_without_colour_photos_is_a_clear_error(tmp_path):
    (tmp_path / "gray").mkdir()
    colour_photo(0).convert("L").save(tmp_path / "gray" / "a.png")
    with pytest.raises(ValueError, match="no usable colour photos.*1 grayscale"):
        train(tiny_config(tmp_path / "gray", tmp_path / "out"))


def test_image_size_must_suit_the_generator(photos, tmp_path):
    with pytest.raises(ValueError, match="multiple of 32"):
        train(tiny_config(photos, tmp_path / "out", image_size=48))


@pytest.mark.slow
def test_checkpoints_can_be_spaced_out_but_the_last_epoch_always_saves(photos, tmp_path):
    events = []
    train(tiny_config(photos, tmp_path, l1_epochs=1, gan_epochs=2, checkpoint_every=2), on_progress=events.append)

    epochs = [event for event in events if event["kind"] == "epoch"]
    assert ["checkpoint" in event for event in epochs] == [False, True, True]
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == 3


@pytest.mark.slow
def test_a_max_steps_stop_on_an_epoch_boundary_still_checkpoints(photos, tmp_path):
    # 2 steps per epoch: max_steps=2 ends exactly after epoch 1, which checkpoint_every=2 would skip.
    train(tiny_config(photos, tmp_path, l1_epochs=1, gan_epochs=2, checkpoint_every=2, max_steps=2))
    state = json.loads((tmp_path / "checkpoints" / "state.json").read_text())
    assert state["global_step"] == 2 and state["epoch"] == 1


def test_the_run_reports_what_the_photo_scan_skipped(run):
    result, events, out_dir = run
    assert result.data["train"]["skipped"]["grayscale"] == 1
    assert "1 grayscale" in result.data["train"]["summary"]
    first = json.loads((out_dir / "log.jsonl").read_text().splitlines()[0])
    assert first["kind"] == "data" and first["train"]["kept"] == 12


@pytest.mark.slow
@pytest.mark.parametrize("arch, expected", [("unet", False), ("efficientnet_lite0", True)])
def test_cpu_training_uses_channels_last_where_it_pays(arch, expected):
    from colorizer.model import build_discriminator, build_generator
    from colorizer.pix2pix import Pix2Pix

    config = TINY if arch == "unet" else GeneratorConfig(arch=arch, decoder_widths=(16,) * 5)
    model = Pix2Pix(build_generator(config, load_pretrained=False), build_discriminator(DiscriminatorConfig(base_width=8)),
                    TrainConfig(generator=config), torch.device("cpu"))
    assert model.channels_last is expected
    weight = next(p for p in model.G.parameters() if p.dim() == 4 and p.shape[1] > 1 and p.shape[2] > 1)
    assert weight.is_contiguous(memory_format=torch.channels_last) is expected
    losses = model.optimize(torch.rand(2, 1, 64, 64) * 2 - 1, torch.rand(2, 2, 64, 64) * 2 - 1)
    assert torch.isfinite(losses).all()


@pytest.mark.slow
def test_a_colour_classification_generator_fine_tunes_and_keeps_its_head(photos, tmp_path):
    from colorizer.checkpoint import save_generator
    from colorizer.model import build_generator

    bins = GeneratorConfig(arch="efficientnet_lite0", decoder_widths=(16, 8, 8, 8, 8), head="bins", temperature=0.3)
    torch.manual_seed(0)
    start = tmp_path / "bins.safetensors"
    save_generator(start, build_generator(bins, load_pretrained=False).state_dict(), bins.to_dict())
    result = train(tiny_config(photos, tmp_path / "finetune", init_generator=str(start), l1_epochs=1, gan_epochs=1))
    _, config, _ = load_generator(result.generator_path)
    assert config["head"] == "bins" and config["temperature"] == 0.3
    colour = Colorizer.load(result.generator_path, device="cpu").colorize(Image.new("L", (64, 64), 128))
    assert colour.size == (64, 64)


def test_the_stages_cover_the_epochs_in_order():
    from colorizer.train import stages

    l1, gan = stages(TrainConfig(l1_epochs=2, gan_epochs=3))
    assert (l1.name, l1.adversarial, gan.name, gan.adversarial) == ("l1", False, "gan", True)
    assert [gan.epoch_in_stage(epoch) for epoch in range(2, 5)] == [1, 2, 3] and l1.epoch_in_stage(1) == 2


def test_a_state_json_of_any_version_reads_into_the_train_state():
    from colorizer.train import TrainState

    state = TrainState.from_dict({"epoch": 2, "step_in_epoch": 1, "global_step": 5, "history": [{"epoch": 1}],
                                  "epoch_sums": [1.0, 2.0, 3.0, 4.0], "config": {"lr": 1.0}})
    assert state == TrainState(2, 1, 5, [{"epoch": 1}], [1.0, 2.0, 3.0, 4.0])
    assert TrainState.from_dict({"epoch": 1, "global_step": 2}).epoch_sums == [0.0] * 4
