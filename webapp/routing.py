"""Websocket URL routes of every app."""

from webapp.photos.routing import websocket_urlpatterns as photos_websockets

websocket_urlpatterns = [
    *photos_websockets,
]
