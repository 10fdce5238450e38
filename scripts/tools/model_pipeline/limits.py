"""What one device call carries and returns (see the device tool's README), and the helpers
that keep the pipeline inside those limits.

Out: the working tree (tracked and untracked-not-ignored files) plus the carried pack, 64 MiB.
Back: at most 8 files of 16 MiB each, 64 MiB together, at most 2 folders deep, names of
letters, digits, '.', '_' and '-'.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

MiB = 1 << 20
CARRY_LIMIT = 64 * MiB  # the working tree that travels, carried paths included
RETURN_FILES = 8  # files that come back from $OUT
RETURN_FILE_BYTES = 16 * MiB  # each
RETURN_TOTAL_BYTES = 64 * MiB  # together
RETURN_DEPTH = 2  # $OUT/a/b/file comes back, $OUT/a/b/c/file does not
PART_BYTES = 15 * MiB  # weight files come back split into parts this big
DEFAULT_WEIGHTS = "colorizer/weights/default.safetensors"
DEFAULT_WEIGHTS_ALLOWANCE = 18_000_000  # the shipped default counts this much even before it lands
_NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def travelling_bytes(repo: Path) -> int:
    """Bytes of the files a device call sends besides carried paths: tracked files and
    untracked files git does not ignore, with the default weights counted at their allowance
    at least (they are about to land in the repository)."""
    listing = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=repo,
                             check=True, capture_output=True).stdout
    total, weights = 0, 0
    for name in set(filter(None, listing.decode().split("\0"))):
        path = repo / name
        if path.is_file() and not path.is_symlink():
            size = path.stat().st_size
            total += size
            if name == DEFAULT_WEIGHTS:
                weights = size
    return total - weights + max(weights, DEFAULT_WEIGHTS_ALLOWANCE)


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def split_file(path: Path, prefix: Path, part_bytes: int = PART_BYTES) -> list[Path]:
    """path -> prefix.part0, prefix.part1, ... of at most part_bytes each."""
    data = path.read_bytes()
    parts = []
    for index, start in enumerate(range(0, max(len(data), 1), part_bytes)):
        part = prefix.with_name(f"{prefix.name}.part{index}")
        part.write_bytes(data[start:start + part_bytes])
        parts.append(part)
    return parts


def part_files(prefix: Path) -> list[Path]:
    """prefix.part0, prefix.part1, ... in order (the numbering must have no gap)."""
    parts = sorted(prefix.parent.glob(prefix.name + ".part*"), key=lambda p: int(p.name.rsplit(".part", 1)[1]))
    if [int(p.name.rsplit(".part", 1)[1]) for p in parts] != list(range(len(parts))):
        raise ValueError(f"parts of {prefix.name} are not numbered 0..n-1: {[p.name for p in parts]}")
    return parts


def join_parts(prefix: Path, destination: Path, sha256: str | None = None) -> Path:
    """Concatenate prefix.part0.. into destination; ValueError when none exist or the hash differs."""
    parts = part_files(prefix)
    if not parts:
        raise ValueError(f"no parts {prefix.name}.part0.. in {prefix.parent}")
    data = b"".join(part.read_bytes() for part in parts)
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"joined {prefix.name} does not match its sha256: a part is missing or damaged")
    destination.parent.mkdir(parents=True, exist_ok=True)
    destination.write_bytes(data)
    return destination


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def return_problems(out: Path) -> list[str]:
    """Why some of `out` would not come back from the device (empty when all of it does)."""
    files = sorted(p for p in out.rglob("*") if p.is_file() or p.is_symlink())
    problems = []
    if len(files) > RETURN_FILES:
        problems.append(f"{len(files)} files, at most {RETURN_FILES} come back")
    total = sum(p.stat().st_size for p in files if p.is_file())
    if total > RETURN_TOTAL_BYTES:
        problems.append(f"{total / MiB:.1f} MiB in all, at most {RETURN_TOTAL_BYTES // MiB} MiB come back")
    for path in files:
        relative = path.relative_to(out)
        if path.is_symlink():
            problems.append(f"{relative} is a link")
        elif path.stat().st_size > RETURN_FILE_BYTES:
            problems.append(f"{relative} is {path.stat().st_size / MiB:.1f} MiB, over {RETURN_FILE_BYTES // MiB} MiB")
        if len(relative.parts) - 1 > RETURN_DEPTH:
            problems.append(f"{relative} is more than {RETURN_DEPTH} folders down")
        if not all(_NAME.match(part) for part in relative.parts):
            problems.append(f"{relative} has characters other than letters, digits, '.', '_' and '-'")
    return problems
