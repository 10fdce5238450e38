"""Checking uploaded files: every bad input gets a clear message, every good one comes back upright."""

import io

import numpy as np
import pytest
from PIL import Image

from tests.webapp import samples
from webapp.photos import images
from webapp.photos.images import UploadRejected

MAX_BYTES = 25 * 1024 * 1024
MAX_PIXELS = 50_000_000


def inspect(data: bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS):
    return images.inspect_upload(io.BytesIO(data), len(data), max_bytes=max_bytes, max_pixels=max_pixels)


def rejection(data: bytes, **limits) -> str:
    with pytest.raises(UploadRejected) as raised:
        inspect(data, **limits)
    return str(raised.value)


def test_it_accepts_a_gray_jpeg():
    inspected = inspect(samples.gray_jpeg(96, 64))

    assert (inspected.format, inspected.width, inspected.height) == ("JPEG", 96, 64)
    assert inspected.notes == []


@pytest.mark.parametrize("format", ["PNG", "WEBP", "TIFF", "BMP", "GIF"])
def test_it_accepts_every_listed_format(format):
    inspected = inspect(samples.gray_in(format, 80, 48))

    assert inspected.format == format
    assert (inspected.width, inspected.height) == (80, 48)


def test_it_rejects_an_empty_file():
    assert rejection(b"") == "This file is empty."


def test_it_rejects_a_truncated_jpeg():
    assert "damaged or incomplete" in rejection(samples.truncated_jpeg())


def test_it_rejects_a_text_file_renamed_jpg():
    message = rejection(samples.text_renamed_jpg())

    assert "not a photo Hue can read" in message
    assert "JPEG, PNG, WebP, TIFF, BMP or GIF" in message


def test_it_rejects_a_png_declaring_20000_by_20000_pixels_before_decoding_it():
    data = samples.png_declaring(20000, 20000)  # a few hundred bytes that would decode to 400 MB

    assert "too large" in rejection(data) and "50 megapixels" in rejection(data)


def test_it_names_the_size_of_an_image_over_the_pixel_limit():
    message = rejection(samples.png_declaring(9000, 6000))

    assert message == "This image is 9,000 × 6,000 pixels (54 megapixels); the limit is 50 megapixels."


def test_pillows_own_guard_follows_a_raised_limit_and_never_drops_below_its_default(settings):
    settings.UPLOAD_MAX_PIXELS = 300_000_000
    assert Image.MAX_IMAGE_PIXELS == 300_000_000  # so the worker opens what the web app accepted

    settings.UPLOAD_MAX_PIXELS = 5_000
    assert Image.MAX_IMAGE_PIXELS == images.PILLOW_MAX_PIXELS


def test_the_pixel_limit_is_configurable():
    assert "the limit is 5,000 pixels" in rejection(samples.gray_jpeg(96, 64), max_pixels=5000)


def test_it_rejects_a_file_over_the_size_limit():
    data = samples.noise_jpeg(200, 200)

    message = rejection(data, max_bytes=10 * 1024)

    assert message.startswith("This file is ") and message.endswith("the limit is 10 KB per photo.")


def test_it_says_exactly_how_far_over_the_limit_a_file_one_byte_over_is():
    data = samples.noise_jpeg(200, 200)

    message = rejection(data, max_bytes=len(data) - 1)

    assert message == f"This file is {len(data):,} bytes; the limit is {len(data) - 1:,} bytes ({len(data) // 1024} KB) per photo."


def test_it_accepts_a_16_bit_png_and_keeps_its_tones():
    inspected = inspect(samples.png_16bit(96, 64))

    assert inspected.notes == []
    small = np.asarray(images.to_8bit(inspected.image))
    expected = samples.gray_array(96, 64)
    assert np.abs(small.astype(int) - expected.astype(int)).max() <= 1  # scaled, not clipped to white


def test_it_accepts_a_cmyk_jpeg():
    inspected = inspect(samples.cmyk_jpeg())

    assert inspected.format == "JPEG"
    assert images.rendition(inspected.image, 48)[:2] == b"\xff\xd8"


def test_it_accepts_an_animated_gif_and_says_it_uses_the_first_frame():
    inspected = inspect(samples.animated_gif(frames=3))

    assert inspected.format == "GIF"
    assert inspected.notes == ["This is an animated GIF: Hue colorizes its first frame."]


@pytest.mark.parametrize("format, name", [("GIF", "GIF"), ("WEBP", "WebP"), ("PNG", "PNG")])
def test_an_animation_is_read_from_its_first_frame_and_says_so(format, name):
    data = samples.two_frames(format, first=40, second=210)

    inspected = inspect(data)
    original = images.open_original(io.BytesIO(data))

    assert inspected.notes == [f"This is an animated {name}: Hue colorizes its first frame."]
    assert np.asarray(inspected.image.convert("L")).mean() == pytest.approx(40, abs=2)  # the renditions
    assert np.asarray(original.convert("L")).mean() == pytest.approx(40, abs=2)  # what the worker colorizes


def test_it_turns_an_exif_rotated_photo_upright():
    inspected = inspect(samples.exif_rotated_jpeg(96, 64))

    assert (inspected.width, inspected.height) == (64, 96)
    assert (inspected.image.width, inspected.image.height) == (64, 96)


def test_it_accepts_a_colour_photo_with_a_note():
    inspected = inspect(samples.colour_jpeg())

    assert len(inspected.notes) == 1
    assert "already has colour" in inspected.notes[0]


def test_a_toned_print_is_accepted_with_a_note_about_its_tone():
    assert inspect(samples.sepia_jpeg()).notes == [
        "This photo is toned (sepia, for example). Hue colorizes it from its brightness, so the tone is replaced."
    ]


def test_a_multi_page_tiff_uses_its_first_page():
    inspected = inspect(samples.multipage_tiff(pages=3))

    assert inspected.notes == ["This TIFF file has 3 pages: Hue colorizes the first one."]


def test_a_gray_photo_saved_as_rgb_gets_no_colour_note():
    assert inspect(samples.gray_stored_as_rgb_jpeg()).notes == []


def test_renditions_fit_their_box_and_keep_the_aspect():
    image = Image.fromarray(samples.gray_array(400, 100), "L")

    with Image.open(io.BytesIO(images.rendition(image, 200))) as small:
        assert small.size == (200, 50)
        assert small.format == "JPEG"


def test_png_results_convert_to_jpeg_downloads():
    png = images.encode_png(Image.new("RGBA", (30, 20), (200, 100, 50, 128)))

    with Image.open(io.BytesIO(images.png_to_jpeg(io.BytesIO(png)))) as jpeg:
        assert (jpeg.format, jpeg.mode, jpeg.size) == ("JPEG", "RGB", (30, 20))


@pytest.mark.parametrize("data", [samples.truncated_jpeg(), samples.text_renamed_jpg()], ids=["truncated", "text"])
def test_opening_a_damaged_original_says_it_is_damaged(data):
    with pytest.raises(images.UnreadableImage) as raised:
        images.open_original(io.BytesIO(data))

    assert str(raised.value).startswith("The stored original is ")


def test_opening_an_original_passes_storage_errors_through_so_they_are_retried():
    class ResetAfterTheHeader(io.BytesIO):
        def read(self, size=-1):
            if self.tell() > 0:
                raise ConnectionResetError("storage connection reset")
            return super().read(size if 0 < size <= 64 else 64)

    with pytest.raises(ConnectionResetError):
        images.open_original(ResetAfterTheHeader(samples.gray_jpeg(200, 160)))
