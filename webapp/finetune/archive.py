"""Reading photo archives that admins upload, without trusting them.

The whole central directory is checked before a single byte is extracted: paths that
escape the target (zip slip), absolute paths, links and device files are refused, and so
are archives over the limits on file count, total size, or compression ratio (zip
bombs). Members are then read one at a time with a hard cap on the bytes each yields,
so a header that lies about its size cannot make us inflate more than it declared.
Nothing is ever written under a name taken from the archive.
"""

from __future__ import annotations

import re
import stat
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO, Iterator

from webapp.core.sizes import describe_size_and_limit

MiB = 1024 * 1024


class ArchiveRejected(ValueError):
    """The archive as a whole is refused; the message says why, for a person."""


@dataclass(frozen=True)
class ArchiveLimits:
    max_files: int = 50_000  # members, directories excluded
    max_entries: int | None = None  # every entry, directories included; None: twice max_files
    max_total_bytes: int = 20 * 1024 * MiB  # sum of declared uncompressed sizes
    max_member_bytes: int = 100 * MiB  # one photo
    max_ratio: float = 100.0  # uncompressed / compressed, per member above `ratio_floor_bytes` and overall
    ratio_floor_bytes: int = 1 * MiB  # tiny members compress well legitimately; judge ratios above this size

    @property
    def entry_limit(self) -> int:
        return self.max_entries if self.max_entries is not None else 2 * self.max_files


@dataclass(frozen=True)
class Member:
    name: str  # normalised posix path inside the archive, for reports only
    size: int  # declared uncompressed size
    info: zipfile.ZipInfo


_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:")


def _normalised_name(raw: str) -> str:
    """The member's path, or ArchiveRejected if it could land outside the target folder."""
    if "\x00" in raw:
        raise ArchiveRejected(f"a file name contains a NUL byte: {raw!r}")
    name = raw.replace("\\", "/")
    if name.startswith("/") or _WINDOWS_DRIVE.match(name):
        raise ArchiveRejected(f"absolute paths are not allowed: {raw}")
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise ArchiveRejected(f"path escapes the dataset folder: {raw}")
    return "/".join(part for part in parts if part not in ("", "."))


def inspect(archive: zipfile.ZipFile, limits: ArchiveLimits) -> list[Member]:
    """Every regular file in the archive, after checking the whole directory against `limits`."""
    members: list[Member] = []
    total = compressed = 0
    entries = archive.infolist()
    # Directory entries are skipped below, so they would not count toward max_files: an archive of
    # a million empty folders must not cost a million checks.
    if len(entries) > limits.entry_limit:
        raise ArchiveRejected(f"the archive holds more than {limits.entry_limit:,} entries (files and folders)")
    for info in entries:
        name = _normalised_name(info.filename)
        file_type = stat.S_IFMT(info.external_attr >> 16)  # 0 when the archiver recorded no Unix type
        if file_type == stat.S_IFLNK:
            raise ArchiveRejected(f"links are not allowed: {info.filename}")
        if file_type not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise ArchiveRejected(f"special files are not allowed: {info.filename}")
        if info.is_dir() or not name:
            continue
        if info.flag_bits & 0x1:
            raise ArchiveRejected(f"encrypted files are not supported: {info.filename}")
        if info.file_size > limits.max_member_bytes:
            raise ArchiveRejected(
                f"{info.filename} is %s uncompressed; the limit per file is %s"
                % describe_size_and_limit(info.file_size, limits.max_member_bytes)
            )
        if info.file_size > limits.ratio_floor_bytes and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            raise ArchiveRejected(
                f"{info.filename} expands {info.file_size / max(info.compress_size, 1):.0f} times: this looks like "
                "a zip bomb"
            )
        members.append(Member(name=name, size=info.file_size, info=info))
        total += info.file_size
        compressed += info.compress_size
        if len(members) > limits.max_files:
            raise ArchiveRejected(f"the archive holds more than {limits.max_files:,} files")
    if total > limits.max_total_bytes:
        total_label, limit_label = describe_size_and_limit(total, limits.max_total_bytes)
        raise ArchiveRejected(f"the archive expands to {total_label}; the limit is {limit_label}")
    if total > limits.ratio_floor_bytes and total > limits.max_ratio * max(compressed, 1):
        raise ArchiveRejected("the archive expands far more than photos do: this looks like a zip bomb")
    if not members:
        raise ArchiveRejected("the archive is empty")
    return members


def open_archive(fileobj: BinaryIO) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise ArchiveRejected(f"this is not a readable .zip file ({exc})") from exc


def read_members(archive: zipfile.ZipFile, members: list[Member]) -> Iterator[tuple[Member, bytes | None, str]]:
    """(member, data, error) for each member; data is None with a reason when it cannot be read.

    Reads at most the declared size plus one byte, so a member that inflates past its
    header's claim is caught, not inflated.
    """
    for member in members:
        try:
            with archive.open(member.info) as handle:
                data = handle.read(member.size + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError, RuntimeError) as exc:
            yield member, None, f"unreadable in the archive ({exc})"
            continue
        if len(data) != member.size:
            yield member, None, "size does not match the archive's directory"
            continue
        yield member, data, ""
