"""Small photos made on the fly, good and bad (tests never read /work/shared)."""

import io
import struct
import zlib

import numpy as np
from PIL import Image


def gray_array(width: int = 96, height: int = 64, seed: int = 0) -> np.ndarray:
    """A gray gradient with a little texture: (height, width) uint8."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(30, 220, width)[None, :] + np.linspace(0, 20, height)[:, None]
    return np.clip(ramp + rng.normal(0, 6, (height, width)), 0, 255).astype(np.uint8)


def encode(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def gray_jpeg(width: int = 96, height: int = 64, seed: int = 0) -> bytes:
    return encode(Image.fromarray(gray_array(width, height, seed), "L"), "JPEG", quality=90)


def gray_png(width: int = 96, height: int = 64) -> bytes:
    return encode(Image.fromarray(gray_array(width, height), "L"), "PNG")


def gray_in(format: str, width: int = 96, height: int = 64) -> bytes:
    return encode(Image.fromarray(gray_array(width, height), "L"), format)


def colour_jpeg(width: int = 96, height: int = 64) -> bytes:
    rgb = np.zeros((height, width, 3), dtype=np.uint8)
    rgb[..., 0] = np.linspace(0, 255, width)[None, :]
    rgb[..., 2] = np.linspace(255, 0, height)[:, None]
    rgb[..., 1] = 90
    return encode(Image.fromarray(rgb, "RGB"), "JPEG", quality=90)


def gray_stored_as_rgb_jpeg(width: int = 96, height: int = 64) -> bytes:
    """A black-and-white scan saved in RGB, as most scanners do."""
    return encode(Image.fromarray(gray_array(width, height), "L").convert("RGB"), "JPEG", quality=90)


def truncated_jpeg() -> bytes:
    data = gray_jpeg(200, 160)
    return data[: len(data) // 2]


def text_renamed_jpg() -> bytes:
    return b"Shopping list:\n- milk\n- photo albums\nThis is a text file, not a photo.\n"


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG file whose header claims width x height pixels (a decompression bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def png_16bit(width: int = 96, height: int = 64) -> bytes:
    values = (gray_array(width, height).astype(np.uint16) * 257)
    return encode(Image.fromarray(values), "PNG")


def cmyk_jpeg(width: int = 96, height: int = 64) -> bytes:
    gray = gray_array(width, height)
    cmyk = np.stack([np.zeros_like(gray)] * 3 + [255 - gray], axis=2)  # ink only in K: a gray photo
    return encode(Image.fromarray(cmyk, "CMYK"), "JPEG", quality=90)


def animated_gif(width: int = 64, height: int = 48, frames: int = 3) -> bytes:
    images = [Image.fromarray(gray_array(width, height, seed), "L") for seed in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)


def two_frames(format: str, width: int = 64, height: int = 48, first: int = 40, second: int = 210) -> bytes:
    """An animation of two flat gray frames, dark (`first`) then light (`second`)."""
    frames = [Image.fromarray(np.full((height, width), level, dtype=np.uint8), "L") for level in (first, second)]
    return encode(frames[0], format, save_all=True, append_images=frames[1:], duration=100, loop=0)


def exif_rotated_jpeg(stored_width: int = 96, stored_height: int = 64) -> bytes:
    """Stored landscape with EXIF orientation 6: upright it is portrait (64 x 96)."""
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(Image.fromarray(gray_array(stored_width, stored_height), "L"), "JPEG", exif=exif.tobytes())


def noise_jpeg(width: int, height: int) -> bytes:
    """Incompressible: a file much larger than its pixel count suggests."""
    rng = np.random.default_rng(1)
    return encode(Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8), "L"), "JPEG", quality=100)


def sepia_jpeg(width: int = 96, height: int = 64) -> bytes:
    """A toned print: one warm hue throughout, brightness varying."""
    gray = gray_array(width, height).astype(np.float32)
    rgb = np.stack([gray + 14, gray + 2, gray - 16], axis=2).clip(0, 255).astype(np.uint8)
    return encode(Image.fromarray(rgb, "RGB"), "JPEG", quality=90)


def multipage_tiff(width: int = 64, height: int = 48, pages: int = 2) -> bytes:
    images = [Image.fromarray(gray_array(width, height, seed), "L") for seed in range(pages)]
    return encode(images[0], "TIFF", save_all=True, append_images=images[1:])
