"""Oversized photos of the plain form are dropped while they arrive, by the upload handler (the whole
request is held to its limit before that: test_request_limits)."""

import io
from django.core.files.uploadhandler import FileUploadHandler, MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParser
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from tests.webapp import samples
from webapp.photos.uploads import PhotoSizeLimit, TooLargeUpload


class Counting(FileUploadHandler):
    """Stands for the handlers after the limit (memory, temporary file): counts what reaches them."""

    def __init__(self, request=None):
        super().__init__(request)
        self.received = {}

    def receive_data_chunk(self, raw_data, start):
        self.received[self.file_name] = self.received.get(self.file_name, 0) + len(raw_data)
        return raw_data

    def file_complete(self, file_size):
        return None


def parse(files: dict[str, bytes], handlers: list) -> dict:
    body = encode_multipart(BOUNDARY, {"files": [named(data, name) for name, data in files.items()]})
    meta = {"CONTENT_TYPE": MULTIPART_CONTENT, "CONTENT_LENGTH": str(len(body))}
    _, parsed = MultiPartParser(meta, io.BytesIO(body), handlers).parse()
    return {file.name: file for file in parsed.getlist("files")}


def named(data: bytes, name: str) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = name
    return file


def test_it_stops_passing_a_file_on_once_it_is_over_the_limit_and_keeps_its_size(settings):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 0  # spool to temporary files, as large uploads do
    big = samples.noise_jpeg(600, 600)
    small = samples.gray_jpeg()
    counting = Counting()

    files = parse({"small.jpg": small, "big.jpg": big, "after.jpg": small},
                  [PhotoSizeLimit(None, max_bytes=100 * 1024), counting, TemporaryFileUploadHandler()])

    assert len(big) > 300 * 1024
    assert isinstance(files["big.jpg"], TooLargeUpload)
    assert (files["big.jpg"].size, files["big.jpg"].read()) == (len(big), b"")
    assert 0 < counting.received["big.jpg"] <= 100 * 1024  # passed on up to the limit, then no more
    assert files["small.jpg"].read() == small and files["after.jpg"].read() == small  # the others go on


def test_files_within_the_limit_are_the_next_handlers_files():
    small = samples.gray_jpeg()

    files = parse({"small.jpg": small}, [PhotoSizeLimit(None, max_bytes=len(small)), MemoryFileUploadHandler()])

    assert not isinstance(files["small.jpg"], TooLargeUpload)
    assert files["small.jpg"].read() == small
