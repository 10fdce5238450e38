"""The everyday pages in a real browser, on a desktop (1280 px) and on a phone (375 px): the gallery,
the photo page and its "Colorize again" form."""

import threading

import pytest
from django.test import Client
from playwright.sync_api import expect

from tests.webapp import samples
from tests.webapp.conftest import upload
from webapp.core.jobs import JobState
from webapp.photos import colorizing, services

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 375, "height": 740}}


def wait_until_live(page, seconds: float = 15.0) -> None:
    """Until the page's websocket is open. Polled from here: wait_for_function compiles its predicate
    with eval in the page, which the Content-Security-Policy (rightly) forbids."""
    import time

    deadline = time.monotonic() + seconds
    while not page.evaluate("() => window.HueLive.isConnected()"):
        assert time.monotonic() < deadline, "the page's websocket never opened"
        page.wait_for_timeout(50)


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
    """Run a queued colorization as a worker would: in a thread of its own (Playwright's event loop owns this
    one, and the job's events go out through async_to_sync), with its own database connection."""
    from django.db import connection

    def run():
        try:
            colorizing.run_colorization(job.pk)
        finally:
            connection.close()

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(120)
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


LONG_NAME = "audrey_hepburn_studio_portrait_1953_scan-from-the-family-album.jpg"
# Each piece of the name between line-break opportunities must sit on one line: a break inside one is a
# break in the middle of a word.
SPLIT_PIECES = """(selector) => {
  const element = document.querySelector(selector);
  const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
  const split = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const range = document.createRange();
    range.selectNodeContents(node);
    const lines = new Set(Array.from(range.getClientRects(), (rect) => Math.round(rect.top)));
    if (lines.size > 1) split.push(node.textContent);
  }
  return split;
}"""


def test_a_long_file_name_wraps_between_words_and_nothing_scrolls_sideways(signed_in, page_server, alice,
                                                                            tiny_model):
    photo = services.accept_upload(alice, upload(samples.gray_jpeg(320, 240), LONG_NAME))
    finish(photo.colorizations.get(), tiny_model)

    signed_in.goto(page_server + photo.get_absolute_url())
    signed_in.wait_for_load_state("load")

    assert signed_in.evaluate(NO_SIDEWAYS_SCROLL)
    assert signed_in.evaluate(SPLIT_PIECES, ".detail-title") == []
    assert signed_in.evaluate(SPLIT_PIECES, ".breadcrumb-current") == []
    expect(signed_in.locator(".detail-title")).to_have_text(LONG_NAME)


def test_gallery_cards_of_portrait_and_landscape_photos_are_the_same_height(signed_in, page_server, alice,
                                                                             tiny_model):
    for name, (width, height) in {"tall.jpg": (200, 400), "wide.jpg": (400, 200), "square.jpg": (300, 300)}.items():
        photo = services.accept_upload(alice, upload(samples.gray_jpeg(width, height), name))
        finish(photo.colorizations.get(), tiny_model)

    signed_in.goto(page_server + "/photos/")
    signed_in.wait_for_load_state("load")

    heights = {round(box["height"]) for box in
               (card.bounding_box() for card in signed_in.locator(".photo-card").all())}
    assert len(heights) == 1, heights
    assert signed_in.evaluate(NO_SIDEWAYS_SCROLL)


def test_after_colorize_again_the_banner_goes_and_took_appears_when_the_result_arrives(signed_in, page_server,
                                                                                        alice, tiny_model):
    photo = services.accept_upload(alice, upload(samples.gray_jpeg(320, 240), "harbour.jpg"))
    first = finish(photo.colorizations.get(), tiny_model)
    page = signed_in
    page.goto(page_server + photo.get_absolute_url())

    page.get_by_label("New variation").check()
    page.get_by_role("button", name="Colorize again").click()
    expect(page).not_to_have_url(first.get_absolute_url())
    page.wait_for_load_state("load")
    page.evaluate("window.stillTheSamePage = true")
    banner = page.get_by_text("The new result appears here when it is ready")
    expect(banner).to_be_visible()
    expect(page.locator("dd[data-job-took]")).to_be_hidden()
    expect(page.locator("#detail")).to_have_attribute("data-state", "queued")
    wait_until_live(page)

    rerun = photo.colorizations.exclude(pk=first.pk).get()
    finish(rerun, tiny_model)

    expect(page.locator("#detail")).to_have_attribute("data-state", "done")
    expect(banner).to_have_count(0)
    expect(page.locator("dd[data-job-took]")).to_have_text(f"{rerun.duration.total_seconds():.1f} s")
    expect(page.locator("[data-compare]")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True


def test_the_upload_page_counts_the_batch_and_sums_it_up_when_it_ends(signed_in, page_server, alice, tiny_model,
                                                                      tmp_path):
    from webapp.photos.models import Colorization

    files = []
    for name in ("one.jpg", "two.jpg"):
        files.append(tmp_path / name)
        files[-1].write_bytes(samples.gray_jpeg(160, 120))
    files.append(tmp_path / "notes.jpg")
    files[-1].write_bytes(b"This is a text file, not a photo.")
    page = signed_in
    page.goto(page_server + "/upload/")
    wait_until_live(page)

    page.set_input_files("#upload-input", [str(path) for path in files])

    batch = page.locator("#batch")
    expect(batch.locator("[data-batch-count]")).to_have_text("0 of 3 done, 1 failed")
    expect(page.locator(".upload-item[data-state=queued]")).to_have_count(2)
    expect(batch.locator("[data-batch-summary]")).to_be_hidden()
    for job in Colorization.objects.filter(photo__owner=alice):
        finish(job, tiny_model)

    expect(batch.locator("[data-batch-count]")).to_have_text("2 of 3 done, 1 failed")
    expect(batch.locator("[data-batch-progress]")).to_have_js_property("value", 3)
    expect(batch.locator("[data-batch-summary]")).to_have_text(
        "Batch finished: 2 photos colorized, 1 failed (the reasons are below).")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


def test_ticking_photos_downloads_them_as_one_zip_and_files_them_in_an_album(signed_in, page_server, alice,
                                                                             tiny_model, tmp_path):
    import zipfile

    for name in ("harbour.jpg", "wedding.jpg", "picnic.jpg"):
        photo = services.accept_upload(alice, upload(samples.gray_jpeg(160, 120), name))
        finish(photo.colorizations.get(), tiny_model)
    page = signed_in
    page.goto(page_server + "/photos/?sort=name")

    download_button = page.get_by_role("button", name="Download ZIP")
    expect(download_button).to_be_disabled()
    page.get_by_label("Select harbour.jpg").check()
    page.get_by_label("Select wedding.jpg").check()
    expect(page.locator("[data-selection-count]")).to_have_text("2 selected")
    with page.expect_download() as download:
        download_button.click()
    saved = tmp_path / "photos.zip"
    download.value.save_as(saved)
    assert sorted(zipfile.ZipFile(saved).namelist()) == ["harbour-colorized.png", "wedding-colorized.png"]

    page.get_by_label("New album's name").fill("Summer 1952")
    page.get_by_role("button", name="Add to album").click()
    expect(page.get_by_text("Added 2 photos to “Summer 1952”.")).to_be_visible()
    page.goto(page_server + "/albums/")
    page.get_by_role("link", name="Summer 1952").click()
    expect(page.locator(".photo-card")).to_have_count(2)
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    page.goto(page_server + "/photos/")
    page.get_by_role("searchbox", name="Search by name").fill("pic")
    page.get_by_role("button", name="Show").click()
    expect(page.locator(".photo-card")).to_have_count(1)
    expect(page.locator(".photo-card-name")).to_have_text("picnic.jpg")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


def test_a_share_link_shows_a_stranger_the_before_and_after_until_it_is_revoked(signed_in, page_server, alice,
                                                                                  tiny_model):
    photo = services.accept_upload(alice, upload(samples.gray_jpeg(320, 240), "harbour.jpg"))
    finish(photo.colorizations.get(), tiny_model)
    page = signed_in
    page.goto(page_server + photo.get_absolute_url())

    page.get_by_role("button", name="Make a share link").click()
    url = page.get_by_role("textbox", name="Share link").input_value()
    assert url.startswith(page_server + "/s/")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)

    stranger = page.context.browser.new_context(viewport=page.viewport_size)  # no session: anyone with the link
    try:
        visitor = stranger.new_page()
        visitor.goto(url)
        expect(visitor.get_by_role("slider", name="Compare original and colorized")).to_be_visible()
        expect(visitor.get_by_role("link", name="Download the colorized photo")).to_be_visible()
        expect(visitor.get_by_text("harbour.jpg")).to_have_count(0)
        assert visitor.evaluate(NO_SIDEWAYS_SCROLL)

        page.get_by_role("button", name="Revoke").click()
        expect(page.get_by_text("Share link revoked")).to_be_visible()
        visitor.reload()
        expect(visitor.get_by_role("heading", name="This link shows nothing")).to_be_visible()
        expect(visitor.get_by_role("slider")).to_have_count(0)
    finally:
        stranger.close()


def test_a_portrait_photo_fills_its_compare_box_without_black_bars(signed_in, page_server, alice, tiny_model):
    photo = services.accept_upload(alice, upload(samples.gray_jpeg(300, 600), "portrait.jpg"))
    finish(photo.colorizations.get(), tiny_model)
    page = signed_in
    page.goto(page_server + photo.get_absolute_url())
    page.wait_for_load_state("load")

    box = page.locator("[data-compare]").bounding_box()
    viewport = page.viewport_size
    assert box["width"] / box["height"] == pytest.approx(300 / 600, rel=0.02)  # the box is the photo's shape
    assert box["height"] <= viewport["height"] * 0.8 + 1
    image = page.locator("[data-compare] .compare-after").evaluate(
        "img => [img.naturalWidth / img.naturalHeight, img.clientWidth / img.clientHeight]")
    assert image[0] == pytest.approx(image[1], rel=0.02)  # object-fit has nothing to pad
    label = page.locator(".compare-label-after").bounding_box()
    assert box["x"] <= label["x"] and label["x"] + label["width"] <= box["x"] + box["width"]
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


def test_upload_thumbnails_are_big_enough_to_judge(signed_in, page_server, alice, tiny_model, tmp_path):
    photo = tmp_path / "harbour.jpg"
    photo.write_bytes(samples.gray_jpeg(320, 240))
    page = signed_in
    page.goto(page_server + "/upload/")

    page.set_input_files("#upload-input", str(photo))

    thumb = page.locator(".upload-item .upload-thumb")
    expect(page.locator(".upload-item")).to_have_attribute("data-state", "queued")
    assert thumb.bounding_box()["width"] >= 150  # 72 px before
    assert page.evaluate(NO_SIDEWAYS_SCROLL)


def test_a_touch_screen_is_asked_to_choose_photos_not_to_drop_them(page_server, alice, page):
    client = Client()
    client.force_login(alice)
    phone = page.context.browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    try:
        for context, touch in ((phone, True), (page.context, False)):
            context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                                  "url": page_server}])
            tab = context.new_page() if touch else page
            tab.goto(page_server + "/upload/")
            choose, drop = tab.get_by_text("Choose photos", exact=True), tab.get_by_text("Drop photos here")
            expect(choose if touch else drop).to_be_visible()
            expect(drop if touch else choose).to_be_hidden()
    finally:
        phone.close()


def test_the_home_page_shows_a_real_before_and_after_that_slides(page_server, page, viewport):
    page.set_viewport_size(VIEWPORTS[viewport])
    page.goto(page_server + "/")
    page.wait_for_load_state("load")

    for image in page.locator(".landing-example img").all():
        assert image.evaluate("img => img.complete && img.naturalWidth") == 880
    slider = page.get_by_role("slider", name="Compare original and colorized")
    slider.press("End")
    expect(slider).to_have_attribute("aria-valuenow", "100")
    expect(page.locator(".landing-example figcaption")).to_contain_text("public domain")
    assert page.evaluate(NO_SIDEWAYS_SCROLL)
