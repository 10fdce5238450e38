import io
import warnings

import pytest
from django.contrib.auth.models import User
from django.test import Client
from PIL import Image

from tests.factories import register_tiny_model, tiny_generator_bytes
from tests.finetune.conftest import colour_zip
from tests.webapp import samples
from tests.webapp.conftest import upload
from webapp.core.jobs import JobState
from webapp.finetune.models import Dataset, FineTuneJob, FineTuneState
from webapp.photos import colorizing, services, uploads
from webapp.photos.models import Colorization, Photo
from webapp.registry.models import ModelVersion
from webapp.registry.services import activate_version

pytestmark = pytest.mark.django_db


@pytest.fixture
def done_job(tiny_model, job):
    colorizing.run_colorization(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.DONE
    return job


def post_file(client, data: bytes, name: str = "photo.jpg"):
    return client.post("/upload/", {"files": upload(data, name=name)}, HTTP_ACCEPT="application/json")


def private_urls(photo, job) -> list[str]:
    """Every URL that shows or changes one photo or its results."""
    return [
        f"/photos/{photo.pk}/",
        f"/photos/{photo.pk}/original",
        f"/photos/{photo.pk}/thumbnail.jpg",
        f"/photos/{photo.pk}/preview.jpg",
        f"/photos/{photo.pk}/delete",
        f"/results/{job.pk}/thumbnail.jpg",
        f"/results/{job.pk}/preview.jpg",
        f"/results/{job.pk}/download.png",
        f"/results/{job.pk}/download.jpg",
    ]


# --- Upload -----------------------------------------------------------------------------------


def test_the_upload_page_says_what_it_accepts(client, alice):
    client.force_login(alice)

    response = client.get("/upload/")

    assert response.status_code == 200
    assert b"JPEG, PNG, WebP, TIFF, BMP or GIF" in response.content
    assert b"up to 25 MB and 50 megapixels each" in response.content


def test_a_script_upload_answers_with_the_queued_job(client, alice):
    client.force_login(alice)

    response = post_file(client, samples.gray_jpeg(96, 64), name="wedding.jpg")

    assert response.status_code == 201
    body = response.json()
    photo = Photo.objects.get()
    assert body["photo"] == {"id": str(photo.pk), "url": f"/photos/{photo.pk}/", "name": "wedding.jpg",
                             "width": 96, "height": 64, "notes": []}
    assert body["job"]["state"] == "queued" and body["job"]["photo_id"] == str(photo.pk)


BAD_FILES = [
    ("empty.jpg", b"", "This file is empty."),
    ("cut-off.jpg", samples.truncated_jpeg(), "damaged or incomplete"),
    ("notes.jpg", samples.text_renamed_jpg(), "not a photo Hue can read"),
    ("bomb.png", samples.png_declaring(20000, 20000), "too large"),
]


@pytest.mark.parametrize("name, data, message", BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_a_bad_file_gets_a_clear_message_and_stores_nothing(client, alice, media_storage, name, data, message):
    client.force_login(alice)

    response = post_file(client, data, name=name)

    assert response.status_code == 400
    assert response.json()["name"] == name
    assert message in response.json()["error"]
    assert not Photo.objects.exists()
    assert not media_storage.exists() or not any(media_storage.rglob("*.*"))


# Pillow still warns about the 400 MP file, which is over the app's limit too and refused anyway.
@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_a_pixel_limit_raised_above_pillows_own_is_the_one_that_decides(client, alice, settings):
    settings.UPLOAD_MAX_PIXELS = 300_000_000
    client.force_login(alice)

    over = post_file(client, samples.png_declaring(20000, 20000), name="huge.png")  # 400 MP, header only
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        under = post_file(client, samples.png_declaring(14000, 13000), name="big.png")  # 182 MP: 2x Pillow's default

    assert over.json()["error"] == (
        "This image is 20,000 × 20,000 pixels (400 megapixels); the limit is 300 megapixels.")
    assert "damaged or incomplete" in under.json()["error"]  # past the pixel check; its pixel data is missing
    assert not [warning for warning in caught if issubclass(warning.category, Image.DecompressionBombWarning)]


def test_a_file_over_the_size_limit_is_refused(client, alice, settings):
    settings.UPLOAD_MAX_BYTES = 20 * 1024
    client.force_login(alice)

    response = post_file(client, samples.noise_jpeg(300, 300))

    assert response.status_code == 400
    assert response.json()["error"].endswith("the limit is 20 KB per photo.")


GOOD_ODD_FILES = [
    ("deep.png", samples.png_16bit(96, 64), (96, 64), []),
    ("print.jpg", samples.cmyk_jpeg(96, 64), (96, 64), []),
    ("dance.gif", samples.animated_gif(64, 48), (64, 48), ["This is an animated GIF: Hue colorizes its first frame."]),
    ("phone.jpg", samples.exif_rotated_jpeg(96, 64), (64, 96), []),
]


@pytest.mark.parametrize("name, data, size, notes", GOOD_ODD_FILES, ids=[name for name, *_ in GOOD_ODD_FILES])
def test_unusual_but_valid_photos_are_accepted(client, alice, name, data, size, notes):
    client.force_login(alice)

    response = post_file(client, data, name=name)

    assert response.status_code == 201, response.content
    assert (response.json()["photo"]["width"], response.json()["photo"]["height"]) == size
    assert response.json()["photo"]["notes"] == notes


def test_a_colour_photo_is_accepted_with_a_note(client, alice):
    client.force_login(alice)

    response = post_file(client, samples.colour_jpeg(), name="kodachrome.jpg")

    assert response.status_code == 201
    assert "already has colour" in response.json()["photo"]["notes"][0]


def test_the_plain_form_takes_many_files_and_reports_each_bad_one(client, alice):
    client.force_login(alice)
    files = [upload(samples.gray_jpeg(), name="good-1.jpg"), upload(samples.truncated_jpeg(), name="broken.jpg"),
             upload(samples.gray_png(), name="good-2.png", content_type="image/png")]

    response = client.post("/upload/", {"files": files}, follow=True)

    assert sorted(Photo.objects.values_list("original_name", flat=True)) == ["good-1.jpg", "good-2.png"]
    texts = [str(message) for message in response.context["messages"]]
    assert any(text.startswith("broken.jpg: This image is damaged") for text in texts)
    assert "2 photos uploaded. Colorizing now." in texts
    assert response.redirect_chain[-1][0] == "/photos/"


def test_a_file_over_the_size_limit_is_not_kept_while_the_others_of_the_form_go_on(client, alice, settings,
                                                                                    monkeypatch):
    settings.UPLOAD_MAX_BYTES = 20 * 1024
    received = {}
    accept_upload = services.accept_upload

    def record(owner, file):
        received[file.name] = type(file)
        return accept_upload(owner, file)

    monkeypatch.setattr(services, "accept_upload", record)
    client.force_login(alice)
    files = [upload(samples.gray_jpeg(), name="good-1.jpg"), upload(samples.noise_jpeg(300, 300), name="huge.jpg"),
             upload(samples.gray_png(), name="good-2.png", content_type="image/png")]

    response = client.post("/upload/", {"files": files}, follow=True)

    assert sorted(Photo.objects.values_list("original_name", flat=True)) == ["good-1.jpg", "good-2.png"]
    texts = [str(message) for message in response.context["messages"]]
    assert any(text.startswith("huge.jpg: This file is ") and text.endswith("the limit is 20 KB per photo.")
               for text in texts), texts
    assert received["huge.jpg"] is uploads.TooLargeUpload  # its bytes past the limit were never stored


def test_a_script_upload_takes_one_file_per_request(client, alice):
    client.force_login(alice)

    response = client.post("/upload/", {"files": [upload(samples.gray_jpeg()), upload(samples.gray_jpeg())]},
                           HTTP_ACCEPT="application/json")

    assert response.status_code == 400
    assert not Photo.objects.exists()


def test_uploads_need_an_account(client):
    response = client.post("/upload/", {"files": upload(samples.gray_jpeg())})

    assert response.status_code == 302 and response.url.startswith("/accounts/login/")
    assert not Photo.objects.exists()


# --- Gallery and detail --------------------------------------------------------------------------


def test_a_new_user_sees_how_to_start(client, alice):
    client.force_login(alice)

    response = client.get("/photos/")

    assert b"No photos yet" in response.content
    assert b'href="/upload/"' in response.content


def test_the_gallery_shows_only_my_photos_newest_first_and_paginates(client, alice, stranger):
    for number in range(26):
        services.accept_upload(alice, upload(samples.gray_jpeg(32, 32, seed=number), name=f"mine-{number:02}.jpg"))
    services.accept_upload(stranger, upload(samples.gray_jpeg(32, 32), name="not-mine.jpg"))
    client.force_login(alice)

    first = client.get("/photos/")
    second = client.get("/photos/?page=2")

    names = [photo.original_name for photo, _ in first.context["cards"]]
    assert names[:2] == ["mine-25.jpg", "mine-24.jpg"] and len(names) == 24
    assert [photo.original_name for photo, _ in second.context["cards"]] == ["mine-01.jpg", "mine-00.jpg"]
    assert b"not-mine" not in first.content + second.content


def test_the_detail_page_shows_render_settings_model_and_downloads(client, alice, done_job):
    client.force_login(alice)

    response = client.get(f"/photos/{done_job.photo.pk}/")

    content = response.content.decode()
    assert "256 px" in content and ">v1<" in content and "Standard (no noise)" in content
    assert f"/results/{done_job.pk}/download.png" in content and f"/results/{done_job.pk}/download.jpg" in content
    assert 'role="slider"' in content and 'aria-valuenow="50"' in content


def test_the_detail_page_of_a_waiting_photo_shows_its_state(client, alice, job):
    client.force_login(alice)

    response = client.get(f"/photos/{job.photo.pk}/")

    assert b"Waiting for a worker" in response.content


def test_a_result_can_be_picked_from_the_photo_page(client, alice, done_job):
    other = services.request_colorization(done_job.photo, render_size=512)
    client.force_login(alice)

    assert client.get(f"/photos/{done_job.photo.pk}/?result={other.pk}").context["selected"] == other
    assert client.get(f"/photos/{done_job.photo.pk}/?result=nonsense").context["selected"] == done_job


def test_an_unfinished_result_in_the_list_has_a_thumbnail_and_model_for_live_updates_to_fill(client, alice,
                                                                                              done_job):
    rerun = services.request_colorization(done_job.photo, render_size=512)
    client.force_login(alice)

    content = client.get(f"/photos/{done_job.photo.pk}/").content.decode()

    item = content.split(f'<li data-job="{rerun.pk}"')[1].split("</li>")[0]
    assert '<img alt="" loading="lazy" data-job-thumbnail hidden>' in item
    assert '<span class="run-model" data-job-model></span>' in item
    done = content.split(f'<li data-job="{done_job.pk}"')[1].split("</li>")[0]
    assert f'data-job-thumbnail src="/results/{done_job.pk}/thumbnail.jpg"' in done
    assert '<span class="run-model" data-job-model>v1</span>' in done


# --- Re-run and delete ---------------------------------------------------------------------------


def test_re_running_with_a_new_variation_queues_a_seeded_job(client, alice, done_job, sent_tasks,
                                                              django_capture_on_commit_callbacks):
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/photos/{done_job.photo.pk}/rerun", {"render_size": "512", "variation": "on"})

    rerun = Colorization.objects.exclude(pk=done_job.pk).get()
    assert response.status_code == 302 and response.url == f"/photos/{done_job.photo.pk}/?result={rerun.pk}"
    assert (rerun.render_size, rerun.state) == (512, JobState.QUEUED)
    assert rerun.seed is not None
    assert sent_tasks[-1] == str(rerun.pk)


def test_re_running_with_another_model_version_queues_a_job_for_that_version(client, alice, done_job, tiny_model,
                                                                             sent_tasks,
                                                                             django_capture_on_commit_callbacks):
    newer = register_tiny_model(name="Newer", seed=1)  # now the active one
    ModelVersion.objects.filter(pk=tiny_model.pk).update(public=True, public_name="Classic")
    client.force_login(alice)

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/photos/{done_job.photo.pk}/rerun",
                               {"render_size": "512", "model_version": str(tiny_model.pk)})

    rerun = Colorization.objects.exclude(pk=done_job.pk).get()
    assert response.status_code == 302 and response.url == rerun.get_absolute_url()
    assert (rerun.requested_version, rerun.render_size, rerun.seed) == (tiny_model, 512, None)
    assert newer.is_active and sent_tasks[-1] == str(rerun.pk)


def test_people_cannot_re_run_with_a_version_staff_did_not_make_public(client, alice, done_job, tiny_model):
    register_tiny_model(name="Newer", seed=1)  # active; v1 is internal now
    client.force_login(alice)

    client.post(f"/photos/{done_job.photo.pk}/rerun", {"render_size": "512", "model_version": str(tiny_model.pk)})
    public = register_tiny_model(name="Public", activate=False, seed=2)
    ModelVersion.objects.filter(pk=public.pk).update(public=True)
    response = client.post(f"/photos/{done_job.photo.pk}/rerun",
                           {"render_size": "256", "model_version": str(tiny_model.pk)}, follow=True)

    assert not Colorization.objects.filter(requested_version=tiny_model).exists()  # ignored, then refused
    assert "Select a valid choice" in response.content.decode()


def test_a_stranger_cannot_re_run_my_photo_with_any_model_version(client, stranger, done_job, tiny_model):
    register_tiny_model(name="Newer", seed=1)
    client.force_login(stranger)

    response = client.post(f"/photos/{done_job.photo.pk}/rerun",
                           {"render_size": "512", "model_version": str(tiny_model.pk)})

    assert response.status_code == 404
    assert Colorization.objects.count() == 1


def test_re_running_with_the_same_settings_shows_the_result_they_already_made(client, alice, done_job):
    client.force_login(alice)

    response = client.post(f"/photos/{done_job.photo.pk}/rerun", {"render_size": "256"}, follow=True)

    assert response.redirect_chain == [(done_job.get_absolute_url(), 302)]
    assert response.context["selected"] == done_job
    assert "already has that result" in response.content.decode()
    assert Colorization.objects.count() == 1


def test_after_a_rollback_colorize_again_with_the_defaults_shows_the_active_models_result(
        client, alice, done_job, tiny_model, sent_tasks):
    newer = register_tiny_model(name="Newer", seed=1)  # activated: the photo gets a v2 result
    v2_result = services.request_colorization(done_job.photo, render_size=256)
    colorizing.run_colorization(v2_result.pk)
    activate_version(tiny_model)  # rolled back to v1
    client.force_login(alice)

    page = client.get(done_job.photo.get_absolute_url())
    assert page.context["selected"].model_version == newer  # the page shows v2's result...
    response = client.post(f"/photos/{done_job.photo.pk}/rerun", {"render_size": "256"}, follow=True)

    assert response.status_code == 200  # ...and "Colorize again" with its defaults shows v1's
    assert response.redirect_chain == [(done_job.get_absolute_url(), 302)]
    assert Colorization.objects.count() == 2


def test_a_refused_re_run_redirects_back_to_the_photo_with_the_reason(client, alice, done_job):
    client.force_login(alice)

    response = client.post(f"/photos/{done_job.photo.pk}/rerun", {"render_size": "4096"}, follow=True)

    assert response.redirect_chain == [(done_job.photo.get_absolute_url(), 302)]
    assert "Select a valid choice" in response.content.decode()
    assert Colorization.objects.count() == 1


def test_deleting_asks_first_then_removes_the_photo_and_its_files(client, alice, done_job, media_storage,
                                                                  django_capture_on_commit_callbacks):
    client.force_login(alice)
    photo = done_job.photo

    assert b"Delete this photo?" in client.get(f"/photos/{photo.pk}/delete").content
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/photos/{photo.pk}/delete")

    assert response.status_code == 302 and response.url == "/photos/"
    assert not Photo.objects.exists()
    assert not (media_storage / "photos" / str(photo.pk)).exists() or not any((media_storage / "photos").rglob("*.*"))
    assert not any((media_storage / "results").rglob("*.*"))


# --- Files and privacy -----------------------------------------------------------------------------


def test_the_owner_downloads_the_full_resolution_result_as_png_and_jpeg(client, alice, done_job):
    client.force_login(alice)

    png = client.get(f"/results/{done_job.pk}/download.png")
    jpeg = client.get(f"/results/{done_job.pk}/download.jpg")

    assert png["Content-Type"] == "image/png" and 'attachment; filename="grandma-colorized.png"' == png["Content-Disposition"]
    assert jpeg["Content-Type"] == "image/jpeg" and jpeg["Content-Disposition"].endswith('"grandma-colorized.jpg"')
    with Image.open(io.BytesIO(b"".join(png.streaming_content))) as image:
        assert (image.format, image.size) == ("PNG", (96, 64))
    with Image.open(io.BytesIO(jpeg.content)) as image:
        assert (image.format, image.size) == ("JPEG", (96, 64))


def test_every_file_is_private_to_the_browser(client, alice, done_job):
    client.force_login(alice)

    for url in private_urls(done_job.photo, done_job)[1:4] + private_urls(done_job.photo, done_job)[5:]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert response["Cache-Control"] == "private, max-age=86400", url


def test_a_stranger_gets_404_for_everything_of_mine(client, stranger, done_job):
    client.force_login(stranger)

    for url in private_urls(done_job.photo, done_job):
        assert client.get(url).status_code == 404, url
    for url in (f"/photos/{done_job.photo.pk}/rerun", f"/photos/{done_job.photo.pk}/delete"):
        assert client.post(url, {"render_size": "512"}).status_code == 404, url
    assert Photo.objects.filter(pk=done_job.photo.pk).exists()
    assert Colorization.objects.count() == 1


def test_anonymous_visitors_are_sent_to_log_in(client, done_job):
    for url in private_urls(done_job.photo, done_job):
        response = client.get(url)
        assert response.status_code == 302 and response.url.startswith("/accounts/login/"), url


def test_staff_without_the_view_any_photo_permission_cannot_open_other_users_photos(client, staff, done_job):
    client.force_login(staff)

    for url in private_urls(done_job.photo, done_job):
        assert client.get(url).status_code == 404, url


def test_staff_granted_view_any_photo_open_other_users_photos_and_each_view_is_logged(client, staff, done_job,
                                                                                      caplog):
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(Permission.objects.get(codename="view_any_photo"))
    client.force_login(staff)
    viewing = [url for url in private_urls(done_job.photo, done_job) if not url.endswith("/delete")]

    with caplog.at_level("INFO", logger="webapp.audit"):
        for url in viewing:
            assert client.get(url).status_code == 200, url

    audit = [record.getMessage() for record in caplog.records if record.name == "webapp.audit"]
    assert len(audit) == len(viewing)
    assert all(f"user sam (id {staff.pk}) viewed the" in line and str(done_job.photo.pk) in line
               and f"owned by user id {done_job.photo.owner_id}" in line for line in audit)
    # Viewing is all it grants: another user's photo is neither deleted nor colorized again by staff.
    assert client.post(f"/photos/{done_job.photo.pk}/delete").status_code == 404
    assert client.post(f"/photos/{done_job.photo.pk}/rerun", {"render_size": "512"}).status_code == 404
    assert Photo.objects.filter(pk=done_job.photo.pk).exists()


def test_an_owners_own_views_are_not_logged_as_audits(client, alice, done_job, caplog):
    client.force_login(alice)

    with caplog.at_level("INFO", logger="webapp.audit"):
        for url in private_urls(done_job.photo, done_job):
            client.get(url)

    assert not [record for record in caplog.records if record.name == "webapp.audit"]


def test_files_are_never_served_from_a_media_url(client, alice, done_job, settings):
    client.force_login(alice)

    for field in (done_job.photo.original, done_job.result):
        assert client.get(settings.MEDIA_URL + field.name).status_code == 404
        assert client.get("/media/" + field.name).status_code == 404


def test_a_result_that_is_not_finished_has_no_download(client, alice, job):
    client.force_login(alice)

    assert client.get(f"/results/{job.pk}/download.png").status_code == 404


# --- CSRF ----------------------------------------------------------------------------------------


def test_every_form_requires_a_csrf_token(alice, photo):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/accounts/signup/", {"username": "x", "password1": "a-Long-pass-42",
                                             "password2": "a-Long-pass-42"}).status_code == 403
    assert strict.post("/accounts/login/", {"username": "alice", "password": "correct-horse-battery"}).status_code == 403

    strict.force_login(alice)
    posts = {
        "/upload/": {"files": upload(samples.gray_jpeg())},
        f"/photos/{photo.pk}/rerun": {"render_size": "512"},
        f"/photos/{photo.pk}/delete": {},
        "/accounts/logout/": {},
    }
    for url, data in posts.items():
        assert strict.post(url, data).status_code == 403, url
    assert Photo.objects.count() == 1 and Colorization.objects.count() == 1


def test_every_admin_action_requires_a_csrf_token(tiny_model):
    newer = register_tiny_model(name="Newer", seed=1)  # active: tiny_model (v1) is a rollback away
    candidate = register_tiny_model(name="Candidate", seed=2, activate=False)
    dataset = Dataset.objects.create(name="Holidays", source=Dataset.Source.FOLDER, folder="/srv/holidays",
                                     state=Dataset.State.DONE)
    queued = FineTuneJob.objects.create(dataset=dataset, base_version=newer)
    cancelled = FineTuneJob.objects.create(dataset=dataset, base_version=newer, state=FineTuneState.CANCELLED)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(User.objects.create_superuser("root", password="correct-horse-battery"))

    posts = {
        f"/admin/registry/modelversion/{candidate.pk}/activate/": {},
        f"/admin/registry/modelversion/{tiny_model.pk}/activate/": {"return_to": "version"},  # a rollback
        "/admin/registry/modelversion/add/": {"name": "Uploaded", "notes": "",
                                              "weights": upload(tiny_generator_bytes(3), name="g.safetensors")},
        f"/admin/finetune/finetunejob/{queued.pk}/cancel/": {},
        f"/admin/finetune/finetunejob/{cancelled.pk}/resume/": {},
        "/admin/finetune/dataset/add/": {"name": "More", "folder": "",
                                         "archive": upload(colour_zip(2), name="more.zip")},
    }
    for url, data in posts.items():
        response = strict.post(url, data)
        assert response.status_code == 403 and b"CSRF verification failed" in response.content, url

    assert list(ModelVersion.objects.filter(is_active=True)) == [newer]
    assert ModelVersion.objects.count() == 3 and Dataset.objects.count() == 1
    queued.refresh_from_db()
    cancelled.refresh_from_db()
    assert (queued.state, cancelled.state) == (FineTuneState.QUEUED, FineTuneState.CANCELLED)


def test_staff_browse_photos_and_jobs_in_the_admin_without_file_links(client, done_job):
    admin = User.objects.create_superuser("root", password="correct-horse-battery")
    client.force_login(admin)

    pages = ["/admin/photos/photo/", f"/admin/photos/photo/{done_job.photo.pk}/change/",
             "/admin/photos/colorization/", f"/admin/photos/colorization/{done_job.pk}/change/"]
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        assert b"/media-not-served/" not in response.content, url


def test_every_page_carries_a_content_security_policy(client, alice):
    for url in ("/", "/accounts/login/", "/admin/login/"):
        policy = client.get(url)["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "object-src 'none'" in policy and "frame-ancestors 'none'" in policy


# --- Colour intensity -----------------------------------------------------------------------------


def test_colorize_again_with_a_stronger_colour_intensity_stores_it_with_the_result(client, alice, done_job,
                                                                                  sent_tasks, monkeypatch):
    client.force_login(alice)
    response = client.post(f"/photos/{done_job.photo.pk}/rerun", {"render_size": "256", "intensity": "1.3"})
    rerun = Colorization.objects.exclude(pk=done_job.pk).get()
    assert response.status_code == 302 and response.url == rerun.get_absolute_url()
    assert rerun.intensity == 1.3

    from webapp.registry import loader

    asked = []
    colorizer = loader.get_colorizer()
    original = colorizer.colorize
    monkeypatch.setattr(colorizer, "colorize", lambda image, **options: asked.append(options) or original(image,
                                                                                                          **options))
    colorizing.run_colorization(rerun.pk)

    rerun.refresh_from_db()
    assert rerun.state == JobState.DONE and asked[0]["intensity"] == 1.3
    page = client.get(rerun.get_absolute_url()).content.decode()
    assert "<dt>Colour intensity</dt><dd>1.3×</dd>" in page


def test_a_colour_intensity_outside_half_to_one_and_a_half_is_refused(client, alice, done_job):
    client.force_login(alice)

    response = client.post(f"/photos/{done_job.photo.pk}/rerun", {"render_size": "512", "intensity": "2"},
                           follow=True)

    assert "less than or equal to 1.5" in response.content.decode()
    assert Colorization.objects.count() == 1
