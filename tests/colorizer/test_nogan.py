import json

import numpy as np
import pytest
import torch

from colorizer.checkpoint import save_generator
from colorizer.feature_cache import FeatureCache
from colorizer.inference import Colorizer
from colorizer.model import GeneratorConfig, build_generator
from colorizer.nogan import NoGANConfig, train_nogan

from .conftest import colour_photo

pytestmark = pytest.mark.slow  # every test trains the recipe (make test-fast leaves them out)

# A random-weight Lite0 encoder and a narrow decoder: the recipe's plumbing, not its results.
INIT = GeneratorConfig(arch="efficientnet_lite0", decoder_widths=(16, 8, 8, 8, 8))


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("train")
    for i in range(12):
        colour_photo(i, size=(48, 48)).save(folder / f"{i:02d}.png")
    return folder


@pytest.fixture(scope="module")
def init_weights(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("init") / "init.safetensors"
    save_generator(path, build_generator(INIT).state_dict(), INIT.to_dict())
    return path


def tiny(photos, init_weights, out_dir, **overrides) -> NoGANConfig:
    settings = dict(train_dir=str(photos), init_generator=str(init_weights), out_dir=str(out_dir), image_size=32,
                    variants=2, holdout=2, batch_size=4, generator_epochs=2, critic_steps=2, gan_steps=4,
                    snapshot_every=2, gan_warmup=2, lambda_feature=0.1, log_every=1, checkpoint_every=1, threads=1)
    settings.update(overrides)
    return NoGANConfig(**settings)


@pytest.fixture(scope="module")
def run(photos, init_weights, tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("run")
    state = train_nogan(tiny(photos, init_weights, out_dir), log=lambda line: None)
    return state, out_dir


def test_the_recipe_runs_its_three_phases_and_writes_generators(run):
    state, out_dir = run
    assert state.phase == "done"
    assert [(e["phase"], e.get("epoch"), e.get("step")) for e in state.history] == [
        ("generator", 1, None), ("generator", 2, None), ("gan", None, 2), ("gan", None, 4)]
    names = sorted(p.name for p in out_dir.glob("generator_*.safetensors"))
    assert names == ["generator_epoch_01.safetensors", "generator_epoch_02.safetensors",
                     "generator_gan_00002.safetensors", "generator_gan_00004.safetensors"]
    phases = {json.loads(line)["phase"] for line in (out_dir / "log.jsonl").read_text().splitlines()}
    assert phases == {"generator", "critic", "gan"}


def test_its_generators_colorize_through_the_product_path(run):
    _, out_dir = run
    colorizer = Colorizer.load(out_dir / "generator_gan_00004.safetensors", device="cpu")
    assert colorizer.config.head == "bins" and colorizer.config.temperature == 0.38
    result = colorizer.colorize(colour_photo(50, size=(40, 30)).convert("L"), render_size=64)
    assert result.size == (40, 30) and result.mode == "RGB"


def test_the_frozen_encoder_is_the_starting_one(run, init_weights):
    _, out_dir = run
    start = Colorizer.load(init_weights, device="cpu").generator.encoder.state_dict()
    end = Colorizer.load(out_dir / "generator_gan_00004.safetensors", device="cpu").generator.encoder.state_dict()
    assert all(torch.equal(start[k], end[k]) for k in start)


def test_the_generator_losses_fall_over_pre_training(run):
    _, out_dir = run
    lines = [json.loads(line) for line in (out_dir / "log.jsonl").read_text().splitlines()]
    ce = [line["G_CE"] for line in lines if line["phase"] == "generator" and "step" in line]
    assert ce[-1] < ce[0]


def test_a_finished_run_restarted_does_nothing_more(run, photos, init_weights):
    state, out_dir = run
    before = (out_dir / "log.jsonl").read_text()
    again = train_nogan(tiny(photos, init_weights, out_dir), log=lambda line: None)
    assert again.phase == "done" and (out_dir / "log.jsonl").read_text() == before


def test_a_longer_schedule_continues_from_the_checkpoint(photos, init_weights, tmp_path):
    first = train_nogan(tiny(photos, init_weights, tmp_path, generator_epochs=1, critic_steps=0, gan_steps=0),
                        log=lambda line: None)
    assert first.phase == "done" and len(first.history) == 1
    # Same folder, one more epoch asked for: the run does only that epoch, then ends again.
    (tmp_path / "checkpoints" / "last.json").write_text(
        (tmp_path / "checkpoints" / "last.json").read_text().replace('"phase": "done"', '"phase": "generator"'))
    second = train_nogan(tiny(photos, init_weights, tmp_path, generator_epochs=2, critic_steps=0, gan_steps=0),
                         log=lambda line: None)
    assert [e["epoch"] for e in second.history] == [1, 2]


def test_the_feature_cache_is_reused_and_rebuilt_for_another_encoder(photos, init_weights, tmp_path):
    from colorizer.data import scan_images

    paths = scan_images(photos).paths
    encoder = Colorizer.load(init_weights, device="cpu").generator.encoder
    cache = FeatureCache.build(paths, encoder, tmp_path, size=32, variants=2)
    assert cache.count == 12 and cache.variants == 2
    features, L, ab = cache.batch([0, 5], [0, 1])
    assert [f.shape[1] for f in features] == [16, 24, 40, 112, 1280]
    assert L.shape == (2, 1, 32, 32) and ab.shape == (2, 2, 32, 32)
    with torch.no_grad():
        fresh = encoder.eval()(L[:1])
    assert torch.allclose(fresh[-1], features[-1][:1], atol=0.02)  # fp16 storage
    stamp = (tmp_path / "L.npy").stat().st_mtime_ns
    FeatureCache.build(paths, encoder, tmp_path, size=32, variants=2)
    assert (tmp_path / "L.npy").stat().st_mtime_ns == stamp  # reused untouched
    torch.nn.init.zeros_(encoder.head[0].weight)
    FeatureCache.build(paths, encoder, tmp_path, size=32, variants=2)
    assert (tmp_path / "L.npy").stat().st_mtime_ns != stamp  # another encoder: rebuilt


def test_an_interrupted_cache_build_continues_where_it_stopped(photos, init_weights, tmp_path):
    from colorizer.data import scan_images

    paths = scan_images(photos).paths
    encoder = Colorizer.load(init_weights, device="cpu").generator.encoder
    seen = []

    def stop_after_first_chunk(done, total):
        seen.append(done)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        FeatureCache.build(paths, encoder, tmp_path, size=32, variants=2, progress=stop_after_first_chunk)
    assert seen == [12]  # variant 0 of all 12 photos (one chunk) is stored
    resumed = []
    FeatureCache.build(paths, encoder, tmp_path, size=32, variants=2, progress=lambda done, total: resumed.append(done))
    assert resumed == [24]


def test_a_regression_generator_is_refused_as_a_start_only_when_it_has_no_pretrained_encoder(photos, tmp_path):
    from .conftest import TINY, tiny_generator

    path = tmp_path / "unet.safetensors"
    save_generator(path, tiny_generator().state_dict(), TINY.to_dict())
    with pytest.raises(ValueError, match="pretrained-encoder"):
        train_nogan(tiny(photos, path, tmp_path / "run"), log=lambda line: None)


def test_a_temperature_sweep_scores_each_temperature_on_the_held_out_photos(run, photos, init_weights):
    from colorizer.evaluate import format_table
    from colorizer.nogan_export import sweep_temperatures

    _, out_dir = run
    result = sweep_temperatures(tiny(photos, init_weights, out_dir), out_dir / "generator_epoch_02.safetensors",
                                [0.3, 1.0], fid=False)
    assert {"colorfulness_truth", "T=0.3", "T=1"} <= set(result) and result["images"] == 2
    assert all(0 < result[label]["auc"] <= 1 and result[label]["psnr"] > 0 for label in ("T=0.3", "T=1"))
    assert "T=0.3" in format_table(result)


def test_a_stopped_run_saves_and_the_same_call_continues_it(photos, init_weights, tmp_path):
    polls = []

    def stop_on_the_third_poll():
        polls.append(1)
        return len(polls) == 3

    config = tiny(photos, init_weights, tmp_path, critic_steps=0, gan_steps=0)
    stopped = train_nogan(config, log=lambda line: None, should_stop=stop_on_the_third_poll)
    assert (stopped.phase, stopped.epoch, stopped.step) == ("generator", 1, 0)  # 2 steps of epoch 1, then stopped
    finished = train_nogan(config, log=lambda line: None)
    assert finished.phase == "done" and [e["epoch"] for e in finished.history] == [1, 2]


def test_a_regression_generator_is_scored_once_on_the_same_held_out_photos(run, photos, init_weights):
    from colorizer.nogan_export import sweep_temperatures

    _, out_dir = run
    result = sweep_temperatures(tiny(photos, init_weights, out_dir), init_weights, [0.3, 1.0], fid=False)
    assert "as trained" in result and "T=0.3" not in result


def test_the_temperature_command_writes_the_chosen_temperature_into_a_copy(run, tmp_path):
    from colorizer.__main__ import main
    from colorizer.checkpoint import load_generator

    _, out_dir = run
    source = out_dir / "generator_epoch_02.safetensors"
    assert main(["temperature", "--out-dir", str(out_dir), "--weights", str(source),
                 "--write", "0.25", str(tmp_path / "t.safetensors")]) == 0
    state, config, _ = load_generator(tmp_path / "t.safetensors")
    original, original_config, _ = load_generator(source)
    assert config["temperature"] == 0.25 and original_config["temperature"] == 0.38
    assert all(torch.equal(state[k], original[k]) for k in original)
    assert main(["temperature", "--out-dir", str(out_dir), "--weights", str(source),
                 "--write", "0", str(tmp_path / "bad.safetensors")]) == 2  # refused with a message


def test_a_cache_with_more_variants_serves_fewer_from_memory_without_a_rebuild(photos, init_weights, tmp_path):
    from colorizer.data import scan_images

    paths = scan_images(photos).paths
    encoder = Colorizer.load(init_weights, device="cpu").generator.encoder
    mapped = FeatureCache.build(paths, encoder, tmp_path, size=32, variants=2)
    stamp = (tmp_path / "L.npy").stat().st_mtime_ns
    loaded = FeatureCache.build(paths, encoder, tmp_path, size=32, variants=1, in_memory=True)
    assert (tmp_path / "L.npy").stat().st_mtime_ns == stamp and loaded.variants == 1
    assert loaded.L.base is None and isinstance(mapped.L, np.memmap)  # its own memory, not a view of the map
    a, b = mapped.batch([3, 7], 0), loaded.batch([3, 7], 0)
    assert all(torch.equal(x, y) for x, y in zip(a[0] + [a[1], a[2]], b[0] + [b[1], b[2]]))


def test_export_writes_the_last_checkpoints_live_or_averaged_generator(run, tmp_path):
    from colorizer.__main__ import main
    from colorizer.checkpoint import load_generator

    _, out_dir = run
    assert main(["export", "--checkpoint", str(out_dir), "--out", str(tmp_path / "ema.safetensors")]) == 0
    assert main(["export", "--checkpoint", str(out_dir), "--out", str(tmp_path / "live.safetensors"),
                 "--no-ema"]) == 0
    ema, config, extra = load_generator(tmp_path / "ema.safetensors")
    live, _, _ = load_generator(tmp_path / "live.safetensors")
    assert config["head"] == "bins" and extra["phase"] == "done" and extra["average"] is True
    assert not torch.equal(ema["head.weight"], live["head.weight"])
    assert torch.equal(ema["encoder.stem.0.weight"], live["encoder.stem.0.weight"])


def test_a_hint_capable_start_trains_without_its_hint_inputs(photos, tmp_path):
    """The shipped model takes hints; the recipe caches features of the gray photo alone and leaves them out."""
    hinted = GeneratorConfig.from_dict({**INIT.to_dict(), "hints": True})
    torch.manual_seed(0)
    path = tmp_path / "hinted.safetensors"
    save_generator(path, build_generator(hinted, load_pretrained=False).state_dict(), hinted.to_dict())

    state = train_nogan(tiny(photos, path, tmp_path / "run", generator_epochs=1, critic_steps=1, gan_steps=0),
                        log=lambda line: None)

    written = sorted((tmp_path / "run").glob("generator_*.safetensors"))
    assert state.phase and written
    assert not Colorizer.load(written[-1], device="cpu").takes_hints
