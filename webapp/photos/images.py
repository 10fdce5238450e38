"""Checking uploaded photos and making the small renditions pages show (Pillow only).

`inspect_upload` refuses anything unsafe or unusable with a message a person can act
on (`UploadRejected`): size and pixel count are checked from the file's size and its
header before any pixel is decoded, then the whole image is decoded once to prove it
is complete. What it accepts comes back upright (EXIF orientation applied), with notes
for the user (a colour photo, an animated GIF).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from colorizer.photos import colour_verdict
from webapp.core.sizes import describe_bytes, describe_size_and_limit  # noqa: F401 (describe_bytes: for views)

# The only decoders Pillow may use on uploads, and what to call their formats in messages.
# The JPEG decoder also opens MPO, the multi-picture JPEG some cameras write.
DECODERS = ["JPEG", "PNG", "WEBP", "TIFF", "BMP", "GIF"]
FORMATS = {"JPEG": "JPEG", "MPO": "JPEG", "PNG": "PNG", "WEBP": "WebP", "TIFF": "TIFF", "BMP": "BMP", "GIF": "GIF"}
ACCEPTED = "JPEG, PNG, WebP, TIFF, BMP or GIF"
ANIMATED_FORMATS = {"GIF", "WEBP", "PNG"}  # their extra frames are an animation (APNG for PNG); TIFF's are pages
THUMBNAIL_SIDE = 480  # gallery cards (2x a ~240 px card)
PREVIEW_SIDE = 1600  # the compare slider on the detail page
# Pillow's own decompression-bomb guard (~89.5 MP): it warns above this and refuses above twice this, at open.
PILLOW_MAX_PIXELS = Image.MAX_IMAGE_PIXELS


class UploadRejected(ValueError):
    """A file that cannot be colorized; str(error) is the message for the user."""


@dataclass
class InspectedImage:
    image: Image.Image  # decoded, upright, first frame only
    format: str  # Pillow's format name (JPEG, PNG, ...)
    width: int  # upright
    height: int
    notes: list[str] = field(default_factory=list)  # what the user should know about how it was read


def follow_pixel_limit(max_pixels: int) -> None:
    """Raise Pillow's guard to the app's pixel limit, process-wide (web and worker processes, at start).

    Otherwise, with a limit configured above Pillow's default, Pillow warns about photos the app
    accepts and refuses some of them at open with the wrong message, before inspect_upload's own
    check. It is never lowered below Pillow's default: other code (datasets) relies on it as is.
    """
    Image.MAX_IMAGE_PIXELS = max(PILLOW_MAX_PIXELS, max_pixels)


def describe_pixels(pixels: int) -> str:
    if pixels < 1_000_000:
        return f"{pixels:,} pixels"
    return f"{pixels / 1_000_000:.1f}".rstrip("0").rstrip(".") + " megapixels"


def inspect_upload(file: BinaryIO, size: int, *, max_bytes: int, max_pixels: int) -> InspectedImage:
    """Open, check and decode an uploaded file; UploadRejected says what is wrong with it."""
    if size == 0:
        raise UploadRejected("This file is empty.")
    if size > max_bytes:
        size_label, limit_label = describe_size_and_limit(size, max_bytes)
        raise UploadRejected(f"This file is {size_label}; the limit is {limit_label} per photo.")
    file.seek(0)
    try:
        image = Image.open(file, formats=DECODERS)  # reads the header only
    except Image.DecompressionBombError:
        raise UploadRejected(f"This image is too large: the limit is {describe_pixels(max_pixels)}.") from None
    except UnidentifiedImageError:
        raise UploadRejected(f"This is not a photo Hue can read. Please upload a {ACCEPTED} file.") from None
    except (OSError, SyntaxError, ValueError):
        raise UploadRejected(f"This file looks damaged: its header cannot be read. Please upload a {ACCEPTED} file.") from None

    width, height = image.size
    if width * height > max_pixels:
        raise UploadRejected(
            f"This image is {width:,} × {height:,} pixels ({describe_pixels(width * height)}); "
            f"the limit is {describe_pixels(max_pixels)}."
        )
    if width < 1 or height < 1:
        raise UploadRejected("This image has no pixels.")

    notes = []
    frames = getattr(image, "n_frames", 1)
    try:
        if frames > 1:
            image.seek(0)
            if image.format in ANIMATED_FORMATS:
                notes.append(f"This is an animated {FORMATS[image.format]}: Hue colorizes its first frame.")
            else:
                notes.append(f"This {FORMATS[image.format]} file has {frames} pages: Hue colorizes the first one.")
        image.load()
        image_format = image.format
        upright = ImageOps.exif_transpose(image)
    except Image.DecompressionBombError:
        raise UploadRejected(f"This image is too large: the limit is {describe_pixels(max_pixels)}.") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError):
        raise UploadRejected("This image is damaged or incomplete (the file may have been cut off while copying).") from None
    colour = colour_kind(upright)
    if colour == "colour":
        notes.append("This photo already has colour. Hue colorizes it from its black-and-white brightness, "
                     "so its present colours are replaced.")
    elif colour == "tinted":
        notes.append("This photo is toned (sepia, for example). Hue colorizes it from its brightness, "
                     "so the tone is replaced.")
    return InspectedImage(image=upright, format=image_format, width=upright.width, height=upright.height, notes=notes)


def to_8bit(image: Image.Image) -> Image.Image:
    """An 8-bit L, RGB or RGBA version of any mode, scaling 16-bit and float data instead of clipping it."""
    if image.mode in ("L", "RGB", "RGBA"):
        return image
    if image.mode.startswith("I") or image.mode == "F":
        values = np.asarray(image, dtype=np.float32)
        top = values.max(initial=0)
        scale = 255.0 / (65535.0 if top > 255 else 255.0 if top > 1 or image.mode != "F" else 1.0)
        return Image.fromarray(np.clip(values * scale + 0.5, 0, 255).astype(np.uint8), "L")
    if image.mode in ("LA", "La", "PA", "RGBa") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")  # P, CMYK, YCbCr, LAB, HSV


def colour_kind(image: Image.Image) -> str:
    """"gray", "tinted" (one hue throughout: sepia, cyanotype) or "colour": the engine's own test
    (colorizer.photos), the one that keeps such photos out of training sets."""
    return {"ok": "colour", "monotone": "tinted", "grayscale": "gray"}[colour_verdict(to_8bit(image))]


def fit(image: Image.Image, max_side: int) -> Image.Image:
    """`image` scaled down to at most max_side on either side (itself when already small enough)."""
    width, height = image.size
    scale = min(1.0, max_side / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if size == image.size:
        return image
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def flatten(image: Image.Image) -> Image.Image:
    """8-bit L or RGB, transparency composited over white (JPEG has no alpha)."""
    picture = to_8bit(image)
    if picture.mode == "RGBA":
        background = Image.new("RGB", picture.size, (255, 255, 255))
        background.paste(picture, mask=picture.getchannel("A"))
        picture = background
    return picture


def rendition(image: Image.Image, max_side: int, quality: int = 85) -> bytes:
    """A JPEG no larger than max_side on either side, for pages."""
    buffer = io.BytesIO()
    fit(flatten(image), max_side).save(buffer, "JPEG", quality=quality, optimize=True, progressive=True)
    return buffer.getvalue()


def encode_png(image: Image.Image) -> bytes:
    """The lossless master of a result."""
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=3)  # 2-3x faster than 6, within a few % of its size
    return buffer.getvalue()


def png_to_jpeg(source: BinaryIO, quality: int = 92) -> bytes:
    """A JPEG copy of a stored PNG result (transparency over white)."""
    with Image.open(source, formats=["PNG"]) as image:
        image.load()
        buffer = io.BytesIO()
        flatten(image).save(buffer, "JPEG", quality=quality, optimize=True)
    return buffer.getvalue()


class UnreadableImage(ValueError):
    """A stored file that Pillow cannot decode (damaged since upload): no retry can help; str() says so."""


def damaged(exc: BaseException) -> str:
    return (f"The stored original is damaged: {str(exc).strip() or type(exc).__name__}. "
            "Delete this photo and upload it again.")


def open_original(source: BinaryIO) -> Image.Image:
    """Decode a stored original (first frame) for colorization; the engine applies the EXIF orientation.

    UnreadableImage when the file is not (or no longer) a whole image. The source's own read
    errors, such as a storage connection reset, pass through unchanged: those may go away.
    """
    try:
        image = Image.open(source, formats=DECODERS)
        image.seek(0)
        image.load()
    except UnidentifiedImageError:
        raise UnreadableImage("The stored original is not an image Hue can read any more. "
                              "Delete this photo and upload it again.") from None
    except OSError as exc:
        # Pillow reports a damaged file ("image file is truncated", decoder errors) as a plain OSError,
        # whereas failing I/O raises its subclasses (ConnectionResetError, TimeoutError, ...).
        if type(exc) is not OSError:
            raise
        raise UnreadableImage(damaged(exc)) from None
    except (SyntaxError, ValueError, EOFError, IndexError, KeyError, TypeError) as exc:
        raise UnreadableImage(damaged(exc)) from None
    return image
