"""Speed figures of the engine, printed (never asserted): `python -m colorizer bench [--quick]`.

- Training images/s of one full D+G step (device-side augmentation and Lab conversion
  included) for the paper's U-Net and the EfficientNet-Lite0 U-Net: on CUDA at batch 16
  and 64, fp32 against bf16 + channels_last (+ torch.compile unless --quick); on a CPU a
  small-batch figure.
- CPU training images/s of the EfficientNet-Lite0 U-Net's L1 stage at 128 px, batch 16, in each
  mode: the whole network, channels_last, bf16 autocast, a frozen encoder, and the decoder alone on
  cached encoder features (colorizer.feature_cache) with each head and loss of the NoGAN recipe.
- Inference images/s on the GPU at batch 64.
- CPU latency of one 256x256 forward pass of each generator.
- End to end, decode -> colorize -> encode, of a 1024x768 and a 12 MP JPEG (a gray photo,
  and a colour photo that is reduced to its luminance), with the time split per phase.
Weights are random (speed does not depend on them), but the CPU figures also cover the
shipped default model when colorizer/weights/default.safetensors is there.
"""

from __future__ import annotations

import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorizer.color import rgb_to_model_pair
from colorizer.data import Augmentation, augment
from colorizer.hints import truth_hints
from colorizer.inference import Colorizer
from colorizer.model import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator, count_parameters
from colorizer.pix2pix import Pix2Pix
from colorizer.train_config import TrainConfig

GENERATORS = {
    "paper U-Net": GeneratorConfig(),
    "EfficientNet-Lite0 U-Net": GeneratorConfig(arch="efficientnet_lite0"),
}
PHOTO_SIZES = {"1024x768": (1024, 768), "12 MP": (4000, 3000)}
SHIPPED_WEIGHTS = Path(__file__).parent / "weights" / "default.safetensors"


def run(quick: bool = False) -> dict:
    """Print every figure; returns them as a dict."""
    figures: dict = {}
    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    name = torch.cuda.get_device_name(device) if cuda else f"CPU ({torch.get_num_threads()} threads)"
    print(f"torch {torch.__version__}; training and GPU figures on {name}" + ("" if cuda else "; CUDA absent"))

    print("\ntraining, one D+G step (images/s):")
    for label, config in GENERATORS.items():
        if cuda:
            modes = [("fp32", False, False), ("bf16+channels_last", True, False)]
            if not quick:
                modes.append(("bf16+channels_last+compile", True, True))
            for batch in (16, 64):
                for mode, fast, compiled in modes:
                    rate = training_rate(config, batch, device, fast=fast, compiled=compiled, steps=5 if quick else 20)
                    figures[f"train/{label}/{mode}/batch{batch}"] = rate
                    print(f"  {label:26s} batch {batch:3d} {mode:28s} {rate:9.1f}")
        else:
            batch = 2
            rate = training_rate(config, batch, device, fast=False, compiled=False, steps=1 if quick else 3)
            figures[f"train/{label}/cpu/batch{batch}"] = rate
            print(f"  {label:26s} batch {batch:3d} cpu fp32 {rate:9.2f}")

    print(f"\nCPU training, EfficientNet-Lite0 U-Net L1 stage, 128 px, batch 16, "
          f"{torch.get_num_threads()} threads (images/s):")
    for mode, rate in cpu_training_rates(steps=2 if quick else 6).items():
        figures[f"cpu_train128/{mode}"] = rate
        print(f"  {mode:52s} {rate:7.1f}")

    if cuda:
        print("\ninference on the GPU, bf16, batch 64, 256x256 (images/s):")
        for label, config in GENERATORS.items():
            rate = inference_rate(config, device, batch=64, steps=5 if quick else 20)
            figures[f"infer/{label}/gpu/batch64"] = rate
            print(f"  {label:26s} {rate:9.0f}")

    print(f"\nCPU, one 256x256 forward pass ({torch.get_num_threads()} threads, median):")
    cpu_colorizers = {label: random_colorizer(config, "cpu") for label, config in GENERATORS.items()}
    if SHIPPED_WEIGHTS.is_file():  # what a fresh install actually runs
        shipped = Colorizer.load(SHIPPED_WEIGHTS, device="cpu")
        cpu_colorizers["shipped default model"] = shipped
    for label, colorizer in cpu_colorizers.items():
        seconds = forward_latency(colorizer, repeats=3 if quick else 10)
        figures[f"cpu_forward/{label}"] = seconds
        print(f"  {label:26s} {seconds * 1000:7.0f} ms  ({count_parameters(colorizer.generator) / 1e6:.1f}M params)")
        if colorizer.takes_hints:  # the hint convolution and the spread colours' blend cost this much more
            hints = truth_hints(torch.rand(1, 2, 256, 256) * 2 - 1, 10, torch.Generator().manual_seed(0))
            seconds = forward_latency(colorizer, repeats=3 if quick else 10, hints=hints)
            figures[f"cpu_forward/{label}/10 hints"] = seconds
            print(f"  {'  with 10 colour hints':26s} {seconds * 1000:7.0f} ms")

    print("\nCPU, end to end decode -> colorize -> encode (JPEG q90; min of runs):")
    with tempfile.TemporaryDirectory() as folder:
        photos = make_test_photos(Path(folder))
        for label, colorizer in cpu_colorizers.items():
            for photo_name, path in photos.items():
                timing = end_to_end(colorizer, path, repeats=2 if quick else 5)
                figures[f"e2e/{label}/{photo_name}"] = timing
                print(f"  {label:26s} {photo_name:22s} {timing['total']:6.3f} s  (decode {timing['decode']:.3f}, "
                      f"colorize {timing['colorize']:.3f}, encode {timing['encode']:.3f})")
    return figures


# --------------------------------------------------------------------------------------


def training_rate(config: GeneratorConfig, batch: int, device: torch.device, fast: bool, compiled: bool,
                  steps: int, size: int = 256) -> float:
    """Images/s of Pix2Pix.optimize, augmentation and Lab conversion included, on a synthetic
    uint8 batch already on the device. fast=False is plain PyTorch: fp32, contiguous."""
    torch.manual_seed(0)
    model = Pix2Pix(build_generator(config, load_pretrained=False), build_discriminator(DiscriminatorConfig()),
                    TrainConfig(generator=config, compile=compiled), device, mixed_precision=fast)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = fast  # fp32 means fp32: no TF32 matmuls or convolutions
        torch.backends.cudnn.allow_tf32 = fast
        torch.backends.cudnn.benchmark = True
    images = torch.randint(0, 256, (batch, 3, size, size), dtype=torch.uint8, device=device)
    augmentation = Augmentation()

    def step():
        model.optimize(*rgb_to_model_pair(augment(images, augmentation)))

    for _ in range(3 if device.type == "cuda" else 1):  # warm-up (cuDNN autotuning, compilation)
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def cpu_training_rates(steps: int, batch: int = 16, size: int = 128) -> dict[str, float]:
    """Images/s of one optimisation step of the Lite0 U-Net (the shipped one when present) on the CPU."""
    import torch.nn.functional as F

    from colorizer.checkpoint import save_generator
    from colorizer.nogan import NoGANConfig, Recipe

    torch.manual_seed(0)
    start_from = (Colorizer.load(SHIPPED_WEIGHTS, device="cpu") if SHIPPED_WEIGHTS.is_file()
                  else random_colorizer(GeneratorConfig(arch="efficientnet_lite0"), "cpu"))
    generator, config = start_from.generator.to(memory_format=torch.contiguous_format), start_from.config
    L = torch.rand(batch, 1, size, size) * 2 - 1
    ab = torch.rand(batch, 2, size, size) * 0.6 - 0.3
    rates = {}

    def timed(step) -> float:
        step()  # warm-up
        start = time.perf_counter()
        for _ in range(steps):
            step()
        return batch * steps / (time.perf_counter() - start)

    def whole_network(channels_last: bool, bf16: bool, frozen_encoder: bool):
        net = build_generator(config, load_pretrained=False)
        net.load_state_dict(generator.state_dict())
        net.train()
        if channels_last:
            net = net.to(memory_format=torch.channels_last)
        net.encoder.requires_grad_(not frozen_encoder)
        optimizer = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=2e-4, betas=(0.5, 0.999))
        x = L.contiguous(memory_format=torch.channels_last) if channels_last else L

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                if frozen_encoder:
                    with torch.no_grad():
                        features = net.encoder(x)
                    out = torch.tanh(net.decode(features, x))
                else:
                    out = net(x)
                loss = F.l1_loss(out.float(), ab)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return step

    rates["whole network, fp32, contiguous"] = timed(whole_network(False, False, False))
    rates["whole network, fp32, channels_last"] = timed(whole_network(True, False, False))
    rates["whole network, bf16 autocast, channels_last"] = timed(whole_network(True, True, False))
    rates["frozen encoder, fp32, channels_last"] = timed(whole_network(True, False, True))
    with tempfile.TemporaryDirectory() as folder:
        init = Path(folder) / "init.safetensors"
        save_generator(init, generator.state_dict(), config.to_dict())
        with torch.no_grad():
            features = [f.contiguous(memory_format=torch.channels_last) for f in generator.eval().encoder(L)]
        modes = {"cached encoder features, tanh head, L1": dict(head="tanh", lambda_feature=0.0),
                 "cached encoder features, bins head, CE + L1": dict(head="bins", lambda_feature=0.0),
                 "cached encoder features, bins head, CE + L1 + feature loss": dict(head="bins", lambda_feature=0.1)}
        for mode, overrides in modes.items():
            recipe = Recipe(NoGANConfig(train_dir=folder, init_generator=str(init), out_dir=folder, **overrides))
            recipe.decoder.train()

            def step():
                loss, _, _ = recipe.generator_losses(recipe.predict(features, L), L, ab)
                recipe.opt_g.zero_grad(set_to_none=True)
                loss.backward()
                recipe.opt_g.step()
                recipe.update_ema(step=1000)
            rates[mode] = timed(step)
    return {mode: round(rate, 1) for mode, rate in rates.items()}


def inference_rate(config: GeneratorConfig, device: torch.device, batch: int, steps: int) -> float:
    """Images/s of the generator alone (bf16, channels_last, inference mode), as Colorizer runs it."""
    colorizer = random_colorizer(config, device)
    L = (torch.rand(batch, 1, 256, 256, device=device) * 2 - 1).contiguous(memory_format=torch.channels_last)

    def forward():
        with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16):
            colorizer.generator(L)

    for _ in range(3):
        forward()
    _sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        forward()
    _sync(device)
    return batch * steps / (time.perf_counter() - start)


def forward_latency(colorizer: Colorizer, repeats: int, hints: torch.Tensor | None = None) -> float:
    L = torch.rand(1, 1, 256, 256) * 2 - 1
    colorizer.predict_ab(L, hints=hints)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        colorizer.predict_ab(L, hints=hints)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def end_to_end(colorizer: Colorizer, path: Path, repeats: int) -> dict:
    """Seconds to decode the JPEG, colorize it at full resolution and encode the result."""
    data = path.read_bytes()
    best = None
    for _ in range(repeats + 1):  # the first run warms up
        start = time.perf_counter()
        image = Image.open(io.BytesIO(data))
        image.load()
        decoded = time.perf_counter()
        result = colorizer.colorize(image)
        colorized = time.perf_counter()
        result.save(io.BytesIO(), "JPEG", quality=90)
        encoded = time.perf_counter()
        timing = {"total": encoded - start, "decode": decoded - start, "colorize": colorized - decoded,
                  "encode": encoded - colorized}
        if best is None or timing["total"] < best["total"]:
            best = timing
    return {k: round(v, 4) for k, v in best.items()}


def random_colorizer(config: GeneratorConfig, device) -> Colorizer:
    torch.manual_seed(0)
    return Colorizer(build_generator(config, load_pretrained=False), config, device=device)


def make_test_photos(folder: Path) -> dict[str, Path]:
    """Photo-like JPEGs (smooth shapes, edges and grain): gray ones and colour ones."""
    rng = np.random.default_rng(0)
    paths = {}
    for size_name, (width, height) in PHOTO_SIZES.items():
        coarse = rng.integers(0, 256, (height // 48 + 2, width // 48 + 2, 3), dtype=np.uint8)
        base = np.asarray(Image.fromarray(coarse).resize((width, height), Image.BICUBIC), dtype=np.float32)
        grain = rng.normal(0, 8, (height, width, 1)).astype(np.float32)
        colour = Image.fromarray(np.clip(base + grain, 0, 255).astype(np.uint8))
        for kind, image in (("gray", colour.convert("L")), ("colour", colour)):
            path = folder / f"{kind}-{size_name.replace(' ', '')}.jpg"
            image.save(path, "JPEG", quality=90)
            paths[f"{size_name} {kind} JPEG"] = path
    return paths


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
