"""Browser tests: Debian's Chromium driven by Playwright, against a real server and database."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ..conftest import ROOT, launch_server
from .seed import seed, seed_processes

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
XSS_LABEL = "<img src=x onerror=alert(1)>"
# Script in every name a pusher controls, on a server of its own (a long source name changes the
# header's layout, which the gesture tests measure).
XSS_SOURCE = "<svg onload=alert('source')>"
XSS_CATEGORY = "<script>alert('category')</script>"
XSS_UNIT = "<b>u</b>"
SOURCE = "bench"
CATEGORIES = 20

playwright_api = pytest.importorskip("playwright.sync_api")


# Per module: Playwright's sync API keeps an event loop running in this thread while it is open,
# and asyncio.run() in any test after it (in another folder, in another order) would refuse to.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: `make test` installs Debian's chromium package")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def web_server(tmp_path_factory):
    """`statsserver run` (this machine, live) plus an hour of pushed history in 20 categories."""
    folder = tmp_path_factory.mktemp("web")
    server = launch_server(folder, interval=0.5)
    try:
        seed(server.url, source=SOURCE, categories=CATEGORIES, points=600, span=3600,
             extra=[{"category": "garden", "label": XSS_LABEL, "value": 7, "time": time.time() - 60}])
        seed_processes(server.directory / "statsserver.db", source=SOURCE, points=600, span=3600)
        yield server
    finally:
        server.stop()


class Page:
    """A page of the app with what the tests watch: console errors, API requests, dialogs."""

    def __init__(self, page, server):
        self.page = page
        self.server = server
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))

    def sign_in(self):
        # The address with the token sets the cookie, as the link the server prints does.
        self.page.goto(f"{self.server.url}/?token={self.server.token}")

    def open(self, query=f"?source={SOURCE}"):
        self.page.goto(f"{self.server.url}/{query}")
        self.wait_for_charts()

    def js(self, expression, *argument):
        return self.page.evaluate(expression, *argument)

    def wait(self, expression, timeout=15.0, *argument):
        """Poll an expression through the DevTools protocol: the app's CSP forbids eval, rightly."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.page.evaluate(expression, *argument)
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"not true within {timeout} s: {expression}")

    def wait_for_charts(self):
        self.wait("() => performance.getEntriesByName('charts-drawn').length > 0")

    def data_requests(self):
        return [url for url in self.requests if "/api/data" in url]


@pytest.fixture
def open_page(browser, web_server):
    contexts = []

    def open_page(server=None, **options):
        context = browser.new_context(**options)
        contexts.append(context)
        page = Page(context.new_page(), server or web_server)
        return page

    yield open_page
    for context in contexts:
        context.close()
