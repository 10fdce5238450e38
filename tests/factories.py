"""Things many tests make: tiny real generator files and registered model versions."""

import io

from django.core.files import File


def tiny_generator_bytes(seed: int = 0) -> bytes:
    """A real generator file (~130k parameters, fp16 safetensors): the engine's tiny test U-Net."""
    import torch

    from colorizer import GeneratorConfig, build_generator
    from colorizer.checkpoint import save_generator

    torch.manual_seed(seed)
    config = GeneratorConfig(base_width=8, num_downs=5)
    buffer = io.BytesIO()
    save_generator(buffer, build_generator(config, load_pretrained=False).state_dict(), config.to_dict())
    return buffer.getvalue()


def register_tiny_model(name: str = "Tiny", activate: bool = True, seed: int = 0):
    from webapp.registry.services import register_version

    return register_version(File(io.BytesIO(tiny_generator_bytes(seed)), name="tiny.safetensors"), name=name,
                            activate=activate)


def hint_generator_bytes() -> bytes:
    """A real hint-capable generator file, set by hand so that hints pass through: its colour is the hint's
    where a hint is, gray elsewhere (tests.colorizer.conftest.hint_pass_through_generator)."""
    from colorizer.checkpoint import save_generator
    from tests.colorizer.conftest import TINY_HINTS, hint_pass_through_generator

    buffer = io.BytesIO()
    save_generator(buffer, hint_pass_through_generator().state_dict(), TINY_HINTS.to_dict())
    return buffer.getvalue()


def register_hint_model(name: str = "Hints", activate: bool = True):
    from webapp.registry.services import register_version

    return register_version(File(io.BytesIO(hint_generator_bytes()), name="hints.safetensors"), name=name,
                            activate=activate)
