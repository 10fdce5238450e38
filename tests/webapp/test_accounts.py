import re

import pytest
from django.contrib.auth.models import User

pytestmark = pytest.mark.django_db


def test_it_signs_up_and_lands_on_the_upload_page(client):
    response = client.post("/accounts/signup/", {"username": "newcomer", "email": "", "password1": "a-Long-passphrase-42",
                                                  "password2": "a-Long-passphrase-42"})

    assert response.status_code == 302 and response.url == "/upload/"
    assert User.objects.filter(username="newcomer").exists()
    assert client.get("/upload/").status_code == 200


def test_the_sign_up_page_says_the_email_is_for_password_resets(client):
    response = client.get("/accounts/signup/")

    assert response.status_code == 200 and b'name="email"' in response.content
    assert b"reset a forgotten password" in response.content


def test_a_forgotten_password_is_reset_through_a_one_time_link_by_email(client, mailoutbox, settings):
    settings.ALLOWED_HOSTS = ["photos.example.com", "testserver"]
    User.objects.create_user("ada", email="ada@example.com", password="the-Old-passphrase-1")
    assert b"Forgot your password?" in client.get("/accounts/login/").content

    response = client.post("/accounts/password-reset/", {"email": "ada@example.com"}, HTTP_HOST="photos.example.com")

    assert response.status_code == 302 and response.url == "/accounts/password-reset/sent/"
    [email] = mailoutbox
    assert email.to == ["ada@example.com"] and email.subject == "Reset your Hue password"
    link = re.search(r"http://photos\.example\.com(/accounts/password-reset/\S+/)", email.body).group(1)
    form = client.get(link, HTTP_HOST="photos.example.com", follow=True)
    assert b"Choose a new password" in form.content
    done = client.post(form.redirect_chain[-1][0], {"new_password1": "a-New-passphrase-42",
                                                    "new_password2": "a-New-passphrase-42"},
                       HTTP_HOST="photos.example.com")
    assert done.status_code == 302 and done.url == "/accounts/password-reset/done/"
    assert client.login(username="ada", password="a-New-passphrase-42")
    client.logout()
    assert b"no longer works" in client.get(link, HTTP_HOST="photos.example.com", follow=True).content


def test_a_reset_for_an_unknown_address_sends_nothing_and_says_the_same(client, mailoutbox):
    response = client.post("/accounts/password-reset/", {"email": "nobody@example.com"})

    assert response.status_code == 302 and response.url == "/accounts/password-reset/sent/"
    assert mailoutbox == []


def test_email_goes_out_by_smtp_once_a_host_is_set(monkeypatch):
    import importlib

    import webapp.settings

    monkeypatch.setenv("EMAIL_HOST", "smtp.example.com")
    monkeypatch.setenv("EMAIL_PORT", "465")
    configured = importlib.reload(webapp.settings)
    try:
        assert configured.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
        assert (configured.EMAIL_USE_SSL, configured.EMAIL_USE_TLS) == (True, False)
    finally:
        monkeypatch.delenv("EMAIL_HOST")
        monkeypatch.delenv("EMAIL_PORT")
        assert importlib.reload(webapp.settings).EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend"


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
