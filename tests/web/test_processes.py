"""The process table in Chromium: it follows the cursor and the pin, sorts, filters, and opens a
process's history, by mouse and by keyboard, on a desktop and on a phone."""

import time
from urllib.parse import parse_qs, urlparse

import pytest

from .conftest import SCREENSHOTS

ROWS = "() => [...document.querySelectorAll('#inspector .processes tbody tr .process-name')].map((b) => b.textContent)"
FIRST_ROW_IS = "() => document.querySelector('#inspector .processes tbody tr .process-name')?.textContent === {!r}"


def wait_for_request(app, part, seen, timeout=15.0):
    """The first request with `part` in its address after the `seen` ones already made."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [url for url in app.requests if part in url]
        if len(found) > seen:
            return found[seen]
        app.page.wait_for_timeout(50)
    raise AssertionError(f"no new request for {part}")


def plot_box(app):
    return app.js("() => { const r = document.querySelector('figure.chart .u-over').getBoundingClientRect();"
                  " return [r.left, r.top, r.width, r.height]; }")


def test_the_table_follows_the_cursor_and_the_pin_sorts_filters_and_opens_a_history(open_page):
    app = open_page(viewport={"width": 1440, "height": 900})
    app.sign_in()
    app.open()
    left, top, width, height = plot_box(app)
    # alpha-job was busiest in the first half of the hour, beta-job (its pid reused) in the second
    app.page.mouse.move(left + width * 0.25, top + height / 4)
    app.wait(FIRST_ROW_IS.format("alpha-job"))
    assert app.js(ROWS) == ["alpha-job", "steady"]
    app.page.mouse.move(left + width * 0.75, top + height / 4)
    app.wait(FIRST_ROW_IS.format("beta-job"))
    assert "alpha-job" not in app.js(ROWS)  # it had exited by then; the first half still lists it
    # Pinned there, the table stays when the cursor leaves the charts
    app.page.mouse.click(left + width * 0.75, top + height / 4)
    app.wait("() => new URLSearchParams(location.search).has('t')")
    app.page.mouse.move(5, 5)
    app.wait("() => document.querySelector('#inspector').dataset.mode === 'pinned'")
    app.page.wait_for_timeout(400)
    assert app.js(ROWS) == ["beta-job", "steady"]
    # Sorting: by memory, then by name (A to Z, then Z to A)
    app.page.click("#inspector button.sort[data-sort=rss]")
    assert app.js(ROWS) == ["steady", "beta-job"]
    app.page.click("#inspector button.sort[data-sort=name]")
    assert app.js(ROWS) == ["beta-job", "steady"]
    assert app.js("() => document.querySelector('button.sort[data-sort=name]').parentElement.getAttribute('aria-sort')") == "ascending"
    app.page.click("#inspector button.sort[data-sort=name]")
    assert app.js(ROWS) == ["steady", "beta-job"]
    # Filtering by any word of name, command or user
    app.page.fill("#inspector .process-filter", "bob")
    assert app.js(ROWS) == ["beta-job"]
    app.page.fill("#inspector .process-filter", "nothing like it")
    assert app.js(ROWS) == []
    assert app.js("() => document.querySelector('#inspector .processes-box p:not([hidden])').textContent").startswith("No process")
    app.page.fill("#inspector .process-filter", "")
    # By keyboard: focus the process and press Enter; its CPU and memory over the window are drawn
    app.page.focus("#inspector tr[data-process^='500@'] .process-name")
    app.page.keyboard.press("Enter")
    app.wait("() => document.querySelector('#inspector .process-detail canvas') !== null")
    points = int(app.js("() => document.querySelector('#inspector .process-detail').dataset.points"))
    assert 100 <= points <= 300  # beta-job ran for the second half of the hour
    asked = [url for url in app.requests if "/api/process?" in url][-1]
    query = {key: values[0] for key, values in parse_qs(urlparse(asked).query).items()}
    assert query["pid"] == "500" and query["source"] == "bench"
    assert app.js("() => document.querySelector('#inspector .process-detail').textContent").count("beta-job --go") == 1
    assert app.js("() => document.querySelector('#inspector .process-name[aria-expanded=true]').textContent") == "beta-job"
    # A new window: the open process's chart is fetched for it
    asked = len([url for url in app.requests if "/api/process?" in url])
    app.page.select_option("#range", "15m")
    app.wait("() => performance.getEntriesByName('data-received').length > 0")
    latest = wait_for_request(app, "/api/process?", asked)
    query = {key: values[0] for key, values in parse_qs(urlparse(latest).query).items()}
    assert float(query["to"]) - float(query["from"]) == pytest.approx(900, abs=2)
    app.page.focus("#inspector tr[data-process^='500@'] .process-name")
    app.page.keyboard.press("Enter")  # again: closed
    app.wait("() => document.querySelector('#inspector .process-detail').hidden")
    assert app.errors == []


def test_on_a_phone_the_table_and_a_history_fit_without_scrolling_sideways(open_page):
    app = open_page(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True, device_scale_factor=2)
    app.sign_in()
    app.open()
    app.page.click("#inspector-toggle")
    app.wait("() => document.querySelectorAll('#inspector .processes tbody tr').length >= 2")
    app.page.tap("#inspector tr[data-process^='1@'] .process-name")
    app.wait("() => document.querySelector('#inspector .process-detail canvas') !== null")
    assert app.js("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert app.js("() => { const i = document.querySelector('#inspector'); return i.scrollWidth <= i.clientWidth; }")
    app.js("() => document.querySelector('#inspector .process-detail').scrollIntoView({block: 'end'})")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    app.page.screenshot(path=str(SCREENSHOTS / "phone-processes.png"))
    assert app.errors == []
