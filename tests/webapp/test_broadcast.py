import asyncio
import importlib

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from webapp.core import broadcast


def test_an_event_reaches_every_socket_of_its_group():
    layer = get_channel_layer()
    mine, other = async_to_sync(layer.new_channel)(), async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(broadcast.user_group(7), mine)
    async_to_sync(layer.group_add)(broadcast.user_group(8), other)

    assert broadcast.send(broadcast.user_group(7), "job.update", {"job": {"id": "abc"}})

    assert async_to_sync(layer.receive)(mine) == {
        "type": "broadcast.event", "event": {"type": "job.update", "job": {"id": "abc"}}}
    with pytest.raises(asyncio.TimeoutError):
        async_to_sync(asyncio.wait_for)(layer.receive(other), 0.2)


def test_a_broken_channel_layer_does_not_break_the_sender(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]}}}  # nothing listens

    assert broadcast.send(broadcast.user_group(1), "job.update", {}) is False


def test_an_idle_socket_outlives_the_layers_blocking_receive():
    """channels_redis blocks 5 s per receive; a shorter Redis read timeout would crash idle sockets."""
    from channels_redis.core import RedisChannelLayer

    import webapp.settings

    production = importlib.reload(webapp.settings).CHANNEL_LAYERS["default"]
    for host in production["CONFIG"]["hosts"]:
        assert host["socket_timeout"] > RedisChannelLayer.brpop_timeout
