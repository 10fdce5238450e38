"""A colorization with colour hints, asked for over the HTTP API, runs in a real Celery worker on a tiny
hint-capable model (the active version) and its result is pushed over the websocket, coloured as hinted."""

import io

import numpy as np
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from PIL import Image

from tests.factories import register_hint_model
from tests.webapp import samples
from tests.webapp.conftest import upload
from tests.webapp.harness import worker_in_thread
from tests.webapp.integration.test_end_to_end import next_event
from tests.webapp.test_consumers import session_headers
from webapp.asgi import application
from webapp.photos.services import accept_upload

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def until_finished(socket, job_id: str) -> list[dict]:
    states = []
    while not states or states[-1]["state"] not in ("done", "failed"):
        event = await next_event(socket)
        if event.get("type") == "job.update" and event["job"]["id"] == job_id:
            states.append(event["job"])
    return states


async def test_a_job_with_hints_runs_in_the_worker_and_comes_back_coloured_as_hinted(alice, stranger, shared_redis,
                                                                                     single_threaded_torch):
    await sync_to_async(register_hint_model)()
    photo = await sync_to_async(accept_upload)(alice, upload(samples.gray_jpeg(160, 120), name="door.jpg"))
    owner = WebsocketCommunicator(application, "/ws/jobs/", headers=await sync_to_async(session_headers)(alice))
    other = WebsocketCommunicator(application, "/ws/jobs/", headers=await sync_to_async(session_headers)(stranger))
    assert (await owner.connect())[0] and (await other.connect())[0]
    await next_event(owner), await next_event(other)  # the snapshots

    browser = Client()
    await sync_to_async(browser.force_login)(alice)
    hint = {"x": 100, "y": 40, "color": "#1e3cc8"}
    with worker_in_thread(shared_redis):
        response = await sync_to_async(browser.post)(f"/api/v1/photos/{photo.pk}/colorizations/", {"hints": [hint]},
                                                     content_type="application/json")
        assert response.status_code == 201, response.content
        states = await until_finished(owner, response.json()["id"])

    assert [job["state"] for job in states] == ["queued", "running", "done"]
    assert states[-1]["hints"] == [{"x": 100.0, "y": 40.0, "color": "#1e3cc8"}]
    assert await other.receive_nothing(timeout=0.5)
    png = await sync_to_async(browser.get)(states[-1]["download_png_url"])
    content = b"".join([chunk async for chunk in png.streaming_content]) if png.is_async else b"".join(
        png.streaming_content)
    with Image.open(io.BytesIO(content)) as result:
        pixels = np.asarray(result.convert("RGB")).astype(int)
    assert pixels[40, 100, 2] - pixels[40, 100, 0] > 30  # blue where the hint is
    assert abs(pixels[110, 10, 2] - pixels[110, 10, 0]) <= 2  # gray far from it
    for socket in (owner, other):
        await socket.disconnect()
