"""/ws/jobs/: the owner hears about their jobs; another user and anonymous visitors hear nothing."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from webapp.asgi import application
from webapp.photos import events

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def session_headers(user=None, origin: bytes = b"http://testserver") -> list[tuple[bytes, bytes]]:
    headers = [(b"origin", origin), (b"host", b"testserver")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


async def connect(user=None, **kwargs) -> tuple[WebsocketCommunicator, bool]:
    headers = await sync_to_async(session_headers)(user, **kwargs)
    communicator = WebsocketCommunicator(application, "/ws/jobs/", headers=headers)
    connected, _ = await communicator.connect()
    return communicator, connected


async def test_the_owner_gets_a_snapshot_of_unfinished_jobs_on_connect(alice, job):
    socket, connected = await connect(alice)

    snapshot = await socket.receive_json_from()

    assert connected
    assert snapshot["type"] == "jobs.snapshot"
    assert [item["id"] for item in snapshot["jobs"]] == [str(job.pk)]
    assert snapshot["jobs"][0]["state"] == "queued"
    await socket.disconnect()


async def test_the_owner_receives_state_changes_as_they_happen(alice, job):
    socket, _ = await connect(alice)
    await socket.receive_json_from()  # snapshot

    job.state, job.message = "running", ""
    await sync_to_async(events.job_changed)(job)

    event = await socket.receive_json_from()
    assert event["type"] == "job.update"
    assert (event["job"]["id"], event["job"]["state"]) == (str(job.pk), "running")
    await socket.disconnect()


async def test_another_user_receives_nothing(alice, stranger, job):
    owner, _ = await connect(alice)
    other, connected = await connect(stranger)
    await owner.receive_json_from()

    assert connected
    assert (await other.receive_json_from()) == {"type": "jobs.snapshot", "jobs": []}
    await sync_to_async(events.job_changed)(job)

    assert (await owner.receive_json_from())["type"] == "job.update"
    assert await other.receive_nothing(timeout=0.3)
    await owner.disconnect()
    await other.disconnect()


async def test_asking_about_another_users_job_is_the_same_as_asking_about_none(alice, stranger, job):
    other, _ = await connect(stranger)
    await other.receive_json_from()

    await other.send_json_to({"type": "jobs.sync", "ids": [str(job.pk), "not-a-uuid"]})

    assert await other.receive_json_from() == {"type": "job.missing", "id": str(job.pk)}
    assert await other.receive_json_from() == {"type": "job.missing", "id": "not-a-uuid"}
    assert await other.receive_nothing(timeout=0.2)
    await other.disconnect()


async def test_the_owner_can_ask_for_the_state_of_a_finished_job(alice, job):
    socket, _ = await connect(alice)
    await socket.receive_json_from()

    await socket.send_json_to({"type": "jobs.sync", "ids": [str(job.pk)]})

    event = await socket.receive_json_from()
    assert event["type"] == "job.update" and event["job"]["id"] == str(job.pk)
    await socket.disconnect()


async def test_an_anonymous_socket_is_refused(job):
    socket, connected = await connect(None)

    assert not connected
    await socket.disconnect()


async def test_a_socket_from_another_site_is_refused(alice):
    socket, connected = await connect(alice, origin=b"https://evil.example")

    assert not connected
    await socket.disconnect()


async def test_an_unknown_request_gets_an_error(alice):
    socket, _ = await connect(alice)
    await socket.receive_json_from()

    await socket.send_json_to({"type": "photos.everyone"})

    assert (await socket.receive_json_from())["type"] == "error"
    await socket.disconnect()


@pytest.mark.parametrize("frame, message", [
    ({"bytes_data": b"\x00\x01binary"}, "This socket takes JSON text frames, not binary ones."),
    ({"text_data": "{not json"}, "That frame is not JSON."),
    ({"text_data": "[1, 2, 3]"}, 'Send a JSON object with a "type".'),
    ({"text_data": '"jobs.sync"'}, 'Send a JSON object with a "type".'),
    ({"text_data": '{"type": "jobs.sync", "ids": "everything"}'}, "jobs.sync needs a list of ids."),
    ({"text_data": '{"type": "jobs.sync", "ids": [{"id": 1}]}'}, "jobs.sync needs a list of ids."),
    ({"text_data": '{"type": ["jobs.sync"]}'}, "Unknown request."),
])
async def test_it_answers_a_malformed_frame_with_an_error_and_stays_open(alice, job, frame, message):
    socket, _ = await connect(alice)
    await socket.receive_json_from()

    await socket.send_to(**frame)

    assert await socket.receive_json_from() == {"type": "error", "message": message}
    await socket.send_json_to({"type": "jobs.sync", "ids": [str(job.pk)]})
    assert (await socket.receive_json_from())["type"] == "job.update"
    await socket.disconnect()


async def test_it_closes_a_socket_that_sends_an_oversized_frame_with_code_1009(alice):
    from webapp.core.sockets import MAX_FRAME_BYTES

    socket, _ = await connect(alice)
    await socket.receive_json_from()

    await socket.send_json_to({"type": "jobs.sync", "ids": ["x" * 36] * (MAX_FRAME_BYTES // 36)})

    assert await socket.receive_output() == {"type": "websocket.close", "code": 1009}
