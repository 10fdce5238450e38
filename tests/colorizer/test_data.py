import numpy as np
import pytest
import torch
from PIL import Image

from colorizer import data

from .conftest import colour_photo


def sepia(image: Image.Image) -> Image.Image:
    gray = np.asarray(image.convert("L"), dtype=np.float32) / 255
    tint = np.array([1.0, 0.85, 0.6])  # one hue, stronger in the midtones
    return Image.fromarray((gray[..., None] * tint * 255).astype(np.uint8))


def test_scan_keeps_colour_photos_and_counts_what_it_skips(photo_folder):
    (photo_folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (photo_folder / "truncated.png").write_bytes((photo_folder / "00.png").read_bytes()[:60])
    colour_photo(50).convert("L").save(photo_folder / "gray.png")
    colour_photo(51).convert("L").convert("RGB").save(photo_folder / "gray_as_rgb.jpg", quality=85)
    sepia(colour_photo(52)).save(photo_folder / "sub" / "sepia.jpg", quality=90)
    (photo_folder / "notes.txt").write_text("not a photo")
    (photo_folder / ".hidden.jpg").write_bytes(b"")

    report = data.scan_images(photo_folder)

    assert len(report.paths) == 10
    assert report.counts == {"unreadable": 2, "grayscale": 2, "monotone": 1}
    assert sorted(report.skipped["unreadable"]) == ["broken.jpg", "truncated.png"]
    assert report.skipped["monotone"] == ["sub/sepia.jpg"]
    assert report.ignored == 2
    assert "10 colour photos" in report.summary() and "2 unreadable" in report.summary()
    assert report.to_dict()["skipped"] == report.counts


def test_scan_with_a_limit_takes_a_seeded_subset(photo_folder):
    first = data.scan_images(photo_folder, limit=4, seed=1)
    again = data.scan_images(photo_folder, limit=4, seed=1)
    assert len(first.paths) == 4 and first.paths == again.paths


def test_scan_refuses_a_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError):
        data.scan_images(tmp_path / "nope")


@pytest.mark.parametrize("make, expected", [
    (lambda: colour_photo(3), False),
    (lambda: colour_photo(3).convert("L"), True),
    (lambda: colour_photo(3).convert("L").convert("RGB"), True),
    (lambda: colour_photo(3).convert("1"), True),
    (lambda: sepia(colour_photo(3)), True),
    (lambda: colour_photo(3).convert("P"), False),
])
def test_is_grayscale(make, expected):
    assert data.is_grayscale(make()) is expected


def test_photos_decode_to_square_uint8(tmp_path):
    colour_photo(0, (90, 60)).save(tmp_path / "wide.png")
    image = data.load_photo(tmp_path / "wide.png", 32)
    assert image.shape == (3, 32, 32) and image.dtype == torch.uint8


def test_cached_and_streamed_batches_are_the_same(photo_folder):
    paths = data.scan_images(photo_folder).paths
    order = data.epoch_order(len(paths), seed=0, epoch=3)
    cached = data.TrainingPhotos(paths, 32, torch.device("cpu"), cache=True)
    streamed = data.TrainingPhotos(paths, 32, torch.device("cpu"), cache=False)
    a, b = list(cached.batches(order, 4)), list(streamed.batches(order, 4))
    assert len(a) == len(b) == 2  # 10 photos: two full batches of 4, the rest dropped
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert torch.equal(list(cached.batches(order, 4, skip=1))[0], a[1])


def test_epoch_orders_depend_only_on_seed_and_epoch():
    assert torch.equal(data.epoch_order(20, 0, 1), data.epoch_order(20, 0, 1))
    assert not torch.equal(data.epoch_order(20, 0, 1), data.epoch_order(20, 0, 2))


def test_augmentation_keeps_shape_and_range_and_is_seeded():
    images = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    augmentation = data.Augmentation(min_crop_scale=0.5, max_rotation=10)
    first = data.augment(images, augmentation, torch.Generator().manual_seed(0))
    again = data.augment(images, augmentation, torch.Generator().manual_seed(0))
    other = data.augment(images, augmentation, torch.Generator().manual_seed(1))
    assert first.shape == (6, 3, 32, 32) and first.dtype == torch.float32
    assert first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_augmentation_without_crop_rotation_or_flip_is_the_identity():
    images = torch.randint(0, 256, (2, 3, 16, 16), dtype=torch.uint8)
    plain = data.Augmentation(min_crop_scale=1.0, max_rotation=0.0, hflip=False)
    out = data.augment(images, plain, torch.Generator().manual_seed(0))
    assert torch.allclose(out, images.float() / 255, atol=1e-5)


def test_augmentation_flips_mirror_the_photo():
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    flip_only = data.Augmentation(min_crop_scale=1.0, max_rotation=0.0, hflip=True)
    out = data.augment(images, flip_only, torch.Generator().manual_seed(0))
    truth = images.float() / 255
    mirrored = [torch.allclose(o, t.flip(-1), atol=1e-5) for o, t in zip(out, truth)]
    unchanged = [torch.allclose(o, t, atol=1e-5) for o, t in zip(out, truth)]
    assert all(m or u for m, u in zip(mirrored, unchanged)) and 16 < sum(mirrored) < 48


def test_augmentation_can_cut_native_scale_patches():
    # A quarter of the area resampled to half the side: pixels keep their scale.
    images = torch.arange(32, dtype=torch.float32).repeat(32, 1).expand(2, 3, 32, 32).to(torch.uint8)
    patches = data.Augmentation(min_crop_scale=0.25, max_crop_scale=0.25, max_rotation=0.0, hflip=False, out_size=16)
    out = data.augment(images, patches, torch.Generator().manual_seed(0))
    assert out.shape == (2, 3, 16, 16)
    steps = (out[:, 0, :, 1:] - out[:, 0, :, :-1]) * 255  # about one source column per output column
    assert torch.allclose(steps, torch.ones_like(steps), atol=0.16)  # the crop's aspect varies up to sqrt(4/3)
