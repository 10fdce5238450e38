"""A person signs up, uploads black-and-white photos, watches them finish, compares and downloads,
on a desktop and on a phone, and the page keeps up when its live connection drops."""

import re
import threading
import time

import pytest
from django.contrib.sessions.models import Session
from PIL import Image
from playwright.sync_api import expect

from tests.webapp import samples
from tests.webapp.harness import wait_for
from webapp.core.jobs import JobState
from webapp.photos import colorizing
from webapp.photos.models import Colorization

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

STOPPED = "Live updates stopped — reload or log in again."
NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"
DROP_FILES = """([name, text]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([text], name, {type: "image/jpeg"}));
  document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
}"""


def test_sign_up_upload_watch_it_finish_compare_and_download(live_app, page, tmp_path, monkeypatch):
    worker_may_finish = threading.Event()  # the test holds a job in the worker while it drops the socket
    worker_may_finish.set()
    colorize = colorizing.colorize

    def colorize_when_allowed(job):
        assert worker_may_finish.wait(60), "the test never let the worker finish"
        return colorize(job)

    monkeypatch.setattr(colorizing, "colorize", colorize_when_allowed)  # the worker runs in this process
    photo = tmp_path / "harbour 1931.jpg"
    photo.write_bytes(samples.gray_jpeg(320, 240))

    page.goto(live_app + "/")
    page.get_by_role("link", name="Sign up free").click()
    page.get_by_label("Username").fill("ada")
    page.get_by_label("Password", exact=True).fill("a-Long-passphrase-42")
    page.get_by_label("Password confirmation").fill("a-Long-passphrase-42")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(live_app + "/upload/")
    page.evaluate("window.stillTheSamePage = true")

    page.set_input_files("#upload-input", str(photo))
    page.evaluate(DROP_FILES, ["notes.jpg", "This is a text file, not a photo."])

    good = page.locator(".upload-item", has_text="harbour 1931.jpg")
    bad = page.locator(".upload-item", has_text="notes.jpg")
    expect(bad).to_have_attribute("data-state", "rejected")
    expect(bad.locator(".upload-status")).to_contain_text("not a photo Hue can read")
    expect(good).to_have_attribute("data-state", "done", timeout=90_000)
    expect(good.locator(".upload-thumb img")).to_have_attribute("src", re.compile(r"^/results/[0-9a-f-]+/thumbnail\.jpg$"))
    assert page.evaluate("window.stillTheSamePage") is True  # the result arrived without a reload

    good.get_by_role("link", name="Done: open the before and after").click()
    page.wait_for_load_state("load")  # the slider's script has run and the photos are in
    slider = page.get_by_role("slider", name="Compare original and colorized")
    expect(slider).to_have_attribute("aria-valuenow", "50")
    box = page.locator("[data-compare]").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.2, box["y"] + box["height"] / 2, steps=5)
    page.mouse.up()
    assert 18 <= int(slider.get_attribute("aria-valuenow")) <= 22
    slider.press("End")
    expect(slider).to_have_attribute("aria-valuenow", "100")
    slider.press("ArrowLeft")
    expect(slider).to_have_attribute("aria-valuenow", "98")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download PNG").click()
    assert download.value.suggested_filename == "harbour 1931-colorized.png"
    with Image.open(download.value.path()) as result:
        assert (result.format, result.mode, result.size) == ("PNG", "RGB", (320, 240))

    # Colorize again, and lose the socket while the worker has the job: it finishes while the page
    # is away, and the page learns it on reconnecting.
    worker_may_finish.clear()
    page.get_by_label("New variation").check()
    page.get_by_role("button", name="Colorize again").click()
    page.wait_for_load_state("load")
    page.evaluate("window.stillTheSamePage = true")
    detail = page.locator("#detail")
    expect(detail).to_have_attribute("data-state", "running", timeout=60_000)
    rerun = Colorization.objects.get(pk=detail.get_attribute("data-job"))
    page.clock.install()
    page.clock.pause_at(time.time() * 1000 + 1000)  # the page's reconnect waits until the test moves its clock
    page.evaluate("window.HueLive.drop()")
    expect(page.locator("#live-status")).to_have_text("Live updates paused: reconnecting…")
    worker_may_finish.set()
    wait_for(lambda: Colorization.objects.get(pk=rerun.pk).state == JobState.DONE, timeout=60, message="the re-run")
    expect(detail).to_have_attribute("data-state", "running")  # its "done" went out while the page was away
    page.clock.fast_forward(2000)  # more than the first reconnect delay (1 to 1.5 s)
    expect(detail).to_have_attribute("data-state", "done", timeout=30_000)
    expect(page.locator("#live-status")).to_be_hidden()
    expect(page.locator("[data-compare]")).to_be_visible()
    expect(page.get_by_role("link", name="Download JPEG")).to_have_attribute("href", re.compile(r"download\.jpg$"))
    expect(page.locator(".facts dd", has_text=re.compile(r"^Seed \d+$"))).to_be_visible()
    finished = page.locator(f'.runs li[data-job="{rerun.pk}"]')  # the list of every result follows too
    expect(finished.locator("img[data-job-thumbnail]")).to_have_attribute("src", f"/results/{rerun.pk}/thumbnail.jpg")
    expect(finished.locator("img[data-job-thumbnail]")).to_be_visible()
    expect(finished.locator("[data-job-model]")).to_have_text("v1")
    expect(finished.locator("[data-job-state-label]")).to_have_text("Done")
    assert page.evaluate("window.stillTheSamePage") is True

    on_a_phone(page, live_app, photo_url=page.url.split("?")[0])

    # The session ends (the user logged out elsewhere, or it expired): the socket is refused from
    # then on, and after a few tries the page says so instead of knocking every 30 s for ever.
    attempts = []
    page.on("websocket", lambda socket: attempts.append(socket.url))
    Session.objects.all().delete()
    page.evaluate("window.HueLive.drop()")
    status = page.locator("#live-status")
    for _ in range(40):
        if status.text_content() == STOPPED:
            break
        page.clock.fast_forward(31_000)  # past the longest backoff
        page.wait_for_timeout(250)  # the refused handshake happens in real time
    expect(status).to_have_text(STOPPED)
    expect(status).to_be_visible()
    tries = len(attempts)
    page.clock.fast_forward(10 * 60_000)
    page.wait_for_timeout(500)
    assert tries == 5 and len(attempts) == tries  # then it stops trying
    assert page.evaluate("window.stillTheSamePage") is True


def on_a_phone(desktop, live_app, photo_url):
    """The same account on a 375 x 740 touch screen: nothing overflows sideways, and the slider follows
    the keyboard and a finger."""
    phone = desktop.context.browser.new_context(viewport={"width": 375, "height": 740}, is_mobile=True,
                                                has_touch=True, device_scale_factor=2)
    phone.add_cookies(desktop.context.cookies())
    page = phone.new_page()
    page.set_default_timeout(30_000)
    try:
        for url in (live_app + "/photos/", photo_url):
            page.goto(url)
            page.wait_for_load_state("load")
            assert page.evaluate(NO_SIDEWAYS_SCROLL), f"{url} is wider than the phone's screen"
        slider = page.get_by_role("slider", name="Compare original and colorized")
        slider.press("Home")
        expect(slider).to_have_attribute("aria-valuenow", "0")
        slider.press("ArrowRight")
        expect(slider).to_have_attribute("aria-valuenow", "2")
        slider.press("End")
        expect(slider).to_have_attribute("aria-valuenow", "100")

        box = page.locator("[data-compare]").bounding_box()
        y = box["y"] + box["height"] / 2
        touch = phone.new_cdp_session(page)  # a real touch: Playwright's touchscreen only taps
        touch.send("Input.dispatchTouchEvent", {"type": "touchStart",
                                                "touchPoints": [{"x": box["x"] + box["width"] * 0.7, "y": y}]})
        for fraction in (0.6, 0.5, 0.4, 0.3):
            touch.send("Input.dispatchTouchEvent", {"type": "touchMove",
                                                    "touchPoints": [{"x": box["x"] + box["width"] * fraction, "y": y}]})
        touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        assert 27 <= int(slider.get_attribute("aria-valuenow")) <= 33
    finally:
        phone.close()
