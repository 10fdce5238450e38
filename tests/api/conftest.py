import pytest
from rest_framework.test import APIClient

from tests.webapp.conftest import alice, sent_tasks, staff, stranger, tiny_model  # noqa: F401  (shared fixtures)
from webapp.api.models import ApiToken


@pytest.fixture(autouse=True)
def own_api_rate_counts(settings):
    """Rate counts live in the shared Redis cache, keyed by token: each test's tokens are new ones."""
    settings.API_RATE = "1000/min"


@pytest.fixture
def alice_token(alice):
    token, key = ApiToken.issue(alice, "laptop")
    token.key = key
    return token


@pytest.fixture
def api(alice_token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {alice_token.key}")
    return client


@pytest.fixture
def stranger_api(stranger):
    token, key = ApiToken.issue(stranger, "theirs")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


@pytest.fixture
def sent_callbacks(monkeypatch):
    """Callback task messages, recorded as (callback id, countdown) instead of published."""
    from webapp.core import queue

    sent = []
    send = queue.send

    def record(task, pk, countdown=None):
        if task != queue.DELIVER_CALLBACK:
            return send(task, pk, countdown=countdown)
        sent.append((str(pk), countdown))

    monkeypatch.setattr(queue, "send", record)
    return sent
