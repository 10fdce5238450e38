"""ASGI entry point: plain HTTP goes to Django, websockets to the Channels consumers."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
# Django must be set up before the consumers (and through them the models) are imported.
django.setup(set_prefix=False)

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from webapp.core.limits import BodyLengthASGIHandler, RequestBodyLimits  # noqa: E402
from webapp.routing import websocket_urlpatterns  # noqa: E402

django_asgi_app = BodyLengthASGIHandler()

application = ProtocolTypeRouter(
    {
        # Django reads a whole body before any view runs: a body over its route's limit is refused before that.
        "http": RequestBodyLimits(django_asgi_app),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
