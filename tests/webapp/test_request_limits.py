"""Every route holds request bodies to its limit before they are stored, chunked or not, and bodies
received together never fill the disk."""

import asyncio
import json

import pytest
from asgiref.sync import sync_to_async
from django.test import Client
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart

from tests.webapp import samples
from webapp.asgi import application
from webapp.core import limits

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

KB = 1024
MB = 1024 * 1024


def session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}".encode()


async def scope_for(path: str, user=None, length: int | None = None, script: bool = False,
                    content_type: bytes = b"multipart/form-data; boundary=x") -> dict:
    headers = [(b"host", b"testserver"), (b"content-type", content_type)]
    if length is not None:
        headers.append((b"content-length", str(length).encode()))
    else:
        headers.append((b"transfer-encoding", b"chunked"))
    if script:
        headers.append((b"accept", b"application/json"))
    if user is not None:
        headers.append((b"cookie", await sync_to_async(session_cookie)(user)))
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
            "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"", "headers": headers,
            "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}


class Body:
    """A request body sent in chunks, counting what the server asked for."""

    def __init__(self, chunks=None, endless_chunk: bytes | None = None):
        self.chunks = list(chunks or [])
        self.endless_chunk = endless_chunk
        self.taken = 0

    async def receive(self):
        if self.chunks:
            chunk = self.chunks.pop(0)
            self.taken += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}
        if self.endless_chunk is not None:
            self.taken += len(self.endless_chunk)
            return {"type": "http.request", "body": self.endless_chunk, "more_body": True}
        await asyncio.Event().wait()  # the client waits for the answer


async def never_read():
    raise AssertionError("the request body was read")


async def call(scope, receive, app=application) -> tuple[int, dict, bytes]:
    sent = []

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body


async def test_it_refuses_a_visitors_large_post_to_the_login_page_unread():
    status, headers, body = await call(await scope_for("/accounts/login/", length=200 * MB), never_read)

    assert status == 413 and headers[b"connection"] == b"close"
    assert body.decode() == "This request is 200 MB; the limit is 64 KB before you sign in."


async def test_it_stops_reading_a_visitors_chunked_body_once_it_passes_the_limit(settings):
    body = Body(endless_chunk=b"x" * (16 * KB))

    status, _, message = await call(await scope_for("/accounts/login/"), body.receive)

    assert status == 413 and message.decode() == "This request is more than 64 KB; the limit is 64 KB before you sign in."
    assert body.taken <= settings.ANONYMOUS_REQUEST_MAX_BYTES + 16 * KB


async def test_it_refuses_a_script_upload_of_more_than_one_photo_unread(settings, alice):
    settings.UPLOAD_MAX_BYTES = 1 * MB

    status, _, body = await call(await scope_for("/upload/", alice, length=3 * 1024 * MB, script=True), never_read)

    assert status == 413
    assert json.loads(body) == {"error": "This file is 3072 MB; the limit is 1.1 MB per photo."}


async def test_it_holds_a_chunked_script_upload_to_one_photo(settings, alice):
    settings.UPLOAD_MAX_BYTES = 1 * MB
    body = Body(endless_chunk=b"x" * (64 * KB))

    status, _, message = await call(await scope_for("/upload/", alice, script=True), body.receive)

    assert status == 413 and json.loads(message)["error"].startswith("This file is more than 1.1 MB")
    assert body.taken <= settings.UPLOAD_MAX_BYTES + limits.FORM_OVERHEAD + 64 * KB


async def test_it_caps_the_plain_forms_total(settings, alice):
    settings.UPLOAD_FORM_MAX_BYTES = 10 * MB
    settings.DATA_UPLOAD_MAX_NUMBER_FILES = 100  # 100 files x 25 MB may no longer be declared

    status, _, body = await call(await scope_for("/upload/", alice, length=100 * 25 * MB), never_read)

    assert status == 413
    assert body.decode() == ("This upload is 2500 MB; the limit is 10 MB in one go. "
                             "Go back and choose fewer or smaller photos.")


async def test_it_lets_only_staff_send_a_dataset_archive_past_the_page_limit(settings, alice, staff):
    settings.DATASET_MAX_ARCHIVE_BYTES = 50 * MB
    path = "/admin/finetune/dataset/add/"

    refused, _, body = await call(await scope_for(path, alice, length=20 * MB), never_read)
    over, _, _ = await call(await scope_for(path, staff, length=51 * MB), never_read)
    admitted, _, _ = await call(await scope_for(path, staff, length=20 * MB), never_read,
                                app=limits.RequestBodyLimits(answer_ok))

    assert (refused, over, admitted) == (413, 413, 200)
    assert body.decode() == "This request is 20 MB; the limit is 1 MB for this page."


async def answer_ok(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def test_bodies_received_together_never_fill_the_disk(settings, monkeypatch, alice):
    """Two script uploads of 1 MB each arrive at once on a disk with room for one of them."""
    settings.REQUEST_DISK_RESERVE_BYTES = 100 * MB
    monkeypatch.setattr(limits, "free_disk_bytes", lambda: 100 * MB + 3 * MB)  # room for 1.5 photos (x2 copies)
    first_arrived = asyncio.Event()

    async def slow_app(scope, receive, send):  # reads the first chunk, then waits with the rest promised
        await receive()
        first_arrived.set()
        await asyncio.Event().wait()

    first = asyncio.create_task(call(await scope_for("/upload/", alice, length=1 * MB, script=True),
                                     Body([b"x" * KB, b"x" * (MB - KB)]).receive, app=limits.RequestBodyLimits(slow_app)))
    await first_arrived.wait()
    status, headers, body = await call(await scope_for("/upload/", alice, length=1 * MB, script=True), never_read)
    first.cancel()

    assert status == 503 and headers[b"retry-after"] == b"60"
    assert json.loads(body) == {"error": "The server is short of disk space for uploads right now. Try again in a minute."}
    await asyncio.gather(first, return_exceptions=True)
    assert limits.budget.promised == {}


async def test_a_chunked_multipart_upload_is_read_and_accepted(alice, tiny_model, sent_tasks):
    photo = samples.gray_jpeg()
    form = encode_multipart(BOUNDARY, {"files": [named(photo, "grandma.jpg")]})
    chunks = [form[start:start + 4096] for start in range(0, len(form), 4096)]
    scope = await scope_for("/upload/", alice, script=True, content_type=MULTIPART_CONTENT.encode())
    await sync_to_async(add_csrf)(scope)

    status, _, body = await call(scope, Body(chunks).receive)

    assert status == 201, body
    assert json.loads(body)["photo"]["name"] == "grandma.jpg" and len(sent_tasks) == 1


def add_csrf(scope) -> None:
    token = "a" * 32
    scope["headers"] = [(name, value + f"; csrftoken={token}".encode() if name == b"cookie" else value)
                        for name, value in scope["headers"]] + [(b"x-csrftoken", token.encode())]


def named(data: bytes, name: str):
    import io

    file = io.BytesIO(data)
    file.name = name
    return file
