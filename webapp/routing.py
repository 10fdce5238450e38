"""Websocket URL routes of every app."""

from webapp.finetune.routing import websocket_urlpatterns as finetune_websockets
from webapp.photos.routing import websocket_urlpatterns as photos_websockets

websocket_urlpatterns = [
    *photos_websockets,
    *finetune_websockets,
]
