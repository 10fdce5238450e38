"""Announcing finished colorizations to the URLs API clients name, signed, retried, and never inward.

- A request (or its token) names a `callback_url`; a `Callback` row waits for the colorization.
- When the job ends (done or failed) the row is handed to the queue (task `deliver_callback`):
  delivery never runs in a web request.
- The body is JSON; `X-Hue-Signature: sha256=<hex>` is the HMAC-SHA256 of those exact bytes with
  the token's callback secret. A receiver recomputes it and compares in constant time.
- Server-side request forgery is refused twice: when the URL is given (`check_url`) and at
  delivery, when the host is resolved again and the connection goes to an address that was just
  checked (a DNS answer that changes in between cannot point it inward). Only http(s) URLs whose
  host resolves to public addresses only, or hosts an admin allows (API_CALLBACK_ALLOWED_HOSTS).
  Redirects are not followed: a 3xx answer counts as a failed attempt.
- A failed attempt is retried with exponential backoff (API_CALLBACK_RETRY_DELAY, doubling, at
  most an hour apart) until API_CALLBACK_MAX_ATTEMPTS. A task message the broker lost is sent
  again by a periodic task (`resend_lost`), API_CALLBACK_RESEND_AFTER after it was due.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from webapp.api.models import Callback, CallbackState
from webapp.core import queue
from webapp.core.jobs import JobState

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hue-Signature"
MAX_RETRY_DELAY = 3600
USER_AGENT = "Hue-Callbacks/1"


class CallbackRefused(ValueError):
    """A callback URL that may not be used; str() says why, for the person who gave it."""


# --- Which URLs ---------------------------------------------------------------------------------


def allowed_hosts() -> set[str]:
    return {host.lower().strip("[]") for host in settings.API_CALLBACK_ALLOWED_HOSTS}


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    resource: str  # the path and query
    addresses: tuple[str, ...]  # checked addresses to connect to


def resolve(host: str, port: int) -> list[str]:
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise CallbackRefused(f"The callback host “{host}” cannot be found ({exc}).") from None
    return list(dict.fromkeys(answer[4][0] for answer in answers))


def check_url(url: str) -> Target:
    """The URL's checked target, or CallbackRefused with the reason."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise CallbackRefused("The callback URL is not a valid URL.") from None
    if parts.scheme not in ("http", "https"):
        raise CallbackRefused("The callback URL must start with http:// or https://.")
    host = (parts.hostname or "").lower()
    if not host:
        raise CallbackRefused("The callback URL has no host name.")
    if parts.username or parts.password:
        raise CallbackRefused("The callback URL may not contain a user name or password.")
    port = port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port)
    if host not in allowed_hosts():
        inward = [address for address in addresses if not is_public(address)]
        if inward or not addresses:
            raise CallbackRefused(
                f"The callback host “{host}” resolves to an address that is not public ({(inward or ['none'])[0]}). "
                "Callbacks go only to public internet addresses; an administrator can allow this host "
                "(API_CALLBACK_ALLOWED_HOSTS).")
    resource = parts._replace(scheme="", netloc="", fragment="").geturl()  # "/hooks/hue?box=1"
    return Target(parts.scheme, host, port, resource if resource.startswith("/") else "/" + resource,
                  tuple(addresses))


# --- Waiting for jobs -----------------------------------------------------------------------------


def callback_url_for(request_url: str | None, token) -> str:
    """The URL a request's callback goes to: its own, else its token's (empty: none)."""
    return (request_url or "").strip() or (token.callback_url if token is not None else "")


def register(colorization, token, url: str) -> Callback | None:
    """A callback for `colorization` to `url` (already checked), signed with `token`'s secret."""
    if not url or token is None:
        return None
    return Callback.objects.create(colorization=colorization, token=token, url=url)


def job_changed(sender=None, job=None, **kwargs) -> None:
    """Signal receiver: a job that ended hands its waiting callbacks to the queue, each once."""
    if job is None or job.state not in (JobState.DONE, JobState.FAILED):
        return
    for callback_id in Callback.objects.filter(colorization_id=job.pk, state=CallbackState.WAITING).values_list(
            "pk", flat=True):
        if Callback.objects.filter(pk=callback_id, state=CallbackState.WAITING).update(
                state=CallbackState.SENDING, next_attempt_at=timezone.now()):
            transaction.on_commit(lambda pk=callback_id: send_task(pk), robust=True)


def send_task(callback_id, countdown: float | None = None) -> None:
    try:
        queue.send(queue.DELIVER_CALLBACK, callback_id, countdown=countdown)
    except Exception:
        log.warning("could not send callback %s to the broker", callback_id, exc_info=True)


def resend_lost() -> list:
    """Send again the callbacks whose task message should have run API_CALLBACK_RESEND_AFTER ago and did
    not (the broker lost it); periodic (Celery beat). Receivers tell a repeat by its X-Hue-Delivery id."""
    late = timezone.now() - timedelta(seconds=settings.API_CALLBACK_RESEND_AFTER)
    resent = []
    for callback in Callback.objects.filter(state=CallbackState.SENDING, next_attempt_at__lt=late):
        # Conditional on next_attempt_at, so two runs at once send one message, not two.
        if Callback.objects.filter(pk=callback.pk, state=CallbackState.SENDING,
                                   next_attempt_at=callback.next_attempt_at).update(next_attempt_at=timezone.now()):
            resent.append(callback.pk)
            send_task(callback.pk)
    if resent:
        log.info("sent %d lost callback messages again", len(resent))
    return resent


# --- Delivering -----------------------------------------------------------------------------------


def payload(callback: Callback) -> dict:
    from webapp.api.serializers import ColorizationSerializer

    job = callback.colorization
    return {
        "event": f"colorization.{job.state}",
        "delivery": str(callback.pk),
        "attempt": callback.attempts + 1,
        "sent_at": timezone.now().isoformat(),
        "colorization": ColorizationSerializer(job, context={"request": None}).data,
    }


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delay(attempts: int) -> float:
    return min(MAX_RETRY_DELAY, settings.API_CALLBACK_RETRY_DELAY * 2 ** max(0, attempts - 1))


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to a checked address, whatever the host name resolves to by now."""

    def __init__(self, address: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, address: str, *args, **kwargs):
        super().__init__(*args, context=ssl.create_default_context(), **kwargs)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(target: Target, body: bytes, headers: dict) -> int:
    """POST `body` to the target's first checked address; returns the status (never follows a redirect)."""
    kind = PinnedHTTPSConnection if target.scheme == "https" else PinnedHTTPConnection
    connection = kind(target.addresses[0], target.host, target.port, timeout=settings.API_CALLBACK_TIMEOUT)
    try:
        connection.request("POST", target.resource, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    finally:
        connection.close()


def deliver(callback_id) -> str:
    """One delivery attempt (the `deliver_callback` task). Returns the callback's state afterwards."""
    callback = Callback.objects.select_related("token", "colorization__photo", "colorization__model_version").filter(
        pk=callback_id).first()
    if callback is None or callback.state != CallbackState.SENDING:
        return callback.state if callback else "missing"
    body = json.dumps(payload(callback), separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               SIGNATURE_HEADER: sign(callback.token.callback_secret, body), "X-Hue-Delivery": str(callback.pk)}
    callback.attempts += 1
    try:
        target = check_url(callback.url)
    except CallbackRefused as refused:
        return finish(callback, CallbackState.FAILED, str(refused))
    try:
        status = post(target, body, headers)
    except (OSError, http.client.HTTPException) as exc:
        error = f"Could not connect or send: {exc.strerror or exc}" if isinstance(exc, OSError) else str(exc)
    else:
        if 200 <= status < 300:
            return finish(callback, CallbackState.DELIVERED, "")
        error = f"The callback URL answered {status}" + (" (redirects are not followed)" if 300 <= status < 400 else "")
    if callback.attempts >= settings.API_CALLBACK_MAX_ATTEMPTS:
        return finish(callback, CallbackState.FAILED, f"Gave up after {callback.attempts} attempts. {error}")
    Callback.objects.filter(pk=callback.pk).update(
        attempts=callback.attempts, last_error=error[:500],
        next_attempt_at=timezone.now() + timedelta(seconds=retry_delay(callback.attempts)))
    log.info("callback %s failed (%s); retrying in %.0f s", callback.pk, error, retry_delay(callback.attempts))
    send_task(callback.pk, countdown=retry_delay(callback.attempts))
    return CallbackState.SENDING


def finish(callback: Callback, state: str, error: str) -> str:
    Callback.objects.filter(pk=callback.pk).update(
        state=state, last_error=error[:500], attempts=callback.attempts,
        delivered_at=timezone.now() if state == CallbackState.DELIVERED else None)
    if state == CallbackState.FAILED:
        log.warning("callback %s to %s failed: %s", callback.pk, callback.url, error)
    return state
