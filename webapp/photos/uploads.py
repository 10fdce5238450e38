"""Keeping oversized photos of the plain form from being stored before inspect_upload can refuse them.

The whole request is held to its limit before Django reads it (webapp.core.limits). Within
it, `PhotoSizeLimit`, the upload view's first upload handler, stops keeping a file once it
passes UPLOAD_MAX_BYTES: the handlers after it (memory, temporary file) get no more of it,
and the view gets a `TooLargeUpload`, which inspect_upload refuses with its usual message
beside the file's name while the other files of the request go on.
"""

from __future__ import annotations

import io

from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

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
