"""A person places a colour hint on a photo (mouse, keyboard, on a phone's width), recolours, moves and
removes hints, asks for a colorization with them, and sees the result arrive with its marker, coloured
where the hint was, under the site's Content-Security-Policy."""

import io
from urllib.parse import parse_qs

import numpy as np
import pytest
from django.contrib.auth.models import User
from PIL import Image
from playwright.sync_api import expect

from tests.browser.test_content_security_policy import watch_for_violations
from tests.factories import register_hint_model
from tests.webapp import samples
from tests.webapp.conftest import upload
from webapp.photos.models import Colorization
from webapp.photos.services import accept_upload

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def test_it_places_a_hint_sends_it_and_draws_it_on_the_result(live_app, page):
    violations = watch_for_violations(page)
    register_hint_model()  # the active version now takes hints
    user = User.objects.create_user("ada", password="a-Long-passphrase-42")
    photo = accept_upload(user, upload(samples.gray_jpeg(320, 240), name="harbour.jpg"))

    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(live_app + "/accounts/login/")
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password").fill("a-Long-passphrase-42")
    page.get_by_role("button", name="Log in").click()
    page.goto(live_app + photo.get_absolute_url())
    expect(page.locator("[data-downloads]")).to_be_visible(timeout=90_000)  # the first result, live
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    # Tap the photo: a marker and a row to pick its colour.
    surface = page.locator("[data-hint-surface]")
    surface.scroll_into_view_if_needed()
    box = surface.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
    marker = page.get_by_role("button", name="Hint 1,", exact=False)
    expect(marker).to_have_count(1)
    page.get_by_label("Hint 1 colour").fill("#c81e28")
    expect(marker).to_have_attribute("aria-label", "Hint 1, #c81e28, at 50% across, 50% down. Arrow keys move it, "
                                                    "Delete removes it.")
    expect(page.get_by_role("button", name="Light skin (#f1c6a7) for hint 1")).to_be_visible()

    # Keyboard: move it, add a second one and remove it again.
    page.get_by_role("button", name="Hint 1,", exact=False).press("ArrowDown")
    expect(page.get_by_role("button", name="Hint 1,", exact=False)).to_have_attribute(
        "aria-label", "Hint 1, #c81e28, at 50% across, 53% down. Arrow keys move it, Delete removes it.")
    page.get_by_role("button", name="Add a hint").click()
    second = page.get_by_role("button", name="Hint 2,", exact=False)
    expect(second).to_have_count(1)
    second.press("Delete")
    expect(second).to_have_count(0)
    page.get_by_role("button", name="Sky (#87b5e0) for hint 1").click()
    page.get_by_label("Hint 1 colour").fill("#c81e28")  # back to red, through the colour input
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    with page.expect_request(lambda request: request.url.endswith("/rerun") and request.method == "POST") as sent:
        page.get_by_role("button", name="Colorize with hints").click()
    form = parse_qs(sent.value.post_data)
    assert '"color":"#c81e28"' in form["hints"][0] and form["hints"][0].count('"x"') == 1

    job = Colorization.objects.filter(photo=photo).latest("created_at")
    assert len(job.hints) == 1 and job.hints[0]["color"] == "#c81e28"
    expect(page).to_have_url(live_app + job.get_absolute_url())
    expect(page.locator('[data-hint-dot="#c81e28"]')).to_have_count(1)  # the marker on this result
    expect(page.locator("[data-downloads]")).to_be_visible(timeout=90_000)  # the result arrives live
    slider = page.get_by_role("slider", name="Compare original and colorized")  # still works under the markers
    slider.press("End")
    expect(slider).to_have_attribute("aria-valuenow", "100")
    # "Colorize again" starts from the result's hints.
    expect(page.get_by_role("button", name="Hint 1,", exact=False)).to_have_count(1)

    job.refresh_from_db()
    with job.result.open("rb") as handle, Image.open(io.BytesIO(handle.read())) as image:
        pixels = np.asarray(image.convert("RGB")).astype(int)
    x, y = int(job.hints[0]["x"]), int(job.hints[0]["y"])
    assert pixels[y, x, 0] - pixels[y, x, 2] > 30  # red where the hint was placed
    assert abs(pixels[10, 10, 0] - pixels[10, 10, 2]) <= 2  # gray far from it (the pass-through model)
    assert violations == []
