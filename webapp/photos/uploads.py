"""Keeping oversized uploads from being stored before inspect_upload can refuse them.

Two places, because the production server speaks ASGI: Django's ASGI handler reads a
whole request body (to a temporary file) before any view or upload handler runs.

- `RefuseOversizedUploads`, around the ASGI app, answers an upload whose declared
  Content-Length is over the limit at once, without reading its body: one photo for
  the page's script (one file per request), UPLOAD_MAX_BYTES per file for the plain form.
- `PhotoSizeLimit`, the upload view's first upload handler, stops keeping a file once it
  passes UPLOAD_MAX_BYTES: the handlers after it (memory, temporary file) get no more of
  it, and the view gets a `TooLargeUpload`, which inspect_upload refuses with its usual
  message beside the file's name while the other files of the request go on.
"""

from __future__ import annotations

import io
import json

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.urls import reverse

from webapp.photos.images import describe_bytes

# Room in a request for what is not the photo: multipart boundaries and part headers (with the
# file's name), the CSRF field.
REQUEST_OVERHEAD = 64 * 1024


class TooLargeUpload(UploadedFile):
    """A file that went over the limit while it arrived: its name and full size, none of its bytes."""

    def __init__(self, name: str, content_type: str, size: int, charset: str | None, content_type_extra=None):
        super().__init__(io.BytesIO(), name, content_type, size, charset, content_type_extra)


class PhotoSizeLimit(FileUploadHandler):
    """An upload handler that lets each file through to the next handlers up to `max_bytes`, then
    only counts it. What the next handlers kept of it (at most `max_bytes`) is dropped with them."""

    def __init__(self, request, max_bytes: int):
        super().__init__(request)
        self.max_bytes = max_bytes
        self.too_large = False

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > self.max_bytes:
            self.too_large = True
        return None if self.too_large else raw_data

    def file_complete(self, file_size: int) -> UploadedFile | None:
        if not self.too_large:
            return None  # the next handler's file, complete
        return TooLargeUpload(self.file_name, self.content_type, file_size, self.charset, self.content_type_extra)


class RefuseOversizedUploads:
    """ASGI middleware: a POST to the upload page declaring more bytes than it may hold gets 413 at once."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST" and is_upload_page(scope):
            headers = dict(scope["headers"])
            script = b"application/json" in headers.get(b"accept", b"")
            declared, allowed = content_length(headers), allowed_bytes(script)
            if declared is not None and allowed is not None and declared > allowed:
                await refuse(send, declared, script)
                return
        await self.app(scope, receive, send)


def is_upload_page(scope) -> bool:
    root = scope.get("root_path", "")
    path = scope["path"][len(root):] if root and scope["path"].startswith(root) else scope["path"]
    return path == reverse("photos:upload")


def content_length(headers: dict) -> int | None:
    try:
        return int(headers[b"content-length"])
    except (KeyError, ValueError):
        return None  # chunked: the upload handler still caps each file


def allowed_bytes(script: bool) -> int | None:
    """The most a request may declare; None: no cap (the plain form with no limit on its number of files)."""
    files = 1 if script else settings.DATA_UPLOAD_MAX_NUMBER_FILES
    return None if files is None else files * (settings.UPLOAD_MAX_BYTES + REQUEST_OVERHEAD)


async def refuse(send, declared: int, script: bool) -> None:
    limit = describe_bytes(settings.UPLOAD_MAX_BYTES)
    if script:
        message = f"This file is {describe_bytes(declared)}; the limit is {limit} per photo."
        body, content_type = json.dumps({"error": message}).encode(), b"application/json"
    else:
        message = (f"This upload is {describe_bytes(declared)}, more than "
                   f"{settings.DATA_UPLOAD_MAX_NUMBER_FILES} photos of up to {limit} each. "
                   "Go back and choose fewer or smaller photos.")
        body, content_type = message.encode(), b"text/plain; charset=utf-8"
    # The body is never read: the server closes the connection after the answer.
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
