"""/ws/jobs/: one socket per signed-in page, pushing the state of the user's colorization jobs.

On connect it sends a snapshot of the user's unfinished jobs, so a page that reconnects
after a drop (or a restart) catches up; a page can also ask about the jobs it shows with
{"type": "jobs.sync", "ids": [...]}. Anonymous sockets are refused, and a user only ever
hears about their own jobs: the group is theirs, and asking about another user's job
gets {"type": "job.missing"}, exactly as for a job that does not exist.
"""

import uuid

from channels.db import database_sync_to_async

from webapp.core import broadcast
from webapp.core.sockets import JsonSocket
from webapp.photos import events, services
from webapp.photos.models import Colorization

MAX_SYNC_IDS = 200


class JobsConsumer(JsonSocket):
    group = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()  # before accept: the handshake is refused (HTTP 403)
            return
        self.user = user
        self.group = broadcast.user_group(user.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "jobs.snapshot", "jobs": await self.snapshot()})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") != "jobs.sync":
            await self.send_error("Unknown request.")
            return
        ids = content.get("ids")
        if not isinstance(ids, list) or not all(isinstance(job_id, str) for job_id in ids):
            await self.send_error("jobs.sync needs a list of ids.")
            return
        found, missing = await self.states([str(job_id) for job_id in ids[:MAX_SYNC_IDS]])
        for payload in found:
            await self.send_json({"type": "job.update", "job": payload})
        for job_id in missing:
            await self.send_json({"type": "job.missing", "id": job_id})

    async def broadcast_event(self, message):
        """A `broadcast.send` to this user's group."""
        await self.send_json(message["event"])

    @database_sync_to_async
    def snapshot(self) -> list[dict]:
        return [events.job_payload(job) for job in services.unfinished_jobs(self.user)]

    @database_sync_to_async
    def states(self, ids: list[str]) -> tuple[list[dict], list[str]]:
        wanted = [pk for pk in map(uuid_or_none, ids) if pk is not None]
        jobs = Colorization.objects.select_related("photo").filter(pk__in=wanted, photo__owner=self.user)
        found = {job.pk: events.job_payload(job) for job in jobs}
        return list(found.values()), [job_id for job_id in ids if uuid_or_none(job_id) not in found]


def uuid_or_none(value: str):
    try:
        return uuid.UUID(value)
    except ValueError:
        return None
