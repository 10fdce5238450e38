"""A tiny photo tree shared by the tools' tests."""

import pytest
import torch

from tests.colorizer.conftest import colour_photo


@pytest.fixture(autouse=True)
def one_thread():
    """On a shared two-core machine one thread runs these tiny networks several times faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def make_photos(root, count, offset=0, size=(80, 64)):
    for i in range(count):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        colour_photo(offset + i, size).save(folder / f"{i:02d}.jpg", quality=95)
    return root


@pytest.fixture(scope="session")
def photo_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    make_photos(root / "train", 12)
    make_photos(root / "val", 6, offset=100)
    (root / "bw").mkdir()
    for i in range(3):  # real B&W photos: gray, of mixed sizes
        colour_photo(200 + i, (90 + 20 * i, 60)).convert("L").save(root / "bw" / f"old{i}.jpg")
    return root
