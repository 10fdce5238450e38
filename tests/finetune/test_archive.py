"""The zip trap corpus: nothing in an archive can escape, explode or masquerade."""

import io
import stat
import zipfile

import pytest

from webapp.finetune.archive import ArchiveLimits, ArchiveRejected, inspect, open_archive, read_members


def make_zip(entries, compression=zipfile.ZIP_DEFLATED) -> zipfile.ZipFile:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for entry in entries:
            if isinstance(entry, zipfile.ZipInfo):
                archive.writestr(entry, b"target")
            else:
                name, data = entry
                archive.writestr(name, data)
    buffer.seek(0)
    return zipfile.ZipFile(buffer)


def symlink(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


@pytest.mark.parametrize("name", ["../evil.jpg", "photos/../../evil.jpg", "a/b/../../../evil.jpg", "..\\evil.jpg"])
def test_it_rejects_paths_that_escape_the_folder(name):
    with pytest.raises(ArchiveRejected, match="escapes"):
        inspect(make_zip([("ok.jpg", b"x"), (name, b"x")]), ArchiveLimits())


@pytest.mark.parametrize("name", ["/etc/cron.d/evil", "C:\\Windows\\evil.jpg", "\\\\server\\share\\evil.jpg"])
def test_it_rejects_absolute_paths(name):
    with pytest.raises(ArchiveRejected, match="absolute"):
        inspect(make_zip([(name, b"x")]), ArchiveLimits())


def test_it_rejects_links():
    with pytest.raises(ArchiveRejected, match="links are not allowed"):
        inspect(make_zip([("photo.jpg", b"x"), symlink("sneaky.jpg")]), ArchiveLimits())


def test_it_rejects_device_files():
    info = zipfile.ZipInfo("dev.jpg")
    info.external_attr = (stat.S_IFCHR | 0o666) << 16
    with pytest.raises(ArchiveRejected, match="special files"):
        inspect(make_zip([info]), ArchiveLimits())


def test_it_rejects_a_zip_bomb():
    bomb = make_zip([("photo.jpg", b"\0" * (20 * 1024 * 1024))])
    with pytest.raises(ArchiveRejected, match="zip bomb"):
        inspect(bomb, ArchiveLimits())


def test_it_rejects_an_archive_over_the_total_size_limit():
    archive = make_zip([(f"{i}.jpg", bytes(range(256)) * 40) for i in range(5)], compression=zipfile.ZIP_STORED)
    with pytest.raises(ArchiveRejected, match="expands to"):
        inspect(archive, ArchiveLimits(max_total_bytes=40_000))


def test_it_rejects_a_member_over_the_per_file_limit():
    archive = make_zip([("huge.jpg", b"x" * 5000)], compression=zipfile.ZIP_STORED)
    with pytest.raises(ArchiveRejected, match="limit per file"):
        inspect(archive, ArchiveLimits(max_member_bytes=4000))


def test_it_rejects_ten_thousand_tiny_files_over_the_count_limit():
    archive = make_zip([(f"tiny/{i}.jpg", b"x") for i in range(10_000)], compression=zipfile.ZIP_STORED)
    with pytest.raises(ArchiveRejected, match="more than 5,000 files"):
        inspect(archive, ArchiveLimits(max_files=5_000))


def test_it_lists_ten_thousand_tiny_files_within_the_limit_quickly():
    archive = make_zip([(f"tiny/{i}.jpg", b"x") for i in range(10_000)], compression=zipfile.ZIP_STORED)
    members = inspect(archive, ArchiveLimits())
    assert len(members) == 10_000


def test_it_refuses_something_that_is_not_a_zip():
    with pytest.raises(ArchiveRejected, match="not a readable .zip"):
        open_archive(io.BytesIO(b"this is a text file renamed .zip"))


def test_it_refuses_an_empty_archive():
    with pytest.raises(ArchiveRejected, match="empty"):
        inspect(make_zip([]), ArchiveLimits())


def test_it_skips_directories_and_normalises_names():
    archive = make_zip([("set/", b""), ("set/./a.jpg", b"1"), ("set\\b.jpg", b"2")])
    names = [member.name for member in inspect(archive, ArchiveLimits())]
    assert names == ["set/a.jpg", "set/b.jpg"]


def test_it_reads_members_with_their_declared_size():
    archive = make_zip([("a.jpg", b"abc"), ("b.txt", b"hello")])
    results = [(member.name, data, error) for member, data, error in read_members(archive, inspect(archive, ArchiveLimits()))]
    assert results == [("a.jpg", b"abc", ""), ("b.txt", b"hello", "")]


def test_it_never_inflates_past_a_lying_header():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("liar.jpg", b"A" * 100_000)
    raw = bytearray(buffer.getvalue())
    # Shrink the declared uncompressed size in the central directory to 10 bytes.
    central = raw.rfind(b"PK\x01\x02")
    raw[central + 24:central + 28] = (10).to_bytes(4, "little")
    archive = zipfile.ZipFile(io.BytesIO(bytes(raw)))

    [(member, data, error)] = list(read_members(archive, inspect(archive, ArchiveLimits())))

    assert member.size == 10
    assert data is None or len(data) == 10


def test_it_counts_directory_entries_toward_a_cap_on_every_entry():
    folders = make_zip([(f"empty/{i}/", b"") for i in range(20_000)] + [("a.jpg", b"x")],
                       compression=zipfile.ZIP_STORED)
    with pytest.raises(ArchiveRejected, match="more than 20 entries"):
        inspect(folders, ArchiveLimits(max_files=10))


def test_folders_for_the_files_allowed_fit_under_the_entry_cap():
    archive = make_zip([(f"set/{i}/", b"") for i in range(5)] + [(f"set/{i}/a.jpg", b"x") for i in range(5)])
    assert len(inspect(archive, ArchiveLimits(max_files=5))) == 5
