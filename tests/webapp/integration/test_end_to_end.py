"""An upload goes through a real Celery worker and real Redis, and the result is pushed over the websocket."""

import io

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from PIL import Image

from tests.webapp import samples
from tests.webapp.conftest import upload
from tests.webapp.harness import worker_in_thread
from tests.webapp.test_consumers import session_headers
from webapp.asgi import application
from webapp.photos import events

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def next_event(socket: WebsocketCommunicator, timeout: float = 300) -> dict:
    """The next message: the bound only ends a test whose event never comes (a loaded machine is slow)."""
    return await socket.receive_json_from(timeout=timeout)


async def test_an_upload_is_colorized_by_a_worker_and_pushed_to_its_owner_only(alice, stranger, tiny_model,
                                                                              shared_redis):
    owner = WebsocketCommunicator(application, "/ws/jobs/", headers=await sync_to_async(session_headers)(alice))
    other = WebsocketCommunicator(application, "/ws/jobs/", headers=await sync_to_async(session_headers)(stranger))
    anonymous = WebsocketCommunicator(application, "/ws/jobs/", headers=await sync_to_async(session_headers)(None))
    assert (await owner.connect())[0] and (await other.connect())[0]
    assert not (await anonymous.connect())[0]
    assert (await next_event(owner))["jobs"] == [] and (await next_event(other))["jobs"] == []

    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    with worker_in_thread(shared_redis):
        response = await sync_to_async(browser.post)(
            "/upload/", {"files": upload(samples.gray_jpeg(160, 120), name="harbour.jpg")},
            HTTP_ACCEPT="application/json")
        assert response.status_code == 201
        job_id = response.json()["job"]["id"]

        states = []
        while not states or states[-1]["state"] not in ("done", "failed"):
            event = await next_event(owner)
            assert event["type"] == "job.update" and event["job"]["id"] == job_id
            states.append(event["job"])

    assert [job["state"] for job in states] == ["queued", "running", "done"]
    done = states[-1]
    assert (done["render_size"], done["model"]) == (256, "v1")
    assert await other.receive_nothing(timeout=0.5)

    png = await sync_to_async(browser.get)(done["download_png_url"])
    content = b"".join([chunk async for chunk in png.streaming_content]) if png.is_async else b"".join(
        png.streaming_content)
    with Image.open(io.BytesIO(content)) as result:
        assert (result.format, result.mode, result.size) == ("PNG", "RGB", (160, 120))
    thumbnail = await sync_to_async(browser.get)(done["thumbnail_url"])
    assert thumbnail.status_code == 200
    for socket in (owner, other):
        await socket.disconnect()


async def test_a_socket_idle_for_longer_than_a_blocking_receive_still_gets_events(alice, job, shared_redis):
    import asyncio

    socket = WebsocketCommunicator(application, "/ws/jobs/", headers=await sync_to_async(session_headers)(alice))
    assert (await socket.connect())[0]
    await next_event(socket)  # snapshot

    await asyncio.sleep(6.5)  # channels_redis blocks 5 s per receive on Redis
    await sync_to_async(events.job_changed)(job)

    assert (await next_event(socket, timeout=10))["job"]["id"] == str(job.pk)
    await socket.disconnect()
