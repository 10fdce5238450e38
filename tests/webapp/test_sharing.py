"""Share links: read-only, unguessable, revocable, optionally expiring; they show one photo or one album's
photos (before/after and a download) and nothing else."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.webapp import samples
from tests.webapp.conftest import upload
from webapp.photos import colorizing, services
from webapp.photos.models import Album, ShareLink

pytestmark = pytest.mark.django_db


def add_photo(owner, name, done=True):
    photo = services.accept_upload(owner, upload(samples.gray_jpeg(96, 64), name))
    if done:
        colorizing.run_colorization(photo.colorizations.get().pk)
    return photo


@pytest.fixture
def harbour(alice, tiny_model):
    return add_photo(alice, "harbour 1931.jpg")


@pytest.fixture
def owner(client, alice):
    client.force_login(alice)
    return client


def share(owner, photo, **fields) -> ShareLink:
    response = owner.post(f"/photos/{photo.pk}/share", fields)
    assert response.status_code == 302
    return ShareLink.objects.latest("created_at")


def test_a_photo_shared_by_its_owner_shows_before_after_and_a_download_to_anyone(owner, harbour, media_storage):
    link = share(owner, harbour)
    anyone = Client()

    page = anyone.get(link.get_absolute_url())

    assert page.status_code == 200 and len(link.token) >= 43
    html = page.content.decode()
    assert 'role="slider"' in html and "Download the colorized photo" in html
    assert "alice" not in html and "Colorize again" not in html and "Delete" not in html
    assert page["Referrer-Policy"] == "no-referrer" and "noindex" in page["X-Robots-Tag"]
    download = anyone.get(f"/s/{link.token}/{harbour.pk}/download.png")
    result = harbour.colorizations.get()
    assert b"".join(download.streaming_content) == (media_storage / result.result.name).read_bytes()
    for kind in ("before", "after"):
        assert anyone.get(f"/s/{link.token}/{harbour.pk}/{kind}.jpg").status_code == 200


def test_the_owners_photo_page_lists_its_links_and_a_revoked_one_shows_nothing(owner, harbour):
    link = share(owner, harbour, expires_in="7")
    page = owner.get(harbour.get_absolute_url()).content.decode()
    assert link.get_absolute_url() in page and "Revoke" in page
    assert link.expires_at - timezone.now() > timedelta(days=6, hours=23)

    owner.post(f"/shares/{link.pk}/revoke")

    anyone = Client()
    assert anyone.get(link.get_absolute_url()).status_code == 404
    assert anyone.get(f"/s/{link.token}/{harbour.pk}/download.png").status_code == 404
    assert anyone.get(f"/s/{link.token}/{harbour.pk}/after.jpg").status_code == 404
    assert link.get_absolute_url() not in owner.get(harbour.get_absolute_url()).content.decode()


def test_an_expired_link_shows_nothing(owner, harbour):
    link = share(owner, harbour, expires_in="1")
    ShareLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert Client().get(link.get_absolute_url()).status_code == 404


def test_a_guessed_or_malformed_link_is_the_same_404(harbour):
    anyone = Client()

    assert anyone.get("/s/" + "A" * 43 + "/").status_code == 404
    assert anyone.get("/s/x/").status_code == 404


def test_a_photo_link_opens_no_other_photo(owner, alice, harbour):
    other = add_photo(alice, "private.jpg")
    link = share(owner, harbour)
    anyone = Client()

    for url in (f"/s/{link.token}/{other.pk}/", f"/s/{link.token}/{other.pk}/after.jpg",
                f"/s/{link.token}/{other.pk}/download.png", f"/photos/{other.pk}/", f"/photos/{harbour.pk}/"):
        assert anyone.get(url).status_code in (302, 404), url  # the private pages send anyone to log in


def test_an_album_link_shows_the_albums_photos_as_they_are_now(owner, alice, harbour):
    album = Album.objects.create(owner=alice, name="Harbour days")
    second, private = add_photo(alice, "pier.jpg"), add_photo(alice, "private.jpg")
    album.photos.add(harbour, second)
    owner.post(f"/albums/{album.pk}/share")
    link = ShareLink.objects.get(album=album)
    anyone = Client()

    page = anyone.get(link.get_absolute_url()).content.decode()
    assert "Harbour days" in page and page.count(f"/s/{link.token}/") >= 4
    assert str(private.pk) not in page
    assert anyone.get(f"/s/{link.token}/{second.pk}/").status_code == 200
    assert anyone.get(f"/s/{link.token}/{private.pk}/").status_code == 404
    album.photos.remove(second)
    assert anyone.get(f"/s/{link.token}/{second.pk}/download.png").status_code == 404


def test_only_the_owner_makes_or_revokes_a_link(client, stranger, staff, alice, harbour):
    album = Album.objects.create(owner=alice, name="Family")
    link = ShareLink.objects.create(owner=alice, photo=harbour)
    for user in (stranger, staff):
        client.force_login(user)
        assert client.post(f"/photos/{harbour.pk}/share").status_code == 404
        assert client.post(f"/albums/{album.pk}/share").status_code == 404
        assert client.post(f"/shares/{link.pk}/revoke").status_code == 404
    assert ShareLink.objects.count() == 1 and ShareLink.objects.get().revoked_at is None


def test_the_home_page_promise_names_share_links(client):
    text = client.get("/").content.decode()

    assert "only you can see them" in text and "share link" in text
