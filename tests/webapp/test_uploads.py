"""Oversized uploads are refused before they are stored: per file by the upload handler, per request at the door."""

import io
import json

import pytest
from django.core.files.uploadhandler import FileUploadHandler, MemoryFileUploadHandler, TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParser
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from tests.webapp import samples
from webapp.asgi import application
from webapp.photos.uploads import PhotoSizeLimit, RefuseOversizedUploads, TooLargeUpload


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


# --- At the door: the declared Content-Length --------------------------------------------------


def upload_scope(content_length: int, script: bool = True) -> dict:
    headers = [(b"host", b"testserver"), (b"content-type", b"multipart/form-data; boundary=x"),
               (b"content-length", str(content_length).encode())]
    if script:
        headers.append((b"accept", b"application/json"))
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": "/upload/", "raw_path": b"/upload/", "root_path": "", "query_string": b"", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}


async def never_read():
    raise AssertionError("the request body was read")


async def answer(app, scope) -> list[dict]:
    sent = []

    async def send(message):
        sent.append(message)

    await app(scope, never_read, send)
    return sent


@pytest.mark.asyncio
async def test_a_script_upload_declaring_more_than_one_photo_is_refused_unread(settings):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024

    sent = await answer(application, upload_scope(3 * 1024 * 1024 * 1024))

    assert sent[0]["status"] == 413
    assert json.loads(sent[1]["body"]) == {"error": "This file is 3072 MB; the limit is 1 MB per photo."}


@pytest.mark.asyncio
async def test_the_plain_form_may_declare_up_to_its_number_of_photos(settings):
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 10
    passed = []

    async def app(scope, receive, send):
        passed.append(scope["path"])

    refused = await answer(RefuseOversizedUploads(app), upload_scope(11 * 1024 * 1024, script=False))
    await answer(RefuseOversizedUploads(app), upload_scope(9 * 1024 * 1024, script=False))
    await answer(RefuseOversizedUploads(app), upload_scope(900 * 1024, script=True))

    assert refused[0]["status"] == 413 and b"more than 10 photos of up to 1 MB each" in refused[1]["body"]
    assert passed == ["/upload/", "/upload/"]
