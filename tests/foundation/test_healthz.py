from unittest import mock

import pytest
from django.db import OperationalError, connection

from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db
DRIVER_ERROR = 'connection to server at "db.internal" (10.0.0.5), port 5432 failed: password authentication failed'


def database_down():
    return mock.patch.object(connection, "cursor", side_effect=OperationalError(DRIVER_ERROR))


def error_texts(body: dict) -> list[str]:
    return [check["error"] for check in body.values() if isinstance(check, dict) and "error" in check]


def test_it_reports_ok_when_database_and_redis_answer(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["redis"]["ok"] is True
    assert set(body["workers"]["queues"]) >= {"inference", "training"}


def test_it_is_unavailable_when_redis_is_down(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["redis"]["ok"] is False
    assert body["workers"]["ok"] is False


def test_it_reports_the_active_model_version(client):
    ModelVersion.objects.create(number=1, name="old", weights="models/v1.safetensors")
    ModelVersion.objects.create(number=2, name="current", weights="models/v2.safetensors", is_active=True)

    body = client.get("/healthz").json()

    assert body["model"] == {"ok": True, "active_version": 2, "name": "current", "id": body["model"]["id"]}


def test_it_is_unavailable_when_the_database_is_down(client):
    with database_down():
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["database"] == {"ok": False}
    assert body["model"]["ok"] is False


def test_it_keeps_error_details_from_anonymous_callers(client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    with database_down():
        body = client.get("/healthz").json()

    assert error_texts(body) == []
    assert "db.internal" not in str(body) and "127.0.0.1" not in str(body)


def test_it_shows_error_details_to_staff(admin_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"

    body = admin_client.get("/healthz").json()

    assert "ConnectionError" in body["redis"]["error"]
    assert "no active model" in body["model"]["error"]


def test_it_shows_error_details_when_debug_is_on(client, settings):
    settings.DEBUG = True

    with database_down():
        body = client.get("/healthz").json()

    assert body["database"]["error"] == f"OperationalError: {DRIVER_ERROR}"


def test_it_treats_a_staff_session_it_cannot_read_as_anonymous(admin_client):
    with database_down():  # the session lives in the database too
        response = admin_client.get("/healthz")

    assert response.status_code == 503
    assert error_texts(response.json()) == []


def test_it_says_when_no_model_is_active(client):
    body = client.get("/healthz").json()

    assert body["model"] == {"ok": False}


def test_it_answers_probes_from_any_host_name(client, settings):
    settings.ALLOWED_HOSTS = ["photos.example.com"]

    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")

    assert response.status_code == 200


def test_it_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405
