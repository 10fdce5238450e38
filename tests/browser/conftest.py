import os

import pytest

from tests.webapp.conftest import alice, sent_tasks, staff, stranger, tiny_model  # noqa: F401  (fixtures)
from tests.webapp.harness import asgi_server, worker_in_thread
from tests.webapp.integration.conftest import shared_redis  # noqa: F401  (fixture)

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def live_app(transactional_db, tiny_model, shared_redis, monkeypatch):  # noqa: F811
    """The whole app: ASGI server (HTTP and websockets), Redis channel layer, a real Celery worker."""
    # Playwright's sync API runs an event loop in this thread; the test's own ORM calls are safe.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with worker_in_thread(shared_redis), asgi_server() as base_url:
        yield base_url


@pytest.fixture
def page(tmp_path):
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 800})
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


@pytest.fixture
def page_server(transactional_db, shared_redis, monkeypatch):  # noqa: F811
    """The ASGI app (HTTP and websockets, Redis channel layer) without a worker: tests run jobs themselves,
    and what the jobs report reaches the page as it would from a worker."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with asgi_server() as base_url:
        yield base_url
