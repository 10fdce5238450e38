"""A tiny photo tree, a pack of it and a tiny device run, shared by the pipeline's tests."""

import json
import zipfile

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


def make_wheel(folder, name, version, requires):
    """A minimal wheel: enough for the pack to copy it and read its Requires-Dist."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n" + "".join(
        f"Requires-Dist: {line}\n" for line in requires)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}-{version}.dist-info/METADATA", metadata)
    return path


@pytest.fixture(scope="session")
def photo_tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    make_photos(root / "train", 12)
    make_photos(root / "val", 6, offset=100)
    (root / "bw").mkdir()
    for i in range(3):  # real B&W photos: gray, of mixed sizes
        colour_photo(200 + i, (90 + 20 * i, 60)).convert("L").save(root / "bw" / f"old{i}.jpg")
    return root


@pytest.fixture(scope="session")
def wheels(tmp_path_factory):
    folder = tmp_path_factory.mktemp("wheels")
    make_wheel(folder, "kornia", "0.9.0", ["kornia-rs>=0.2.0", "numpy>=1.21", "torch>=2.5.1",
                                           "pytest; extra == 'dev'"])
    make_wheel(folder, "kornia_rs", "0.2.0",
               ["nvidia-cuda-nvrtc-cu12 ; platform_system == 'Linux' and extra == 'cuda'"])
    make_wheel(folder, "efficientnet_lite_pytorch", "0.1.0", ["torch"])
    return folder


@pytest.fixture(scope="session")
def pack(photo_tree, wheels, tmp_path_factory):
    """`pack` through the command line's entry point, on the tiny tree at 64 px."""
    from scripts.tools import default_model

    out = tmp_path_factory.mktemp("pack") / "devicepack"
    code = default_model.main(["pack", "--out", str(out), "--train-dir", str(photo_tree / "train"), "--val-dir",
                               str(photo_tree / "val"), "--image-size", "64", "--reserve-bytes", "0",
                               "--watch-count", "3", "--wheels", str(wheels), "--workers", "1"])
    assert code == 0
    return out, json.loads((out / "manifest.json").read_text())


@pytest.fixture(scope="session")
def device_run(pack, tmp_path_factory):
    """`train --tiny` through the command line's entry point, as the device runs it (on the CPU)."""
    from scripts.tools import default_model

    folder, _ = pack
    out = tmp_path_factory.mktemp("device") / "out"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code = default_model.main(["train", "--pack", str(folder), "--out", str(out), "--tiny",
                                   "--work", str(tmp_path_factory.mktemp("work")), "--budget-seconds", "600"])
    finally:
        torch.set_num_threads(threads)
    return code, out
