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
    from worker.tasks import deliver_callback

    sent = []
    monkeypatch.setattr(deliver_callback, "apply_async",
                        lambda args=None, countdown=None, **options: sent.append((args[0], countdown)))
    return sent
