"""Callbacks: signed, delivered from the queue, retried with backoff, and never sent to internal hosts."""

import hashlib
import hmac
import http.server
import io
import json
import socket
import threading

import pytest

from tests.webapp import samples
from webapp.api import callbacks
from webapp.api.models import ApiToken, Callback, CallbackState
from webapp.photos import colorizing

pytestmark = pytest.mark.django_db


class Receiver:
    """An HTTP server on this machine answering callbacks with the statuses given, in turn."""

    def __init__(self, statuses):
        self.statuses = list(statuses)
        self.received = []
        self.paths = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((dict(self.headers), body))
                receiver.paths.append(self.path)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://localhost:{self.server.server_port}/hooks/hue?box=1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver(settings):
    settings.API_CALLBACK_ALLOWED_HOSTS = ["localhost"]  # an admin allowed this host
    with Receiver([500, 302, 200]) as server:
        yield server


def upload_with_callback(api, url, **extra):
    file = io.BytesIO(samples.gray_jpeg(48, 32))
    file.name = "pier.jpg"
    return api.post("/api/v1/photos/", {"file": file, "callback_url": url}, format="multipart", **extra)


def finish_job(job_id, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        colorizing.run_colorization(job_id)


def test_a_finished_job_sends_a_signed_callback_retried_with_backoff_until_it_lands(
        api, alice_token, tiny_model, receiver, sent_callbacks, settings, django_capture_on_commit_callbacks):
    settings.API_CALLBACK_RETRY_DELAY = 10
    response = upload_with_callback(api, receiver.url)
    assert response.status_code == 201
    job_id = response.json()["job"]["id"]
    assert sent_callbacks == []  # nothing before the job ends

    finish_job(job_id, django_capture_on_commit_callbacks)
    (callback_id, countdown), = sent_callbacks
    assert countdown is None
    states = [callbacks.deliver(callback_id)]  # the task, as the worker runs it: 500
    states.append(callbacks.deliver(callback_id))  # 302: not followed
    states.append(callbacks.deliver(callback_id))  # 200

    assert states == ["sending", "sending", "delivered"]
    assert [countdown for _, countdown in sent_callbacks[1:]] == [10, 20]  # doubling
    assert receiver.paths == ["/hooks/hue?box=1"] * 3  # the redirect's target never got a request
    callback = Callback.objects.get(pk=callback_id)
    assert (callback.state, callback.attempts) == (CallbackState.DELIVERED, 3)
    headers, body = receiver.received[-1]
    expected = "sha256=" + hmac.new(alice_token.callback_secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Hue-Signature"] == expected
    event = json.loads(body)
    assert (event["event"], event["colorization"]["id"], event["attempt"]) == ("colorization.done", job_id, 3)
    assert event["colorization"]["result_png_url"].endswith(f"/api/v1/colorizations/{job_id}/result.png")
    assert callbacks.deliver(callback_id) == "delivered" and len(receiver.received) == 3  # a duplicate message


def test_a_callback_gives_up_after_its_attempts_and_says_why(api, tiny_model, receiver, sent_callbacks, settings,
                                                           django_capture_on_commit_callbacks):
    settings.API_CALLBACK_MAX_ATTEMPTS = 1
    job_id = upload_with_callback(api, receiver.url).json()["job"]["id"]
    finish_job(job_id, django_capture_on_commit_callbacks)

    assert callbacks.deliver(sent_callbacks[0][0]) == "failed"
    callback = Callback.objects.get()
    assert "answered 500" in callback.last_error and len(sent_callbacks) == 1


def test_the_tokens_callback_url_is_used_when_a_request_names_none(alice, tiny_model, receiver, sent_callbacks,
                                                                  django_capture_on_commit_callbacks):
    from rest_framework.test import APIClient

    token, key = ApiToken.issue(alice, "with hook", callback_url=receiver.url)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    job_id = upload_with_callback(client, "").json()["job"]["id"]
    finish_job(job_id, django_capture_on_commit_callbacks)

    assert callbacks.deliver(sent_callbacks[0][0]) == "sending"  # the receiver's first answer is a 500
    assert Callback.objects.get().url == receiver.url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/admin/", "http://localhost/", "http://10.1.2.3/hook",
                                 "http://169.254.169.254/latest/meta-data/", "http://[::1]/", "ftp://example.com/x",
                                 "http://user:pw@example.com/", "http://0.0.0.0/"])
def test_a_callback_to_an_internal_or_odd_address_is_refused_when_asked(api, url):
    response = upload_with_callback(api, url)

    assert response.status_code == 400
    assert response.json()["error"].startswith("callback_url:")
    assert not Callback.objects.exists()


def test_a_host_that_turns_internal_after_the_check_is_refused_at_delivery(api, tiny_model, sent_callbacks,
                                                                           monkeypatch,
                                                                           django_capture_on_commit_callbacks):
    answers = {"hooks.example.org": "93.184.216.34"}  # public when the request is made

    def resolve(host, port, *args, **kwargs):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(callbacks.socket, "getaddrinfo", resolve)
    connections = []
    monkeypatch.setattr(callbacks.socket, "create_connection", lambda *args, **kwargs: connections.append(args))
    job_id = upload_with_callback(api, "https://hooks.example.org/done").json()["job"]["id"]
    finish_job(job_id, django_capture_on_commit_callbacks)

    answers["hooks.example.org"] = "10.0.0.7"  # DNS rebinding: now inward
    state = callbacks.deliver(sent_callbacks[0][0])

    assert state == "failed" and connections == []
    assert "not public (10.0.0.7)" in Callback.objects.get().last_error


def test_callbacks_need_a_token_to_be_signed_with(client, alice, receiver):
    client.force_login(alice)

    response = client.post("/api/v1/photos/", {"file": io.BytesIO(samples.gray_jpeg()), "callback_url": receiver.url})

    assert response.status_code == 400
    assert "need an API token" in response.json()["error"]


def test_a_failed_job_is_announced_too(api, receiver, sent_callbacks, django_capture_on_commit_callbacks):
    job_id = upload_with_callback(api, receiver.url).json()["job"]["id"]  # no model is active: it fails

    finish_job(job_id, django_capture_on_commit_callbacks)

    assert len(sent_callbacks) == 1
    receiver.statuses = [200]
    assert callbacks.deliver(sent_callbacks[0][0]) == "delivered"
    assert json.loads(receiver.received[0][1])["event"] == "colorization.failed"


def test_a_callback_whose_message_the_broker_lost_is_sent_again_once(api, tiny_model, receiver, sent_callbacks,
                                                                     settings, django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.utils import timezone

    settings.API_CALLBACK_RESEND_AFTER = 300
    lost, recent = (upload_with_callback(api, receiver.url).json()["job"]["id"] for _ in range(2))
    for job_id in (lost, recent):
        finish_job(job_id, django_capture_on_commit_callbacks)
    sent_callbacks.clear()  # both messages "lost": the broker was emptied
    Callback.objects.filter(colorization_id=lost).update(next_attempt_at=timezone.now() - timedelta(seconds=301))

    first, second = callbacks.resend_lost(), callbacks.resend_lost()

    lost_callback = Callback.objects.get(colorization_id=lost)
    assert first == [lost_callback.pk] and second == []
    assert sent_callbacks == [(str(lost_callback.pk), None)]
