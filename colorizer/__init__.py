"""Hue's colorization engine: a pix2pix conditional GAN in CIE Lab (no Django in here)."""

from colorizer.inference import Colorizer
from colorizer.model import DiscriminatorConfig, GeneratorConfig, build_discriminator, build_generator

__all__ = ["Colorizer", "GeneratorConfig", "DiscriminatorConfig", "build_generator", "build_discriminator"]
