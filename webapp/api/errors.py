"""Every error of the API is JSON with a message a person can act on:

    {"error": "What went wrong and what to do.", "fields": {"name": ["..."]}}   (fields: on 400s only)
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


def first_message(detail) -> str:
    if isinstance(detail, dict):
        for name, value in detail.items():
            text = first_message(value)
            return text if name in ("non_field_errors", "detail") else f"{name}: {text}"
        return ""
    if isinstance(detail, list):
        return first_message(detail[0]) if detail else ""
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) if str(exc) and "matches the given query" not in str(exc) else
                                  "Not found: there is no such photo or colorization in your account.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a server error: Django's 500 handling (logged)
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        body = {"error": first_message(detail), "fields": detail if isinstance(detail, dict) else {}}
    elif isinstance(exc, exceptions.NotAuthenticated):
        body = {"error": "Authentication needed: send “Authorization: Bearer <token>” with an API token from "
                         "your account page."}
    elif isinstance(exc, QueueFull):
        body = {"error": str(exc.detail)}
    elif isinstance(exc, exceptions.Throttled):
        body = {"error": f"Too many requests with this token (the limit is {settings.API_RATE}). "
                         f"Try again in {exc.wait or 1:.0f} seconds."}
    else:
        body = {"error": first_message(detail) or "The request failed."}
    response.data = body
    return response


class QueueFull(exceptions.Throttled):
    """Too many of the user's colorizations are waiting: 429 with Retry-After."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS

    def __init__(self, waiting: int, cap: int, wait: int):
        super().__init__(wait=wait)
        self.detail = (f"You have {waiting} colorizations waiting, the most one account may have queued is {cap}. "
                       f"Send more once some have finished (try again in {wait} seconds).")


def error_response(message: str, status_code: int) -> Response:
    return Response({"error": message}, status=status_code)
