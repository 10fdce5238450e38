"""The base of every JSON websocket consumer: a malformed frame gets an answer, never a crash.

A frame that is binary, not JSON, not a JSON object, or fails in the consumer is answered with
{"type": "error", "message": ...} and the socket stays open; a frame over MAX_FRAME_BYTES is
answered with close code 1009 (message too big). Without this, Channels raises out of the
consumer and the server drops the socket without a close frame.
"""

import json
import logging

from channels.generic.websocket import AsyncJsonWebsocketConsumer

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024  # the largest request a page sends (jobs.sync with 200 ids) is ~8 kB
CLOSE_MESSAGE_TOO_BIG = 1009


class JsonSocket(AsyncJsonWebsocketConsumer):
    max_frame_bytes = MAX_FRAME_BYTES

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        size = len(text_data.encode()) if text_data is not None else len(bytes_data or b"")
        if size > self.max_frame_bytes:
            await self.close(code=CLOSE_MESSAGE_TOO_BIG)
            return
        if text_data is None:
            await self.send_error("This socket takes JSON text frames, not binary ones.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error("That frame is not JSON.")
            return
        if not isinstance(content, dict):
            await self.send_error("Send a JSON object with a \"type\".")
            return
        try:
            await self.receive_json(content, **kwargs)
        except Exception:
            log.exception("websocket %s: a frame could not be handled", self.scope.get("path"))
            await self.send_error("That request could not be handled.")

    async def send_error(self, message: str) -> None:
        await self.send_json({"type": "error", "message": message})
