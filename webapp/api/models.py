"""Personal API tokens, the callbacks that wait for colorizations, and upload idempotency keys."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

TOKEN_PREFIX = "hue_"
SECRET_PREFIX = "whsec_"


def hash_token(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class ApiToken(models.Model):
    """A personal API token. Only the SHA-256 of its key is stored: the key is shown once, when it is made.

    Its callback secret signs the callbacks of the requests made with it (HMAC-SHA256 of the body); the
    server must keep that one to sign with, and shows it once too."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=16, editable=False, help_text="The start of the key, to recognise it.")
    callback_secret = models.CharField(max_length=80, editable=False)
    callback_url = models.URLField(max_length=500, blank=True,
                                   help_text="Where finished colorizations are announced unless a request names another.")
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.key_prefix}…)"

    @property
    def is_live(self) -> bool:
        return self.revoked_at is None

    @classmethod
    def issue(cls, user, name: str, callback_url: str = "") -> tuple["ApiToken", str]:
        """A new token for `user`, and its key (the only time the key exists outside the client)."""
        key = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = cls.objects.create(user=user, name=name, key_hash=hash_token(key), key_prefix=key[:10],
                                   callback_secret=SECRET_PREFIX + secrets.token_urlsafe(32),
                                   callback_url=callback_url)
        return token, key


class CallbackState(models.TextChoices):
    WAITING = "waiting", "Waiting for the colorization"
    SENDING = "sending", "Being delivered"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Gave up"


class Callback(models.Model):
    """One announcement of a finished colorization to a URL the API client named."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    colorization = models.ForeignKey("photos.Colorization", on_delete=models.CASCADE, related_name="callbacks")
    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE, related_name="callbacks")
    url = models.URLField(max_length=500)
    state = models.CharField(max_length=16, choices=CallbackState.choices, default=CallbackState.WAITING,
                             db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True,
                                           help_text="When its task message should run (sending): a message "
                                                     "the broker lost is sent again some time after this.")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"Callback to {self.url} ({self.state})"


class UploadKey(models.Model):
    """An upload's Idempotency-Key: the same key from the same user answers with the same photo,
    so a client that lost the answer (a crash, a network cut) never uploads a photo twice."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=128)
    photo = models.ForeignKey("photos.Photo", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="upload_key_unique_per_user")]
