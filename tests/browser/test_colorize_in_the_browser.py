"""A person signs up, uploads black-and-white photos, watches them finish, compares and downloads."""

import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.webapp import samples

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]

DROP_FILES = """([name, text]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([text], name, {type: "image/jpeg"}));
  document.getElementById("dropzone").dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
}"""


def test_sign_up_upload_watch_it_finish_compare_and_download(live_app, page, tmp_path):
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

    page.get_by_label("New variation").check()
    page.get_by_role("button", name="Colorize again").click()
    page.wait_for_load_state("load")
    page.evaluate("window.stillTheSamePage = true")
    expect(page.locator("#detail")).to_have_attribute("data-state", "done", timeout=90_000)
    expect(page.locator("[data-compare]")).to_be_visible()
    expect(page.get_by_role("link", name="Download JPEG")).to_have_attribute("href", re.compile(r"download\.jpg$"))
    expect(page.locator(".facts dd", has_text=re.compile(r"^Seed \d+$"))).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
