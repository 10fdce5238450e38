"""The token page, and request bodies of API uploads held to the one-photo limit before they are read."""

import pytest
from asgiref.sync import sync_to_async

from tests.webapp.test_request_limits import MB, Body, call, never_read, scope_for
from webapp.api.models import ApiToken, hash_token


@pytest.mark.django_db
def test_a_token_is_made_named_shown_once_and_revoked_on_the_account_page(client, alice, stranger):
    client.force_login(alice)

    made = client.post("/account/api-tokens/", {"name": "Scanner laptop"})
    key = made.context["created"]["key"]
    secret = made.context["created"]["secret"]
    token = ApiToken.objects.get(user=alice)
    listing = client.get("/account/api-tokens/").content.decode()

    assert made.status_code == 200 and key in made.content.decode() and secret in made.content.decode()
    assert token.key_hash == hash_token(key) and token.name == "Scanner laptop"
    assert key not in listing and secret not in listing and "Scanner laptop" in listing
    assert made["Cache-Control"] == "no-store"

    client.force_login(stranger)
    assert client.post(f"/account/api-tokens/{token.pk}/revoke").status_code == 404
    client.force_login(alice)
    client.post(f"/account/api-tokens/{token.pk}/revoke")
    token.refresh_from_db()
    assert token.revoked_at is not None


@pytest.mark.django_db
def test_the_token_page_refuses_an_internal_callback_url(client, alice):
    client.force_login(alice)

    response = client.post("/account/api-tokens/", {"name": "hook", "callback_url": "http://127.0.0.1/x"})

    assert response.status_code == 400 and not ApiToken.objects.exists()


def with_token(scope: dict, key: str) -> dict:
    return {**scope, "headers": scope["headers"] + [(b"authorization", f"Bearer {key}".encode())]}


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_api_upload_over_the_one_photo_limit_is_refused_413_unread(alice, settings):
    settings.UPLOAD_MAX_BYTES = 1 * MB
    token, key = await sync_to_async(ApiToken.issue)(alice, "laptop")

    status, headers, body = await call(with_token(await scope_for("/api/v1/photos/", length=3 * MB), key),
                                       never_read)

    assert status == 413
    assert headers[b"content-type"] == b"application/json"
    assert "per photo" in body.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_an_api_upload_within_the_limit_reaches_the_api_with_a_token_but_not_without(alice, settings):
    settings.UPLOAD_MAX_BYTES = 1 * MB
    token, key = await sync_to_async(ApiToken.issue)(alice, "laptop")

    form = (b'--x\r\nContent-Disposition: form-data; name="note"\r\n\r\n' + b"n" * 512 * 1024
            + b"\r\n--x--\r\n")
    body = Body([form])

    signed, _, answer = await call(with_token(await scope_for("/api/v1/photos/", length=len(form)), key),
                                   body.receive)
    anonymous, _, refusal = await call(await scope_for("/api/v1/photos/", length=512 * 1024), never_read)

    assert signed == 400 and "“file”" in answer.decode()  # read, parsed, and found to hold no photo
    assert anonymous == 413 and b"before you sign in" in refusal
