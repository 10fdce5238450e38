"""/ws/admin/finetune/<job>/: staff follow a job live; nobody else connects."""

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.core.files.base import ContentFile

from tests.finetune.conftest import colour_zip
from tests.webapp.test_consumers import session_headers
from webapp.asgi import application
from webapp.finetune import datasets, events
from webapp.finetune.models import Dataset, FineTuneJob

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


@pytest.fixture
def job(staff_user, base_version):
    dataset = Dataset(name="Holidays", source=Dataset.Source.ARCHIVE)
    dataset.archive.save("upload.zip", ContentFile(colour_zip(3)), save=False)
    dataset.save()
    datasets.check_dataset(str(dataset.pk))
    return FineTuneJob.objects.create(dataset=dataset, base_version=base_version, created_by=staff_user,
                                      loss_history=[{"step": 10, "stage": "l1", "G_L1": 9.5}])


async def connect(user, job_id) -> tuple[WebsocketCommunicator, bool]:
    headers = await sync_to_async(session_headers)(user)
    socket = WebsocketCommunicator(application, f"/ws/admin/finetune/{job_id}/", headers=headers)
    connected, _ = await socket.connect()
    return socket, connected


async def test_staff_get_the_current_state_and_loss_history_on_connect(staff_user, job):
    socket, connected = await connect(staff_user, job.pk)

    snapshot = await socket.receive_json_from()

    assert connected
    assert snapshot["type"] == "finetune.snapshot"
    assert snapshot["job"]["id"] == str(job.pk) and snapshot["job"]["state"] == "queued"
    assert snapshot["losses"] == [{"step": 10, "stage": "l1", "G_L1": 9.5}]
    await socket.disconnect()


async def test_staff_receive_progress_as_it_happens(staff_user, job):
    socket, _ = await connect(staff_user, job.pk)
    await socket.receive_json_from()

    job.progress = {"stage": "l1", "epoch": 1, "epochs": 2, "global_step": 20, "total_steps": 40}
    await sync_to_async(events.job_progress)(job, [{"step": 20, "stage": "l1", "G_L1": 8.0}])

    event = await socket.receive_json_from()
    assert event["type"] == "finetune.job"
    assert event["job"]["progress"]["global_step"] == 20
    assert event["losses"] == [{"step": 20, "stage": "l1", "G_L1": 8.0}]
    await socket.disconnect()


async def test_non_staff_and_anonymous_sockets_are_refused(stranger, job):
    for user in (stranger, None):
        socket, connected = await connect(user, job.pk)
        assert not connected


async def test_a_socket_for_a_job_that_does_not_exist_is_refused(staff_user):
    socket, connected = await connect(staff_user, "6f1c1a52-5b59-4a33-9a3c-6a8e2f1b9d10")
    assert not connected


@pytest.mark.parametrize("frame", [{"bytes_data": b"\x00binary"}, {"text_data": "{not json"}, {"text_data": "[]"}])
async def test_it_answers_a_malformed_frame_with_an_error(staff_user, job, frame):
    socket, _ = await connect(staff_user, job.pk)
    await socket.receive_json_from()

    await socket.send_to(**frame)

    assert (await socket.receive_json_from())["type"] == "error"
    await socket.disconnect()
