"""Safe weight files: safetensors tensors plus a JSON config in the header metadata.

A generator file is everything inference needs: the tensors, and the config that
rebuilds the network (`colorizer.model.GeneratorConfig`). Nothing here unpickles, so a
file from an untrusted admin upload can at worst fail to parse. Nor can its config make
anyone allocate more than a supported network: `check_generator_header` refuses configs
beyond the supported sizes, counts the parameters of the network on the meta device (no
memory), and checks every tensor's name, dtype and shape against it, before `load_generator`
reads a single tensor.

A training checkpoint is a folder of such files plus state.json (see `save_checkpoint`).
"""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
from pathlib import Path
from typing import BinaryIO

import torch
import torch.nn as nn
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

GENERATOR_FORMAT = "colorizer-generator/1"
MAX_HEADER_BYTES = 16 * 1024 * 1024  # the JSON header of a sane file is a few hundred kB
# The largest generators a file may describe. The paper's U-Net (base_width 64, num_downs 8) has 54.4M
# parameters; a config past these is refused before anything is built.
MAX_GENERATOR_PARAMETERS = 100_000_000
SUPPORTED_RANGES = {"base_width": (1, 128), "num_downs": (5, 10)}  # unet
MAX_DECODER_WIDTH = 1024  # pretrained-encoder U-Nets
TENSOR_DTYPES = {"F16", "BF16", "F32", "F64", "I64"}  # safetensors names of what a generator holds

Source = str | os.PathLike | BinaryIO | bytes


def _read_bytes(source: Source) -> bytes:
    if isinstance(source, bytes):
        return source
    if isinstance(source, (str, os.PathLike)):
        return Path(source).read_bytes()
    source.seek(0)
    return source.read()


def read_header(source: Source) -> dict:
    """Parse only the safetensors JSON header (tensor table + __metadata__)."""
    if isinstance(source, bytes):
        handle: BinaryIO = io.BytesIO(source)
    elif isinstance(source, (str, os.PathLike)):
        handle = open(source, "rb")
    else:
        handle = source
        handle.seek(0)
    try:
        prefix = handle.read(8)
        if len(prefix) != 8:
            raise ValueError("not a safetensors file: too short")
        (length,) = struct.unpack("<Q", prefix)
        if length > MAX_HEADER_BYTES:
            raise ValueError("not a safetensors file: header too large")
        raw = handle.read(length)
        if len(raw) != length:
            raise ValueError("not a safetensors file: truncated header")
        try:
            header = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"not a safetensors file: {exc}") from exc
        if not isinstance(header, dict):
            raise ValueError("not a safetensors file: header is not an object")
        return header
    finally:
        if isinstance(source, (bytes, str, os.PathLike)):
            handle.close()


def read_generator_config(source: Source) -> dict:
    """The generator config stored in a file's metadata; ValueError if it is not a generator file."""
    metadata = read_header(source).get("__metadata__") or {}
    if metadata.get("format") != GENERATOR_FORMAT:
        raise ValueError(f"not a colorizer generator file (format {metadata.get('format')!r})")
    try:
        return json.loads(metadata["config"])
    except (KeyError, json.JSONDecodeError) as exc:
        raise ValueError("generator file has no readable config") from exc


def check_generator_header(header: dict):
    """The GeneratorConfig of a parsed generator header whose config is within the supported sizes and
    whose tensors are exactly the network's (names, shapes, dtypes); ValueError says what is wrong.
    Nothing the size of the network is allocated: it is built on the meta device."""
    from colorizer.model import GeneratorConfig, build_generator, count_parameters

    metadata = header.get("__metadata__") or {}
    if metadata.get("format") != GENERATOR_FORMAT:
        raise ValueError(f"not a colorizer generator file (format {metadata.get('format')!r})")
    try:
        raw = json.loads(metadata["config"])
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError("generator file has no readable config") from exc
    if not isinstance(raw, dict):
        raise ValueError("generator config is not an object")
    try:
        config = GeneratorConfig.from_dict(raw)
    except TypeError as exc:
        raise ValueError(f"generator config is not usable: {exc}") from exc
    _check_config_sizes(config)
    with torch.device("meta"):
        network = build_generator(config, load_pretrained=False)
    parameters = count_parameters(network)
    if parameters > MAX_GENERATOR_PARAMETERS:
        raise ValueError(f"the config describes a network of {parameters:,} parameters; the supported maximum is "
                         f"{MAX_GENERATOR_PARAMETERS:,}")
    expected = {name: tuple(tensor.shape) for name, tensor in network.state_dict().items()}
    tensors = {name: entry for name, entry in header.items() if name != "__metadata__"}
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        raise ValueError(f"the tensors do not match the config: {len(missing)} missing (e.g. {missing[:3]}), "
                         f"{len(unexpected)} unexpected (e.g. {unexpected[:3]})")
    for name, entry in tensors.items():
        if not isinstance(entry, dict) or entry.get("dtype") not in TENSOR_DTYPES:
            raise ValueError(f"tensor {name} has an unsupported type")
        if not isinstance(entry.get("shape"), list) or tuple(entry["shape"]) != expected[name]:
            raise ValueError(f"tensor {name} has shape {entry.get('shape')}; the config needs {list(expected[name])}")
    return config


def _check_config_sizes(config) -> None:
    def whole(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if (config.in_channels, config.out_channels) != (1, 2):
        raise ValueError("a generator maps L (1 channel) to a/b (2 channels)")
    if not (isinstance(config.dropout, (int, float)) and 0 <= config.dropout < 1):
        raise ValueError("dropout must be at least 0 and below 1")
    if config.arch == "unet":
        for name, (low, high) in SUPPORTED_RANGES.items():
            value = getattr(config, name)
            if not whole(value) or not low <= value <= high:
                raise ValueError(f"{name}={value!r} is beyond the supported sizes ({low} to {high})")
    elif not all(whole(width) and 1 <= width <= MAX_DECODER_WIDTH for width in config.decoder_widths):
        raise ValueError(f"decoder_widths must be whole numbers from 1 to {MAX_DECODER_WIDTH}")


def save_generator(destination: str | os.PathLike | BinaryIO, state_dict: dict[str, torch.Tensor], config: dict,
                   extra: dict | None = None, half: bool = True) -> None:
    """Write generator weights (fp16 by default: half the size, no visible loss) with their config."""
    tensors = {}
    for key, tensor in state_dict.items():
        tensor = tensor.detach().to("cpu").contiguous()
        if half and tensor.is_floating_point():
            tensor = tensor.to(torch.float16)
        tensors[key] = tensor
    metadata = {"format": GENERATOR_FORMAT, "config": json.dumps(config), "extra": json.dumps(extra or {})}
    payload = save_safetensors_bytes(tensors, metadata=metadata)
    if isinstance(destination, (str, os.PathLike)):
        _write_atomic(Path(destination), payload)  # never a half-written file under the real name
    else:
        destination.write(payload)


def load_generator(source: Source) -> tuple[dict[str, torch.Tensor], dict, dict]:
    """(state_dict, config, extra) of a generator file, once its header has passed check_generator_header."""
    data = _read_bytes(source)
    header = read_header(data)
    check_generator_header(header)
    config = read_generator_config(data)
    metadata = header.get("__metadata__") or {}
    try:
        extra = json.loads(metadata.get("extra") or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError("generator file has unreadable extra metadata") from exc
    try:
        state = load_safetensors_bytes(data)
    except Exception as exc:  # safetensors raises its own error types on corrupt data
        raise ValueError(f"corrupt generator file: {exc}") from exc
    return state, config, extra


def save_tensors(path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: dict | None = None) -> None:
    """Atomically write plain tensors (used by training checkpoints)."""
    payload = save_safetensors_bytes(
        {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()},
        # None, not {}: with no tensors, safetensors 0.8 writes an empty metadata dict as invalid JSON.
        metadata={k: json.dumps(v) for k, v in metadata.items()} if metadata else None,
    )
    _write_atomic(Path(path), payload)


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, metadata) of a file written by `save_tensors`."""
    data = Path(path).read_bytes()
    metadata = read_header(data).get("__metadata__") or {}
    try:
        tensors = load_safetensors_bytes(data)
    except Exception as exc:  # safetensors raises its own error types on corrupt data
        raise ValueError(f"corrupt tensor file {path}: {exc}") from exc
    return tensors, {k: json.loads(v) for k, v in metadata.items()}


def save_state(stem: str | os.PathLike, state) -> None:
    """Write any nested dict/list state with tensors in it (an optimizer's state_dict, RNG
    states) as `stem.safetensors` (the tensors) + `stem.json` (everything else)."""
    tensors: dict[str, torch.Tensor] = {}

    def encode(value):
        if isinstance(value, torch.Tensor):
            key = f"t{len(tensors)}"
            tensors[key] = value
            return {"__tensor__": key}
        if isinstance(value, dict):
            if all(isinstance(k, str) for k in value):
                return {k: encode(v) for k, v in value.items()}
            return {"__items__": [[k, encode(v)] for k, v in value.items()]}  # int keys survive
        if isinstance(value, (list, tuple)):
            return [encode(v) for v in value]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        raise TypeError(f"cannot store {type(value).__name__} in a checkpoint")

    document = json.dumps(encode(state))
    stem = Path(stem)
    save_tensors(stem.with_suffix(".safetensors"), tensors)
    _write_atomic(stem.with_suffix(".json"), document.encode())


def load_state(stem: str | os.PathLike, device: str | torch.device = "cpu"):
    """Read what `save_state` wrote (no unpickling: JSON and safetensors only)."""
    stem = Path(stem)
    tensors, _ = load_tensors(stem.with_suffix(".safetensors"))

    def decode(value):
        if isinstance(value, dict):
            if "__tensor__" in value:
                return tensors[value["__tensor__"]].to(device)
            if "__items__" in value:
                return {k: decode(v) for k, v in value["__items__"]}
            return {k: decode(v) for k, v in value.items()}
        if isinstance(value, list):
            return [decode(v) for v in value]
        return value

    return decode(json.loads(stem.with_suffix(".json").read_text()))


# --------------------------------------------------------------------------------------
# Training checkpoints: safetensors and JSON only, written to a fresh folder and swapped in.
#
#   generator.safetensors        G's weights (fp32), in the generator file format
#   generator_ema.safetensors    the EMA of G (when the run keeps one)
#   discriminator.safetensors    D's weights, its config in the metadata
#   optimizer_<name>.{json,safetensors}, rng.{json,safetensors}    via save_state
#   state.json                   the loop's state and the run's config; written last, so its
#                                presence means the folder is complete


def save_checkpoint(directory: Path, *, generator: nn.Module, generator_config: dict, ema_generator: nn.Module | None,
                    discriminator: nn.Module, discriminator_config: dict, optimizers: dict[str, torch.optim.Optimizer],
                    rng: dict[str, torch.Tensor], state: dict) -> None:
    """Write a training checkpoint to `directory`, replacing the one there only once complete.
    optimizers {name: optimizer} become optimizer_<name>; state is JSON (loop state + config)."""
    fresh = directory.with_name(directory.name + ".tmp")
    shutil.rmtree(fresh, ignore_errors=True)
    fresh.mkdir(parents=True)
    save_generator(fresh / "generator.safetensors", generator.state_dict(), generator_config, half=False)
    if ema_generator is not None:
        save_generator(fresh / "generator_ema.safetensors", ema_generator.state_dict(), generator_config, half=False)
    save_tensors(fresh / "discriminator.safetensors", discriminator.state_dict(),
                 metadata={"config": discriminator_config})
    for name, optimizer in optimizers.items():
        save_state(fresh / f"optimizer_{name}", optimizer.state_dict())
    save_state(fresh / "rng", rng)
    (fresh / "state.json").write_text(json.dumps(state, indent=1))
    old = directory.with_name(directory.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if directory.exists():
        directory.rename(old)
    fresh.rename(directory)
    shutil.rmtree(old, ignore_errors=True)


def recover_checkpoint(directory: Path) -> bool:
    """Whether `directory` holds a checkpoint, after finishing a swap a crash interrupted."""
    fresh = directory.with_name(directory.name + ".tmp")
    if not (directory / "state.json").is_file() and (fresh / "state.json").is_file():
        shutil.rmtree(directory, ignore_errors=True)
        fresh.rename(directory)  # state.json is written last: the folder is complete
    return (directory / "state.json").is_file()


def load_checkpoint(directory: Path, *, generator: nn.Module, ema_generator: nn.Module | None,
                    discriminator: nn.Module, optimizers: dict[str, torch.optim.Optimizer],
                    device: str | torch.device) -> tuple[dict, dict[str, torch.Tensor]]:
    """Restore D, the EMA and the optimizers in place; returns (state.json, the RNG states).
    `generator` already holds the checkpoint's weights (its file also gives its config, so the
    caller reads it first): an EMA missing from the folder starts from them."""
    state = json.loads((directory / "state.json").read_text())
    weights, _ = load_tensors(directory / "discriminator.safetensors")
    discriminator.load_state_dict(weights)
    if ema_generator is not None:
        ema_file = directory / "generator_ema.safetensors"
        ema_generator.load_state_dict(load_generator(ema_file)[0] if ema_file.is_file() else generator.state_dict())
    for name, optimizer in optimizers.items():
        optimizer.load_state_dict(load_state(directory / f"optimizer_{name}", device))
    return state, load_state(directory / "rng")


def _write_atomic(path: Path, payload: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(payload)
    os.replace(tmp, path)
