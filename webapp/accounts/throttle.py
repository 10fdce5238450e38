"""Throttling sign-ins (django-axes) and sign-ups (django-ratelimit): who is asking, and what they are told."""

from django.conf import settings
from django.shortcuts import render


def client_ip(request) -> str | None:
    """The address a request came from (None when it has none, e.g. a sign-in made in code). Behind the
    TLS proxy (BEHIND_TLS_PROXY) that is the address the proxy appended to X-Forwarded-For (the last one:
    earlier ones are whatever the client sent)."""
    if settings.BEHIND_TLS_PROXY:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return request.META.get("REMOTE_ADDR") or None


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer to a sign-in attempt while the account or the address is locked out."""
    return render(request, "accounts/locked_out.html", {"minutes": settings.LOGIN_LOCKOUT_MINUTES,
                                                        "attempts": settings.AXES_FAILURE_LIMIT}, status=429)


def signup_key(group, request) -> str:
    return client_ip(request) or ""
