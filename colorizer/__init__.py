"""Hue's colorization engine: a pix2pix conditional GAN in CIE Lab (no Django in here).

The names below load on first use, so that `import colorizer.photos` (which file is a photo,
does it carry colour) stays free of torch in processes that never run a network.
"""

import importlib

_EXPORTS = {"Colorizer": "colorizer.inference", "GeneratorConfig": "colorizer.model",
            "DiscriminatorConfig": "colorizer.model", "build_generator": "colorizer.model",
            "build_discriminator": "colorizer.model"}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'colorizer' has no attribute {name!r}")
