"""The gallery: search and sort, ticking photos to download as one streamed ZIP or delete, and albums."""

import asyncio
import io
import zipfile

import pytest
from django.http import StreamingHttpResponse

from tests.webapp import samples
from tests.webapp.conftest import upload
from webapp.photos import colorizing, gallery, services
from webapp.photos.models import Album, Photo

pytestmark = pytest.mark.django_db


def add_photo(owner, name, model=None, width=96, height=64):
    photo = services.accept_upload(owner, upload(samples.gray_jpeg(width, height), name))
    if model is not None:
        colorizing.run_colorization(photo.colorizations.get().pk)
    return photo


@pytest.fixture
def three(alice, tiny_model):
    return [add_photo(alice, name, tiny_model) for name in ("harbour 1931.jpg", "Aunt May.jpg", "wedding.png")]


def names_on_page(response) -> list[str]:
    return [photo.original_name for photo, _ in response.context["cards"]]


def unzip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


# --- Search and sort ----------------------------------------------------------------------------


def test_the_gallery_searches_by_name_and_sorts_by_date_and_name(client, alice, stranger, three):
    add_photo(stranger, "harbour 1932.jpg")
    client.force_login(alice)

    assert names_on_page(client.get("/photos/")) == ["wedding.png", "Aunt May.jpg", "harbour 1931.jpg"]
    assert names_on_page(client.get("/photos/?sort=oldest")) == ["harbour 1931.jpg", "Aunt May.jpg", "wedding.png"]
    assert names_on_page(client.get("/photos/?sort=name")) == ["Aunt May.jpg", "harbour 1931.jpg", "wedding.png"]
    assert names_on_page(client.get("/photos/?sort=name-desc")) == ["wedding.png", "harbour 1931.jpg", "Aunt May.jpg"]
    assert names_on_page(client.get("/photos/?q=HARBOUR")) == ["harbour 1931.jpg"]
    assert names_on_page(client.get("/photos/?sort=nonsense")) == ["wedding.png", "Aunt May.jpg", "harbour 1931.jpg"]
    assert "No photo matches “zebra”" in client.get("/photos/?q=zebra").content.decode()


def test_the_pages_of_a_search_keep_the_search(client, alice, tiny_model, monkeypatch):
    from webapp.photos.views import gallery as gallery_views

    monkeypatch.setattr(gallery_views, "GALLERY_PAGE_SIZE", 2)
    for number in range(3):
        add_photo(alice, f"box {number}.jpg")
    client.force_login(alice)

    page = client.get("/photos/?q=box&sort=name").content.decode()

    assert 'href="?q=box&amp;sort=name&amp;page=2"' in page


# --- Download as one ZIP ------------------------------------------------------------------------


def test_the_ticked_photos_download_as_one_zip_of_full_resolution_results(client, alice, three, media_storage):
    client.force_login(alice)
    harbour, may, _ = three

    response = client.post("/photos/download.zip", {"photos": [str(harbour.pk), str(may.pk)]})

    assert isinstance(response, StreamingHttpResponse) and response["Content-Type"] == "application/zip"
    assert 'attachment; filename="hue-photos.zip"' == response["Content-Disposition"]
    body = b"".join(response.streaming_content)
    assert int(response["Content-Length"]) == len(body)
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert sorted(archive.namelist()) == ["Aunt May-colorized.png", "harbour 1931-colorized.png"]
    result = harbour.colorizations.get()
    assert archive.read("harbour 1931-colorized.png") == (media_storage / result.result.name).read_bytes()


def test_the_zip_holds_the_originals_when_asked(client, alice, three, media_storage):
    client.force_login(alice)
    harbour = three[0]

    archive = unzip(client.post("/photos/download.zip", {"photos": [str(harbour.pk)], "originals": "1"}))

    assert sorted(archive.namelist()) == ["harbour 1931-colorized.png", "originals/harbour 1931.jpg"]
    assert archive.read("originals/harbour 1931.jpg") == (media_storage / harbour.original.name).read_bytes()


def test_the_zip_streams_reading_one_photo_at_a_time(client, alice, three, monkeypatch):
    opened = []
    real_stored_chunks = gallery._stored_chunks

    def counting(file):
        opened.append(file.name)
        yield from real_stored_chunks(file)

    monkeypatch.setattr(gallery, "_stored_chunks", counting)
    client.force_login(alice)

    response = client.post("/photos/download.zip", {"photos": [str(photo.pk) for photo in three], "originals": "1"})

    assert opened == []  # nothing read before the first byte is asked for
    seen = [len(opened) for _ in response.streaming_content]
    assert seen[0] <= 1 and seen == sorted(seen)  # one file after the other
    assert seen[-1] == 6 and len(set(seen)) >= 6


def test_over_asgi_the_zip_is_sent_in_batches_not_read_whole_first():
    pulled = []

    def parts():
        for number in range(5):
            pulled.append(number)
            yield bytes(gallery.ASYNC_BATCH // 2)

    async def first_chunk():
        stream = gallery.in_threads(parts())
        chunk = await stream.__anext__()
        await stream.aclose()
        return chunk

    assert len(asyncio.run(first_chunk())) == gallery.ASYNC_BATCH
    assert pulled == [0, 1]


def test_all_photos_the_search_shows_can_be_downloaded_at_once(client, alice, stranger, three):
    add_photo(stranger, "harbour 1932.jpg")
    client.force_login(alice)

    archive = unzip(client.post("/photos/download.zip", {"all": "1", "q": "a"}))

    assert sorted(archive.namelist()) == ["Aunt May-colorized.png", "harbour 1931-colorized.png"]


def test_a_strangers_photos_never_get_into_my_zip(client, alice, stranger, three, tiny_model):
    theirs = add_photo(stranger, "secret.jpg", tiny_model)
    client.force_login(alice)

    archive = unzip(client.post("/photos/download.zip", {"photos": [str(theirs.pk), str(three[0].pk), "junk"]}))

    assert archive.namelist() == ["harbour 1931-colorized.png"]


def test_photos_without_a_result_yet_say_so_instead_of_an_empty_zip(client, alice):
    waiting = add_photo(alice, "waiting.jpg")
    client.force_login(alice)

    response = client.post("/photos/download.zip", {"photos": [str(waiting.pk)]}, follow=True)

    assert response.redirect_chain == [("/photos/", 302)]
    assert "has a finished result yet" in response.content.decode()


# --- Delete several ------------------------------------------------------------------------------


def test_deleting_the_ticked_photos_asks_first_then_deletes_only_mine(client, alice, stranger, three,
                                                                       django_capture_on_commit_callbacks):
    theirs = add_photo(stranger, "theirs.jpg")
    client.force_login(alice)
    chosen = [str(three[0].pk), str(three[1].pk), str(theirs.pk)]

    asked = client.post("/photos/delete-selected", {"photos": chosen})
    assert asked.status_code == 200 and "Delete 2 photos?" in asked.content.decode()
    assert Photo.objects.count() == 4
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/photos/delete-selected", {"photos": chosen, "confirm": "yes"})

    assert response.status_code == 302 and response.url == "/photos/"
    assert set(Photo.objects.values_list("original_name", flat=True)) == {"wedding.png", "theirs.jpg"}


# --- Albums --------------------------------------------------------------------------------------


def test_an_album_gathers_photos_and_opens_as_its_own_gallery(client, alice, three):
    client.force_login(alice)
    harbour, may, wedding = three

    response = client.post("/albums/add", {"photos": [str(harbour.pk), str(may.pk)], "target_album": "new",
                                           "new_album_name": "  Grandma's   box "})
    album = Album.objects.get()
    assert response.status_code == 302 and album.name == "Grandma's box" and album.owner == alice
    client.post("/albums/add", {"photos": [str(wedding.pk)], "target_album": str(album.pk)})
    client.post(f"/albums/{album.pk}/remove", {"photos": [str(may.pk)], "album": str(album.pk)})

    page = client.get(album.get_absolute_url())
    assert names_on_page(page) == ["wedding.png", "harbour 1931.jpg"]
    assert "Grandma&#x27;s box" in page.content.decode()
    assert "2 photos" in client.get("/albums/").content.decode()
    archive = unzip(client.post("/photos/download.zip", {"all": "1", "album": str(album.pk)}))
    assert sorted(archive.namelist()) == ["harbour 1931-colorized.png", "wedding-colorized.png"]


def test_renaming_and_deleting_an_album_keeps_its_photos(client, alice, three):
    client.force_login(alice)
    album = Album.objects.create(owner=alice, name="Box 1")
    album.photos.add(*three)

    client.post(f"/albums/{album.pk}/rename", {"name": "Box one"})
    album.refresh_from_db()
    assert album.name == "Box one"
    client.post(f"/albums/{album.pk}/delete")

    assert not Album.objects.exists() and Photo.objects.count() == 3


def test_a_stranger_can_neither_see_nor_fill_my_album(client, alice, stranger, three):
    album = Album.objects.create(owner=alice, name="Family")
    theirs = add_photo(stranger, "theirs.jpg")
    client.force_login(stranger)

    for response in (client.get(album.get_absolute_url()),
                     client.post("/albums/add", {"photos": [str(theirs.pk)], "target_album": str(album.pk)}),
                     client.post(f"/albums/{album.pk}/rename", {"name": "Mine"}),
                     client.post(f"/albums/{album.pk}/delete")):
        assert response.status_code == 404
    client.post("/albums/add", {"photos": [str(three[0].pk)], "target_album": "new", "new_album_name": "Stolen"})

    assert list(album.photos.all()) == [] and Album.objects.get(pk=album.pk).name == "Family"
    assert not Album.objects.filter(name="Stolen").exists()  # none of the ticked photos was theirs
