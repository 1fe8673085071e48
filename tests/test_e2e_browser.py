"""A real browser against a real server: `streamlit run app.py` on a free loopback port, headless
Chromium through Playwright. Press Start, watch the charts update, press Stop, check that no
exception reached the page, and save a screenshot to assets/.

Skips (with the reason) when Chromium or Playwright is missing, unless BN_DEMO_REQUIRE_BROWSER=1
(CI sets it), in which case it fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
SCREENSHOT = ROOT / "assets" / "screenshot-compare.png"


def _missing_browser() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        return f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright Python package is not installed (pip install playwright)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server_url():
    missing = _missing_browser()
    if missing:
        if os.environ.get("BN_DEMO_REQUIRE_BROWSER") == "1":
            pytest.fail(f"BN_DEMO_REQUIRE_BROWSER=1 but {missing}")
        pytest.skip(missing)
    port = _free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = (ROOT / ".pytest_cache")
    log.mkdir(exist_ok=True)
    with open(log / "e2e-streamlit.log", "w") as out:
        server = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                pytest.fail(f"streamlit exited with {server.returncode}; see .pytest_cache/e2e-streamlit.log")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("streamlit did not answer /_stcore/health within 60 s")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


@pytest.fixture()
def page(server_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1300})
            yield page
        finally:
            browser.close()


def _step(page) -> int:
    text = page.locator("[data-testid='stProgress']").first.inner_text()
    match = re.search(r"Step ([\d,]+) /", text)
    return int(match.group(1).replace(",", "")) if match else -1


def test_start_watch_stop_in_a_real_browser(page, server_url):
    page.goto(f"{server_url}/?dataset=digits&steps=3000&pace=60")
    page.wait_for_selector("[data-testid='stApp']")
    start = page.get_by_role("button", name="Start")
    start.wait_for(timeout=60_000)
    assert page.locator("[data-testid='stException']").count() == 0

    start.click()
    loss_chart = page.locator(".st-key-chart_loss [data-testid='stPlotlyChart'] .main-svg").first
    loss_chart.wait_for(timeout=60_000)
    page.wait_for_function("() => /Step [1-9]/.test(document.querySelector(\"[data-testid='stProgress']\")"
                           "?.innerText || '')", timeout=60_000)
    first = _step(page)
    deadline = time.monotonic() + 60
    while _step(page) <= first + 30:  # the fragment keeps refreshing while the worker trains
        assert time.monotonic() < deadline, "the page did not show new steps"
        page.wait_for_timeout(500)
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 2
    assert page.locator("[data-testid='stMetric']").count() == 4  # accuracy and loss for both twins

    page.wait_for_timeout(1500)  # let Plotly finish drawing before the picture
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    page.get_by_role("button", name="Stop").click()
    page.get_by_text("· stopped").first.wait_for(timeout=30_000)
    stopped_at = _step(page)
    page.wait_for_timeout(1500)
    assert _step(page) == stopped_at
    assert page.get_by_role("button", name="Start").is_enabled()
    assert page.locator("[data-testid='stException']").count() == 0
