"""Colour hints in the web app: offered when the active version takes them, checked (400 when malformed or
oversized), stored with the colorization, drawn on its page and run by the worker."""

import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.test import Client
from PIL import Image

from tests.factories import register_hint_model
from tests.webapp import samples
from tests.webapp.conftest import upload
from webapp.photos.hints import MAX_HINTS, InvalidHints, engine_hints, parse_hints
from webapp.photos.services import accept_upload
from worker.tasks import colorize_photo

pytestmark = pytest.mark.django_db

RED = {"x": 30, "y": 20, "color": "#C81E28"}


@pytest.fixture
def hint_model(db, single_threaded_torch):
    return register_hint_model()


@pytest.fixture
def hinted_photo(alice, hint_model):
    return accept_upload(alice, upload(samples.gray_jpeg(96, 64)))


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rerun(client, photo, hints, **extra):
    data = {"render_size": 256, "intensity": "1.0", "hints": hints if isinstance(hints, str) else json.dumps(hints)}
    return client.post(f"/photos/{photo.pk}/rerun", {**data, **extra})


def test_it_checks_hints_and_says_what_is_wrong():
    assert parse_hints(json.dumps([RED]), 96, 64) == [{"x": 30.0, "y": 20.0, "color": "#c81e28"}]
    assert engine_hints(parse_hints([RED], 96, 64)) == [(30.0, 20.0, (200, 30, 40))]
    assert parse_hints("", 96, 64) == []
    bad = {"not JSON": "[{", "not a list": '{"x": 1}', "outside": [{**RED, "x": 96}],
           "negative": [{**RED, "y": -1}], "not a number": [{**RED, "x": "3"}], "a bool": [{**RED, "x": True}],
           "a huge number": '[{"x": 1' + "0" * 400 + ', "y": 1, "color": "#000000"}]',
           "no colour": [{"x": 1, "y": 1}], "a named colour": [{**RED, "color": "red"}],
           "an extra key": [{**RED, "size": 9}], "too many": [RED] * (MAX_HINTS + 1), "huge": "[" + " " * 10_000 + "]"}
    for name, value in bad.items():
        with pytest.raises(InvalidHints):
            parse_hints(value, 96, 64)


def test_the_web_app_checks_hints_without_loading_torch():
    import subprocess
    import sys

    code = ("import sys; from webapp.photos.hints import parse_hints; parse_hints('[]', 9, 9); "
            "sys.exit('torch' in sys.modules)")
    root = Path(__file__).resolve().parents[2]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0


def test_the_registry_reports_which_versions_take_hints(hint_model, tiny_model, alice):
    assert hint_model.takes_hints and not tiny_model.takes_hints
    type(hint_model).objects.filter(pk=hint_model.pk).update(public=True)  # tiny_model is active now
    models = signed_in(alice).get("/api/v1/models/").json()
    listed = {entry["number"]: entry["takes_hints"] for entry in (models["results"] if "results" in models else models)}
    assert listed[hint_model.number] is True and listed[tiny_model.number] is False


def test_it_offers_hints_only_when_the_active_version_takes_them(alice, hinted_photo, tiny_model):
    client = signed_in(alice)
    page = client.get(hinted_photo.get_absolute_url()).content.decode()
    assert "data-hints-unavailable" in page and "data-hint-editor" not in page  # tiny_model became active
    hint_model = register_hint_model(name="Hints again")
    assert hint_model.is_active
    page = client.get(hinted_photo.get_absolute_url()).content.decode()
    assert "data-hint-editor" in page and "js/hints.js" in page


def test_a_rerun_with_hints_stores_them_and_its_page_draws_the_markers(alice, hinted_photo, sent_tasks):
    response = rerun(signed_in(alice), hinted_photo, [RED])
    assert response.status_code == 302
    job = hinted_photo.colorizations.latest("created_at")
    assert job.hints == [{"x": 30.0, "y": 20.0, "color": "#c81e28"}]
    page = signed_in(alice).get(job.get_absolute_url()).content.decode()
    assert 'data-hint-dot="#c81e28"' in page and "left: 31.25%; top: 31.25%" in page
    assert json.dumps(job.hints).replace('"', "&quot;") in page  # "Colorize again" starts from them
    again = rerun(signed_in(alice), hinted_photo, [RED])  # the same settings: that result, not another job
    assert again.status_code == 302 and hinted_photo.colorizations.count() == 2


@pytest.mark.parametrize("hints", ["[{", [{**RED, "x": 1000}], [RED] * (MAX_HINTS + 1)],
                         ids=["malformed", "outside", "too many"])
def test_malformed_or_oversized_hints_get_a_clear_400(alice, hinted_photo, hints):
    response = rerun(signed_in(alice), hinted_photo, hints)
    assert response.status_code == 400
    assert "hint" in response.content.decode().lower()
    assert hinted_photo.colorizations.count() == 1


def test_hints_for_a_model_without_hint_inputs_are_refused(alice, tiny_model):
    photo = accept_upload(alice, upload(samples.gray_jpeg(96, 64)))
    response = rerun(signed_in(alice), photo, [RED])
    assert response.status_code == 400 and "does not take colour hints" in response.content.decode()


def test_a_stranger_cannot_colorize_someone_elses_photo_with_hints(stranger, hinted_photo):
    assert rerun(signed_in(stranger), hinted_photo, [RED]).status_code == 404
    assert hinted_photo.colorizations.count() == 1


def test_the_api_takes_the_same_hints_field(alice, hinted_photo):
    client = signed_in(alice)
    url = f"/api/v1/photos/{hinted_photo.pk}/colorizations/"
    created = client.post(url, {"hints": [RED]}, content_type="application/json")
    assert created.status_code == 201, created.content
    assert created.json()["hints"] == [{"x": 30.0, "y": 20.0, "color": "#c81e28"}]
    refused = client.post(url, {"hints": [{"x": 1}]}, content_type="application/json")
    assert refused.status_code == 400 and "hints" in refused.json()["fields"]
    too_many = client.post(url, {"hints": [RED] * (MAX_HINTS + 1)}, content_type="application/json")
    assert too_many.status_code == 400 and "at most 64" in json.dumps(too_many.json())


def test_the_worker_colours_the_hinted_place_with_the_hint(alice, hinted_photo, sent_tasks):
    rerun(signed_in(alice), hinted_photo, [{"x": 60, "y": 30, "color": "#c81e28"}])
    job = hinted_photo.colorizations.latest("created_at")
    result = colorize_photo.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert result.successful() and job.state == "done", job.message
    with job.result.open("rb") as handle, Image.open(io.BytesIO(handle.read())) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    assert pixels[30, 60, 0] - pixels[30, 60, 2] > 30  # red where the hint is
    assert abs(pixels[5, 5, 0] - pixels[5, 5, 2]) <= 2  # gray elsewhere (the hand-set model)


def test_a_job_with_hints_fails_clearly_when_the_active_model_no_longer_takes_them(alice, hinted_photo, tiny_model,
                                                                                 sent_tasks):
    from webapp.photos.services import request_colorization

    job = request_colorization(hinted_photo, render_size=256, hints=[{"x": 1.0, "y": 1.0, "color": "#c81e28"}])
    colorize_photo.apply(args=[str(job.pk)])
    job.refresh_from_db()
    assert job.state == "failed" and "does not take colour hints" in job.message
