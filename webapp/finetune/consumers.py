"""/ws/admin/finetune/<job id>/: a fine-tuning job's live state, for staff only.

On connect (and so on every reconnect) it sends the job's current state with its whole
loss history; after that, every event of the job's group: state changes, progress and the
new loss points. Anyone but staff is refused before the handshake completes.
"""

from channels.db import database_sync_to_async

from webapp.core.sockets import JsonSocket
from webapp.finetune import events
from webapp.finetune.models import FineTuneJob


class FineTuneJobConsumer(JsonSocket):
    group = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_staff:
            await self.close()  # before accept: HTTP 403
            return
        snapshot = await self.snapshot(self.scope["url_route"]["kwargs"]["job_id"])
        if snapshot is None:
            await self.close()
            return
        self.group = events.job_group(snapshot["job"]["id"])
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "finetune.snapshot", **snapshot})

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        await self.send_error("This socket only sends.")

    async def broadcast_event(self, message):
        """A `webapp.core.broadcast.send` to this job's group."""
        await self.send_json(message["event"])

    @database_sync_to_async
    def snapshot(self, job_id) -> dict | None:
        job = FineTuneJob.objects.select_related("result_version").filter(pk=job_id).first()
        if job is None:
            return None
        return {"job": events.job_payload(job), "losses": job.loss_history}
