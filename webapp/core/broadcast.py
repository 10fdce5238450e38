"""The one module that sends channel-layer messages (websocket pushes to browsers).

Senders name a group and an event; consumers that joined the group forward it:

    broadcast.send(broadcast.user_group(user.pk), "job.update", {"job": {...}})

reaches every open socket of that user as the JSON text `{"type": "job.update", "job": {...}}`.
A consumer forwards these by handling the channel message type `broadcast.event`
(method `broadcast_event`, see webapp.photos.consumers). Payloads must be plain JSON
values (channels_redis packs them with msgpack: no datetimes, no UUID objects).

A push is best effort: when Redis is down the state is still in the database, and
sockets send the current state when they (re)connect.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)

CHANNEL_MESSAGE_TYPE = "broadcast.event"


def user_group(user_id: int) -> str:
    """Every socket of one signed-in user."""
    return f"user.{user_id}"


def message(type: str, payload: dict) -> dict:
    """The channel-layer message that carries one event."""
    return {"type": CHANNEL_MESSAGE_TYPE, "event": {"type": type, **payload}}


def send(group: str, type: str, payload: dict) -> bool:
    """Push an event to a group (from views, services, Celery tasks: synchronous code). False if it failed."""
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(group, message(type, payload))
    except Exception:  # Redis down or full: the database still has the state
        log.warning("could not push %s to %s", type, group, exc_info=True)
        return False
    return True


def send_to_user(user_id: int, type: str, payload: dict) -> bool:
    return send(user_group(user_id), type, payload)
