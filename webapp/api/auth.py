"""Personal API tokens: `Authorization: Bearer hue_…` (or `Token hue_…`)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from rest_framework import authentication, exceptions

from webapp.api.models import ApiToken, hash_token

SCHEMES = ("bearer", "token")
LAST_USED_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often per token
TOKENS_PAGE = "/account/api-tokens/"


def key_from_header(value: str) -> str | None:
    """The key in an Authorization header value, or None when it names another scheme."""
    parts = value.split()
    if len(parts) != 2 or parts[0].lower() not in SCHEMES:
        return None
    return parts[1]


def live_token(key: str) -> ApiToken | None:
    """The live token with this key whose user may still sign in, or None."""
    token = (ApiToken.objects.select_related("user").filter(key_hash=hash_token(key), revoked_at__isnull=True)
             .first())
    if token is None or not token.user.is_active:
        return None
    return token


def user_for_authorization(value: str):
    """The user of a token in an Authorization header value, or None (used before Django reads a body)."""
    key = key_from_header(value)
    token = live_token(key) if key else None
    return token.user if token else None


class TokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin1")
        if not header:
            return None
        key = key_from_header(header)
        if key is None:
            raise exceptions.AuthenticationFailed(
                "Send your API token as “Authorization: Bearer <token>”.")
        token = live_token(key)
        if token is None:
            raise exceptions.AuthenticationFailed(
                f"This API token is not valid: it was revoked, mistyped or its account is disabled. "
                f"Create a new one on your account page ({TOKENS_PAGE}).")
        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'
