import pytest

from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db


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


def test_it_says_when_no_model_is_active(client):
    body = client.get("/healthz").json()

    assert body["model"]["ok"] is False
    assert "no active model" in body["model"]["error"]


def test_it_answers_probes_from_any_host_name(client, settings):
    settings.ALLOWED_HOSTS = ["photos.example.com"]

    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")

    assert response.status_code == 200


def test_it_refuses_other_methods(client):
    assert client.post("/healthz").status_code == 405
