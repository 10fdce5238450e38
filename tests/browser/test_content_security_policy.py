"""Every page and the admin work under the Content-Security-Policy: the browser reports no violation."""

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from tests.finetune.conftest import colour_zip
from tests.webapp import samples
from webapp.finetune import datasets
from webapp.finetune.models import Dataset, FineTuneJob
from webapp.photos.models import Photo

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def watch_for_violations(page) -> list[str]:
    """What the browser says about the policy: each blocked script, style, image or connection."""
    violations = []
    page.on("console", lambda message: violations.append(message.text)
            if "Content Security Policy" in message.text or "Content-Security-Policy" in message.text else None)
    page.on("pageerror", lambda error: violations.append(f"script error: {error}"))
    page.context.add_init_script("""
        document.addEventListener("securitypolicyviolation", (event) => {
            console.error("Content Security Policy violation: " + event.violatedDirective + " " + event.blockedURI);
        });
    """)
    return violations


def test_the_pages_and_the_admin_work_under_the_policy(live_app, page, tmp_path, tiny_model):
    violations = watch_for_violations(page)
    admin = User.objects.create_superuser("root", password="a-Long-passphrase-42")
    dataset = Dataset(name="Holidays", source=Dataset.Source.ARCHIVE, created_by=admin)
    dataset.archive.save("holidays.zip", ContentFile(colour_zip(3)), save=False)
    dataset.save()
    datasets.check_dataset(str(dataset.pk))
    job = FineTuneJob.objects.create(dataset=dataset, base_version=tiny_model, created_by=admin, image_size=64,
                                     batch_size=2, l1_epochs=1, gan_epochs=1)
    photo = tmp_path / "harbour.jpg"
    photo.write_bytes(samples.gray_jpeg(320, 240))

    response = page.goto(live_app + "/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_label("Username").fill("root")
    page.get_by_label("Password").fill("a-Long-passphrase-42")
    page.get_by_role("button", name="Log in").click()
    page.goto(live_app + "/upload/")
    page.set_input_files("#upload-input", str(photo))
    item = page.locator(".upload-item", has_text="harbour.jpg")
    expect(item).to_have_attribute("data-state", "done", timeout=90_000)  # live updates over the websocket
    expect(item.locator(".upload-thumb img")).to_be_visible()
    page.goto(live_app + "/photos/")
    page.goto(live_app + Photo.objects.get().get_absolute_url())
    expect(page.get_by_role("slider", name="Compare original and colorized")).to_be_visible()

    for path in ("/admin/", "/admin/photos/photo/", "/admin/registry/modelversion/",
                 f"/admin/registry/modelversion/{tiny_model.pk}/change/", "/admin/finetune/dataset/add/",
                 f"/admin/finetune/dataset/{dataset.pk}/change/", "/admin/finetune/finetunejob/add/",
                 f"/admin/finetune/finetunejob/{job.pk}/change/"):
        assert page.goto(live_app + path).status == 200, path
        page.wait_for_load_state("load")

    page.goto(live_app + "/admin/finetune/finetunejob/add/")
    page.locator("#id_dataset").select_option(str(dataset.pk))  # the admin's own scripts run too
    assert violations == []
