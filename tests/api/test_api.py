"""The HTTP API: tokens, photos, colorizations, results, pages and limits."""

import io

import pytest
from django.utils import timezone
from PIL import Image
from rest_framework.test import APIClient

from tests.factories import register_tiny_model
from tests.webapp import samples
from webapp.api.models import ApiToken, UploadKey
from webapp.photos import colorizing
from webapp.photos.models import Colorization, Photo
from webapp.registry.models import ModelVersion

pytestmark = pytest.mark.django_db


def photo_file(name="harbour.jpg", data=None):
    file = io.BytesIO(data if data is not None else samples.gray_jpeg(64, 48))
    file.name = name
    return file


def upload(client, name="harbour.jpg", data=None, **extra):
    return client.post("/api/v1/photos/", {"file": photo_file(name, data), **extra}, format="multipart")


# --- Authentication --------------------------------------------------------------------------------


def test_it_refuses_a_request_without_a_token_with_a_message_saying_what_to_send(db):
    response = APIClient().get("/api/v1/photos/")

    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["error"]
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_it_refuses_a_revoked_token(api, alice_token):
    assert api.get("/api/v1/photos/").status_code == 200
    ApiToken.objects.filter(pk=alice_token.pk).update(revoked_at=timezone.now())

    response = api.get("/api/v1/photos/")

    assert response.status_code == 401
    assert "revoked" in response.json()["error"]


def test_it_stores_only_a_hash_of_a_token(alice_token):
    stored = ApiToken.objects.get(pk=alice_token.pk)

    assert alice_token.key not in {stored.key_hash, stored.key_prefix, stored.name}
    assert alice_token.key.startswith(stored.key_prefix)


def test_it_takes_the_sites_own_session_too(client, alice):
    client.force_login(alice)

    assert client.get("/api/v1/account/").json()["username"] == "alice"


def test_someone_elses_photo_is_not_found_whatever_is_asked(api, stranger_api, tiny_model):
    photo = upload(api).json()
    job_id = photo["job"]["id"]

    for response in (stranger_api.get(f"/api/v1/photos/{photo['id']}/"),
                     stranger_api.delete(f"/api/v1/photos/{photo['id']}/"),
                     stranger_api.post(f"/api/v1/photos/{photo['id']}/colorizations/", {}, format="json"),
                     stranger_api.get(f"/api/v1/colorizations/{job_id}/"),
                     stranger_api.get(f"/api/v1/colorizations/{job_id}/result.png")):
        assert response.status_code == 404
        assert response.json()["error"]
    assert stranger_api.get("/api/v1/photos/").json()["count"] == 0
    assert Photo.objects.filter(pk=photo["id"]).exists()


# --- Photos --------------------------------------------------------------------------------------


def test_an_upload_answers_201_with_the_photo_and_its_queued_job(api, alice, sent_tasks,
                                                                django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(api, "harbour.jpg")

    assert response.status_code == 201
    body = response.json()
    assert (body["name"], body["width"], body["height"]) == ("harbour.jpg", 64, 48)
    assert body["job"]["state"] == "queued"
    assert [job["id"] for job in body["colorizations"]] == [body["job"]["id"]]
    assert sent_tasks == [body["job"]["id"]]
    assert Photo.objects.get(pk=body["id"]).owner == alice


def test_an_unreadable_file_is_refused_with_the_web_uploads_reason(api):
    response = upload(api, "list.jpg", samples.text_renamed_jpg())

    assert response.status_code == 400
    assert "not a photo Hue can read" in response.json()["error"]
    assert not Photo.objects.exists()


def test_an_upload_without_a_file_says_which_field_to_send(api):
    response = api.post("/api/v1/photos/", {"name": "x"}, format="multipart")

    assert response.status_code == 400
    assert "“file”" in response.json()["error"]


def test_a_photo_over_the_size_limit_is_refused_with_the_limit(api, settings):
    settings.UPLOAD_MAX_BYTES = 2000

    response = upload(api, "big.jpg", samples.noise_jpeg(200, 200))

    assert response.status_code == 400
    assert "the limit is" in response.json()["error"]


def test_the_same_idempotency_key_gives_the_same_photo_never_a_copy(api, sent_tasks,
                                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/api/v1/photos/", {"file": photo_file()}, format="multipart",
                         HTTP_IDEMPOTENCY_KEY="box1/a.jpg")
        again = api.post("/api/v1/photos/", {"file": photo_file()}, format="multipart",
                         HTTP_IDEMPOTENCY_KEY="box1/a.jpg")

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Photo.objects.count() == 1 and len(sent_tasks) == 1
    assert UploadKey.objects.count() == 1


def test_the_list_is_newest_first_in_pages_and_filters_by_job_state(api):
    ids = [upload(api, f"p{n}.jpg").json()["id"] for n in range(5)]
    Colorization.objects.filter(photo_id=ids[1]).update(state="failed", message="broken")

    first = api.get("/api/v1/photos/?page_size=2").json()
    second = api.get(first["next"]).json()
    failed = api.get("/api/v1/photos/?state=failed").json()

    assert first["count"] == 5
    assert [photo["id"] for photo in first["results"] + second["results"]] == ids[::-1][:4]
    assert [photo["id"] for photo in failed["results"]] == [ids[1]]
    assert api.get("/api/v1/photos/?state=bogus").status_code == 400


def test_deleting_a_photo_deletes_it_with_its_colorizations(api):
    photo = upload(api).json()

    assert api.delete(f"/api/v1/photos/{photo['id']}/").status_code == 204
    assert not Photo.objects.exists() and not Colorization.objects.exists()
    assert api.get(f"/api/v1/photos/{photo['id']}/").status_code == 404


# --- Colorizations and results -------------------------------------------------------------------


def test_a_result_downloads_at_full_resolution_as_png_and_jpeg(api, tiny_model):
    photo = upload(api, data=samples.gray_jpeg(80, 60)).json()
    job_id = photo["job"]["id"]
    assert api.get(f"/api/v1/colorizations/{job_id}/result.png").status_code == 409

    colorizing.run_colorization(job_id)
    job = api.get(f"/api/v1/colorizations/{job_id}/").json()
    png = api.get(f"/api/v1/colorizations/{job_id}/result.png")
    jpeg = api.get(f"/api/v1/colorizations/{job_id}/result.jpg")

    assert job["state"] == "done" and job["result_png_url"].endswith("/result.png")
    assert png.streaming and jpeg.streaming
    for response, kind in ((png, "PNG"), (jpeg, "JPEG")):
        with Image.open(io.BytesIO(b"".join(response.streaming_content))) as image:
            assert (image.format, image.size) == (kind, (80, 60))
    assert 'filename="harbour-colorized.png"' in png["Content-Disposition"]


def test_asking_again_queues_a_variation_or_returns_the_same_result(api, tiny_model, sent_tasks):
    photo = upload(api).json()
    url = f"/api/v1/photos/{photo['id']}/colorizations/"

    same = api.post(url, {}, format="json")
    variation = api.post(url, {"seed": 1234, "render_size": 256, "intensity": 1.2}, format="json")

    assert (same.status_code, same.json()["id"]) == (200, photo["job"]["id"])
    assert variation.status_code == 201
    assert (variation.json()["seed"], variation.json()["intensity"]) == (1234, 1.2)
    assert api.post(url, {"render_size": 999}, format="json").json()["error"].startswith("render_size: Choose one")


def test_only_the_active_and_public_model_versions_may_be_asked_for(api, tiny_model):
    hidden = register_tiny_model(name="Hidden", activate=False, seed=1)
    public = register_tiny_model(name="Public", activate=False, seed=2)
    ModelVersion.objects.filter(pk=public.pk).update(public=True)
    photo = upload(api).json()
    url = f"/api/v1/photos/{photo['id']}/colorizations/"

    refused = api.post(url, {"model_version": hidden.number}, format="json")
    allowed = api.post(url, {"model_version": public.number}, format="json")

    assert refused.status_code == 400 and "no model version" in refused.json()["error"]
    assert allowed.status_code == 201
    assert Colorization.objects.get(pk=allowed.json()["id"]).requested_version == public
    assert [version["number"] for version in api.get("/api/v1/models/").json()] == [public.number, tiny_model.number]


def test_finished_colorizations_are_listed_oldest_first_after_a_moment(api, tiny_model):
    before = timezone.now()
    photos = [upload(api, f"p{n}.jpg").json() for n in range(2)]
    for photo in photos:
        colorizing.run_colorization(photo["job"]["id"])

    listed = api.get("/api/v1/colorizations/", {"finished_after": before.isoformat(), "state": "done"}).json()

    assert [job["id"] for job in listed["results"]] == [photo["job"]["id"] for photo in photos]


# --- Limits --------------------------------------------------------------------------------------


def test_a_token_past_its_rate_is_answered_429_with_retry_after(api, stranger_api, settings):
    settings.API_RATE = "3/min"

    answers = [api.get("/api/v1/photos/").status_code for _ in range(4)]
    limited = api.get("/api/v1/photos/")

    assert answers == [200, 200, 200, 429]
    assert int(limited["Retry-After"]) > 0 and "Try again in" in limited.json()["error"]
    assert stranger_api.get("/api/v1/photos/").status_code == 200  # per token


def test_too_many_waiting_jobs_are_answered_429_until_some_finish(api, settings, tiny_model):
    settings.API_MAX_QUEUED_JOBS = 2
    settings.API_QUEUE_RETRY_AFTER = 17
    first = upload(api, "a.jpg").json()
    upload(api, "b.jpg")

    refused = upload(api, "c.jpg")
    colorizing.run_colorization(first["job"]["id"])
    accepted = upload(api, "c.jpg")

    assert refused.status_code == 429
    assert refused["Retry-After"] == "17"
    assert "2 colorizations waiting" in refused.json()["error"]
    assert accepted.status_code == 201


# --- Documentation -----------------------------------------------------------------------------


def test_the_schema_is_valid_openapi_3_and_describes_every_route(client):
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)  # raises on an invalid schema

    served = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert served.status_code == 200
    assert schema["openapi"].startswith("3.")
    assert {"/api/v1/photos/", "/api/v1/photos/{photo_id}/", "/api/v1/photos/{photo_id}/colorizations/",
            "/api/v1/colorizations/{colorization_id}/", "/api/v1/colorizations/{colorization_id}/result.{extension}",
            } <= set(schema["paths"])


def test_the_docs_page_runs_under_the_sites_content_security_policy(client):
    page = client.get("/api/v1/docs/")
    html = page.content.decode()

    policy = page["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    scripts = [chunk.split(">")[0] for chunk in html.split("<script")[1:]]
    assert scripts and all("src=" in tag for tag in scripts)  # no inline script
    for tag in scripts:
        src = tag.split('src="')[1].split('"')[0].replace("&amp;", "&")
        assert src.startswith("/"), src  # served by this site, not a CDN
        assert client.get(src).status_code == 200, src


def test_the_footer_links_the_api_docs_and_the_nav_the_token_page(client, alice):
    client.force_login(alice)
    page = client.get("/photos/").content.decode()

    assert 'href="/api/v1/docs/"' in page and 'href="/account/api-tokens/"' in page
