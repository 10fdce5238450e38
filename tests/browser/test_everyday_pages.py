"""The everyday pages in a real browser, on a desktop (1280 px) and on a phone (375 px): the gallery,
the photo page and its "Colorize again" form."""

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.webapp import samples
from tests.webapp.conftest import upload
from webapp.core.jobs import JobState
from webapp.photos import services

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 740}}


@pytest.fixture(params=sorted(VIEWPORTS))
def viewport(request):
    return request.param


@pytest.fixture
def signed_in(alice, page_server, page, viewport):
    """A browser page at the viewport's size, signed in as alice."""
    client = Client()
    client.force_login(alice)
    page.set_viewport_size(VIEWPORTS[viewport])
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": page_server}])
    return page


def finish(job, model):
    """Run a queued colorization here, as a worker would."""
    services.run_colorization(job.pk)
    job.refresh_from_db()
    assert job.state == JobState.DONE
    return job


def test_a_queued_photo_shows_colorizing_not_a_broken_image(signed_in, page_server, alice, tiny_model):
    done = services.accept_upload(alice, upload(samples.gray_jpeg(320, 240), "done.jpg"))
    finish(done.colorizations.get(), tiny_model)
    services.accept_upload(alice, upload(samples.gray_jpeg(320, 240), "waiting.jpg"))

    signed_in.goto(page_server + "/photos/")
    waiting = signed_in.locator(".photo-card", has_text="waiting.jpg")
    expect(waiting.locator("[data-job-waiting]")).to_be_visible()
    expect(waiting.locator("img[data-job-thumbnail]")).to_be_hidden()
    expect(signed_in.locator(".photo-card", has_text="done.jpg").locator("img[data-job-thumbnail]")).to_be_visible()
