import re

import pytest
from django.contrib.auth.models import User
from django.test import Client

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
    signed_in = client.post("/accounts/login/", {"username": "ada", "password": "a-New-passphrase-42"})
    assert signed_in.status_code == 302
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


# --- Throttling ------------------------------------------------------------------------------------


def sign_in(client, username: str, password: str, address: str = "203.0.113.7"):
    return client.post("/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=address)


def test_it_locks_an_account_after_too_many_wrong_passwords_and_says_so(client, alice, settings):
    for attempt in range(settings.LOGIN_FAILURE_LIMIT - 1):
        assert sign_in(client, "alice", "wrong", address=f"198.51.100.{attempt}").status_code == 200

    locked = sign_in(client, "alice", "wrong", address="198.51.100.99")
    right_password = sign_in(client, "alice", "correct-horse-battery", address="198.51.100.100")

    assert locked.status_code == 429 and right_password.status_code == 429  # from any address
    text = " ".join(right_password.content.decode().split())
    assert "Too many sign-in attempts" in text
    assert f"After {settings.LOGIN_FAILURE_LIMIT} wrong passwords for this account" in text
    assert "paused for 15 minutes" in text
    assert "_auth_user_id" not in client.session


def test_it_locks_an_address_that_tries_many_accounts(client, alice, stranger, settings):
    for attempt in range(settings.LOGIN_FAILURE_LIMIT):
        sign_in(client, f"guess-{attempt}", "wrong")

    assert sign_in(client, "alice", "correct-horse-battery").status_code == 429
    assert sign_in(Client(), "mallory", "correct-horse-battery", address="192.0.2.1").status_code == 302


def test_a_right_password_before_the_limit_resets_the_count(client, alice, settings):
    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", "correct-horse-battery").status_code == 302
    client.post("/accounts/logout/")

    for _ in range(settings.LOGIN_FAILURE_LIMIT - 1):
        sign_in(client, "alice", "wrong")
    assert sign_in(client, "alice", "correct-horse-battery").status_code == 302


def test_it_throttles_sign_ups_from_one_address_with_a_clear_message(client, settings):
    settings.SIGNUP_RATE = "2/h"

    def sign_up(name):
        return Client().post("/accounts/signup/", {"username": name, "email": "", "password1": "a-Long-passphrase-42",
                                                   "password2": "a-Long-passphrase-42"}, REMOTE_ADDR="203.0.113.9")

    assert [sign_up(name).status_code for name in ("one", "two")] == [302, 302]
    third = sign_up("three")

    assert third.status_code == 429
    assert b"Too many accounts were created from your network address. Try again in an hour." in third.content
    assert not User.objects.filter(username="three").exists()


def test_behind_the_proxy_the_address_is_the_one_the_proxy_appended(settings, rf):
    from webapp.accounts.throttle import client_ip

    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="1.2.3.4, 198.51.100.20")
    settings.BEHIND_TLS_PROXY = True
    assert client_ip(request) == "198.51.100.20"
    settings.BEHIND_TLS_PROXY = False
    assert client_ip(request) == "10.0.0.2"


def test_a_sign_in_made_in_code_without_an_address_is_recorded(alice):
    """force_login and other sign-ins outside a request have no address: nothing invalid is stored for it
    (PostgreSQL refuses anything but an address in the access log)."""
    from axes.models import AccessLog

    Client().force_login(alice)

    assert AccessLog.objects.get(username="alice").ip_address is None
