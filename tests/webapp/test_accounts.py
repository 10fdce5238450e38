import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db


def test_it_signs_up_and_lands_on_the_upload_page(client):
    response = client.post("/accounts/signup/", {"username": "newcomer", "email": "", "password1": "a-Long-passphrase-42",
                                                  "password2": "a-Long-passphrase-42"})

    assert response.status_code == 302 and response.url == "/upload/"
    assert User.objects.filter(username="newcomer").exists()
    assert client.get("/upload/").status_code == 200


def test_the_sign_up_page_promises_no_password_reset_the_site_does_not_offer(client):
    response = client.get("/accounts/signup/")

    assert response.status_code == 200 and b'name="email"' in response.content
    assert b"reset" not in response.content.lower()


def test_it_explains_a_weak_password(client):
    response = client.post("/accounts/signup/", {"username": "newcomer", "password1": "123", "password2": "123"})

    assert response.status_code == 400
    assert b"This password is too short" in response.content
    assert not User.objects.filter(username="newcomer").exists()


def test_it_logs_in_and_out(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "correct-horse-battery"})
    assert response.status_code == 302

    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/upload/").status_code == 302  # back to the login page


def test_a_wrong_password_is_refused(client, alice):
    response = client.post("/accounts/login/", {"username": "alice", "password": "nope"})

    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content


def test_the_landing_page_offers_sign_up_and_log_in(client):
    response = client.get("/")

    assert b'href="/accounts/signup/"' in response.content and b'href="/accounts/login/"' in response.content


def test_a_new_user_lands_on_the_upload_page_and_a_returning_one_on_the_gallery(client, alice, stranger, photo):
    client.force_login(stranger)
    assert client.get("/").url == "/upload/"

    client.force_login(alice)
    assert client.get("/").url == "/photos/"
