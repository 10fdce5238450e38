"""Request bodies are held to a limit for their route before any byte of them reaches the disk.

Django's ASGI handler reads a whole request body (into memory, then a temporary file) before
any middleware or view runs, so the limits live in ASGI middleware around it:

- `RequestBodyLimits` answers 413 with a message that says the limit, at once when the declared
  Content-Length is over it, and as soon as the bytes received pass it when the body is chunked
  (or lies about its length): Django is told the client left, and never gets more.
  The limit depends on the route and on who sends it (`limit_for`):
  * visitors who are not signed in: ANONYMOUS_REQUEST_MAX_BYTES on every route;
  * the upload page's script (one photo per request): UPLOAD_MAX_BYTES and room for the form;
  * the upload page's plain form (many photos): UPLOAD_FORM_MAX_BYTES in all;
  * an HTTP API upload (/api/v1/photos/, one photo, a session or an API token): as the page's script;
  * a dataset archive (admin, staff only): DATASET_MAX_ARCHIVE_BYTES;
  * a generator file (admin, staff only): MODEL_UPLOAD_MAX_BYTES;
  * any other route: REQUEST_MAX_BYTES.
  The session is looked up only when a body passes the anonymous limit.
- Bodies in flight together may not fill the disk: each one reserves room on the disk Django
  spools to (twice its size: the body, then the uploaded files parsed from it), and a body that
  would leave less than REQUEST_DISK_RESERVE_BYTES free is answered 503 with Retry-After.
- `BodyLengthASGIHandler` gives a chunked body (no Content-Length) its length once it has been
  received, so that Django parses it (a chunked multipart upload is otherwise read as empty).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from importlib import import_module

from channels.db import database_sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.http import parse_cookie
from django.urls import Resolver404, resolve

from webapp.core.sizes import describe_bytes, describe_size_and_limit

# Room in a request for what is not the file itself: multipart boundaries, part headers (the file's
# name), the CSRF token and the form's other fields.
FORM_OVERHEAD = 64 * 1024
# Django keeps a body, then the files parsed from it, on disk while a request runs.
DISK_COPIES = 2
RETRY_AFTER_SECONDS = 60
API_UPLOAD_ROUTE = "api:photo-list"


@dataclass(frozen=True)
class Limit:
    max_bytes: int
    what: str  # "This {what} is ..."
    advice: str = ""
    json: bool = False  # answered as {"error": message} (the upload page's script)
    depends_on_user: bool = False  # a signed-in user (or staff) may send more: look the session up


# --- Which limit --------------------------------------------------------------------------------


def route_name(scope) -> str:
    root = scope.get("root_path", "")
    path = scope["path"][len(root):] if root and scope["path"].startswith(root) else scope["path"]
    try:
        return resolve(path).view_name
    except Resolver404:
        return ""


def wants_json(scope) -> bool:
    return any(name == b"accept" and b"application/json" in value for name, value in scope.get("headers", []))


def limit_for(scope, user=None) -> Limit:
    """The body limit of this request; `user` None: not looked up yet (a visitor's limit, for now)."""
    route = route_name(scope)
    signed_in = user is not None and user.is_authenticated
    staff = signed_in and user.is_active and user.is_staff
    if route == "photos:upload" and signed_in:
        if wants_json(scope):
            return Limit(settings.UPLOAD_MAX_BYTES + FORM_OVERHEAD, "file", "per photo", json=True)
        return Limit(settings.UPLOAD_FORM_MAX_BYTES, "upload", "in one go. Go back and choose fewer or smaller photos")
    if route == API_UPLOAD_ROUTE and signed_in:
        return Limit(settings.UPLOAD_MAX_BYTES + FORM_OVERHEAD, "file", "per photo", json=True)
    if route == "admin:finetune_dataset_add" and staff:
        return Limit(settings.DATASET_MAX_ARCHIVE_BYTES + FORM_OVERHEAD, "archive",
                     "(DATASET_MAX_ARCHIVE_BYTES); register a larger set as a server folder instead")
    if route == "admin:registry_modelversion_add" and staff:
        return Limit(settings.MODEL_UPLOAD_MAX_BYTES + FORM_OVERHEAD, "generator file", "(MODEL_UPLOAD_MAX_BYTES)")
    if signed_in:
        return Limit(settings.REQUEST_MAX_BYTES, "request", "for this page", json=route.startswith("api:"))
    return Limit(settings.ANONYMOUS_REQUEST_MAX_BYTES, "request", "before you sign in",
                 json=(route == "photos:upload" and wants_json(scope)) or route.startswith("api:"),
                 depends_on_user=user is None)


@database_sync_to_async
def user_of(scope):
    """The signed-in user of the request's session cookie, or of its API token (AnonymousUser without one)."""
    from django.contrib.auth import get_user
    from django.http import HttpRequest

    cookies = {}
    for name, value in scope.get("headers", []):
        if name == b"cookie":
            cookies.update(parse_cookie(value.decode("latin1")))
        elif name == b"authorization" and route_name(scope).startswith("api:"):
            from webapp.api.auth import user_for_authorization

            user = user_for_authorization(value.decode("latin1"))
            if user is not None:
                return user
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(cookies.get(settings.SESSION_COOKIE_NAME))
    return get_user(request)


# --- The disk -----------------------------------------------------------------------------------


def spool_directory() -> str:
    return settings.FILE_UPLOAD_TEMP_DIR or tempfile.gettempdir()


def free_disk_bytes() -> int:
    return shutil.disk_usage(spool_directory()).free


class DiskBudget:
    """Room on the spool disk promised to the bodies this process is receiving.

    A body may take `n` more bytes when the disk's free space, less what other bodies have been
    promised and not written yet, stays above REQUEST_DISK_RESERVE_BYTES after `n` x DISK_COPIES.
    """

    def __init__(self):
        self.promised = {}  # request -> bytes promised and not yet received

    def claim(self, owner, size: int) -> bool:
        outstanding = sum(self.promised.values())
        if free_disk_bytes() - outstanding - size * DISK_COPIES < settings.REQUEST_DISK_RESERVE_BYTES:
            return False
        self.promised[owner] = self.promised.get(owner, 0) + size * DISK_COPIES
        return True

    def received(self, owner, size: int) -> None:
        if owner in self.promised:
            self.promised[owner] = max(0, self.promised[owner] - size * DISK_COPIES)

    def release(self, owner) -> None:
        self.promised.pop(owner, None)


budget = DiskBudget()


# --- The middleware -------------------------------------------------------------------------------


class BodyRefused(Exception):
    def __init__(self, status: int, message: str, json_body: bool):
        super().__init__(message)
        self.status, self.message, self.json_body = status, message, json_body


def too_large(limit: Limit, size: int | None) -> BodyRefused:
    if size is None:  # chunked: its full size is not known
        said = f"more than {describe_bytes(limit.max_bytes)}"
        message = f"This {limit.what} is {said}; the limit is {describe_bytes(limit.max_bytes)} {limit.advice}."
    else:
        size_label, limit_label = describe_size_and_limit(size, limit.max_bytes)
        message = f"This {limit.what} is {size_label}; the limit is {limit_label} {limit.advice}."
    return BodyRefused(413, message.replace(" .", "."), limit.json)


def disk_full(limit: Limit) -> BodyRefused:
    return BodyRefused(503, "The server is short of disk space for uploads right now. Try again in a minute.",
                       limit.json)


def declared_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


class RequestBodyLimits:
    """ASGI middleware (HTTP): refuse a body over its route's limit, or one the disk has no room for,
    before the application stores it."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        guard = BodyGuard(scope, receive)
        try:
            try:
                await guard.admit()
            except BodyRefused as refusal:
                await answer(send, refusal)
                return
            started = False

            async def tracked_send(message):
                nonlocal started
                started = started or message["type"] == "http.response.start"
                await send(message)

            await self.app(scope, guard.receive, tracked_send)
            if guard.refusal is not None and not started:
                await answer(send, guard.refusal)
        finally:
            budget.release(guard)


class BodyGuard:
    """One request's body: its limit, what has arrived, its room on the disk."""

    def __init__(self, scope, receive):
        self.scope, self._receive = scope, receive
        self.limit = limit_for(scope)
        self.declared: int | None = None
        self.received_bytes = 0
        self.refusal: BodyRefused | None = None

    async def settle_limit(self, size: int) -> None:
        """Raise BodyRefused when `size` bytes are over the limit, once the sender is known."""
        if size <= self.limit.max_bytes:
            return
        if self.limit.depends_on_user:
            self.limit = limit_for(self.scope, await user_of(self.scope))
            if size <= self.limit.max_bytes:
                return
        raise too_large(self.limit, size if self.declared is not None else None)

    async def admit(self) -> None:
        self.declared = declared_length(self.scope)
        if self.declared is not None:
            await self.settle_limit(self.declared)
            if self.declared and not budget.claim(self, self.declared):
                raise disk_full(self.limit)

    async def receive(self):
        message = await self._receive()
        if message["type"] != "http.request" or self.refusal is not None:
            return message
        chunk = len(message.get("body", b""))
        self.received_bytes += chunk
        try:
            if self.declared is None or self.received_bytes > self.declared:
                # Chunked, or more than it declared: held to the limit and the disk as it arrives.
                if self.declared is not None:
                    self.declared = None
                await self.settle_limit(self.received_bytes)
                if chunk and not budget.claim(self, chunk):
                    raise disk_full(self.limit)
        except BodyRefused as refusal:
            self.refusal = refusal
            return {"type": "http.disconnect"}  # Django drops what it read and answers nothing
        budget.received(self, chunk)
        return message


async def answer(send, refusal: BodyRefused) -> None:
    if refusal.json_body:
        body, content_type = json.dumps({"error": refusal.message}).encode(), b"application/json"
    else:
        body, content_type = refusal.message.encode(), b"text/plain; charset=utf-8"
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]  # the rest of the body is never read
    if refusal.status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER_SECONDS).encode()))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# --- Chunked bodies -------------------------------------------------------------------------------


class BodyLengthRequest(ASGIRequest):
    """A request whose body came chunked gets the length it turned out to have."""

    def __init__(self, scope, body_file):
        super().__init__(scope, body_file)
        if "CONTENT_LENGTH" not in self.META:
            body_file.seek(0, 2)
            self.META["CONTENT_LENGTH"] = str(body_file.tell())
            body_file.seek(0)


class BodyLengthASGIHandler(ASGIHandler):
    request_class = BodyLengthRequest
