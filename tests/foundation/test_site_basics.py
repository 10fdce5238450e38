"""Small things every page relies on: the icon, and documentation that says what the files say."""

import re
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db
def test_favicon_ico_leads_to_the_sites_icon():
    client = Client()

    response = client.get("/favicon.ico")

    assert response.status_code == 302 and response.url.endswith("favicon.svg")
    icon = client.get(response.url)
    assert icon.status_code == 200 and b"<svg" in b"".join(icon.streaming_content)


@pytest.mark.django_db
def test_pages_name_their_icon():
    page = Client().get("/").content.decode()

    assert re.search(r'<link rel="icon" href="/static/favicon\.svg"', page)


def test_what_requirements_txt_says_about_torch_wheels_is_in_the_readme():
    requirements = (ROOT / "requirements.txt").read_text()
    readme = (ROOT / "README.md").read_text()

    pins = dict(re.findall(r"^(torch|torchvision)==(\S+)", requirements, re.M))
    referenced = re.search(r'see "([^"]+)" in the README', requirements)
    assert referenced and f"**{referenced.group(1)}.**" in readme
    assert f"torch=={pins['torch']}" in readme and f"torchvision=={pins['torchvision']}" in readme


@pytest.mark.django_db
def test_the_home_page_leads_with_a_real_before_and_after_and_its_credit():
    page = Client().get("/").content.decode()

    assert "/static/img/home-before.jpg" in page and "/static/img/home-after.jpg" in page
    assert 'role="slider"' in page and "public domain" in page and "Library of Congress" in page
    credits = (ROOT / "docs" / "IMAGE_CREDITS.md").read_text()
    for image in (ROOT / "static").rglob("*"):
        if image.suffix.lower() in (".jpg", ".jpeg", ".png", ".svg", ".webp", ".gif"):
            assert f"`static/{image.relative_to(ROOT / 'static')}`" in credits, f"{image.name} has no credit"
