"""The API's documentation page (Swagger UI) renders from this site's own files under its policy."""

import pytest
from playwright.sync_api import expect

from tests.browser.test_content_security_policy import watch_for_violations

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]


def test_the_api_docs_render_under_the_content_security_policy(live_app, page):
    violations = watch_for_violations(page)

    page.goto(live_app + "/api/v1/docs/")
    expect(page.get_by_text("/api/v1/photos/", exact=True).first).to_be_visible(timeout=30_000)
    expect(page.get_by_role("heading", name="Hue API").first).to_be_visible()

    assert violations == [], "\n".join(violations)
