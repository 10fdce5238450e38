"""Per-token request rates (API_RATE) and a per-user cap on waiting colorizations (API_MAX_QUEUED_JOBS)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from webapp.api.errors import QueueFull
from webapp.api.models import ApiToken
from webapp.core.jobs import UNFINISHED
from webapp.photos.models import Colorization


class TokenRateThrottle(SimpleRateThrottle):
    """API_RATE requests per token (per user for the site's own scripts, signed in with a session)."""

    scope = "api"
    cache_format = "hue-api-rate:%(ident)s"

    def get_rate(self):
        return settings.API_RATE

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            ident = f"address:{self.get_ident(request)}"
        return self.cache_format % {"ident": ident}

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception:  # the cache (Redis) is down: requests go on rather than fail
            if getattr(settings, "RATELIMIT_FAIL_OPEN", True):
                return True
            raise


def check_queue_room(user, adding: int = 1) -> None:
    """Raise QueueFull (429, Retry-After) when `user` already has API_MAX_QUEUED_JOBS colorizations waiting."""
    cap = settings.API_MAX_QUEUED_JOBS
    waiting = Colorization.objects.filter(photo__owner=user, state__in=UNFINISHED).count()
    if waiting + adding > cap:
        raise QueueFull(waiting, cap, settings.API_QUEUE_RETRY_AFTER)
