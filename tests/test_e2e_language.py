"""A real browser switches the page's language, five times, for every preset (and for one link that sets
every translated widget off its default): Start stays enabled, and the link and the settings stay what
they were (only `lang` changes).

An AppTest cannot find this (it sets widget values directly); Chromium did. Streamlit's selectbox,
radio, segmented control and select slider send the *formatted label* of their value back to the
server, so widgets whose labels were translated used to come back, after a switch, as labels of the
other language: "This combination cannot run: init = PyTorch default (Kaiming uniform)", then
"device = auto → cpu", and after five switches the link read `model=None&lr=0.0001&batch_size=2`.
Uses test_e2e_browser's server (a real `streamlit run app.py`) and headless Chromium.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from test_e2e_browser import CHROMIUM, CHROMIUM_ARGS, server_url  # noqa: F401  (the server fixture)

from bn_demo.config import PRESETS
from bn_demo.ui.strings import LANG_NAMES, preset_summary, t

pytestmark = pytest.mark.browser

SWITCHES = 5
# Every preset as it is, and one link that moves every translated widget off its default.
LINKS = {**{name: {"preset": name} if name != "tutorial" else {} for name in PRESETS},
         "translated-widgets": {"dataset": "digits", "model": "bn", "optimizer": "momentum", "init": "gaussian",
                                "bn_placement": "after", "pace": "2", "device": "cpu"}}
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
EXCEPTION = "[data-testid='stException']"


@pytest.fixture(scope="module")
def page(server_url):  # noqa: F811  (the fixture imported above)
    """One browser and one page for every preset: each test loads its own link into it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1100})
        finally:
            browser.close()


def query(page) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(page.url).query, keep_blank_values=True).items()}


def settle(page, lang: str) -> None:
    """Wait until the page has been drawn in `lang` and the script is idle, twice: a widget that came
    back from the browser changed would trigger one more rerun right after the first."""
    start_button(page, lang).or_(page.locator(EXCEPTION)).first.wait_for(timeout=60_000)
    for _ in range(2):
        page.wait_for_selector(IDLE, timeout=60_000)
        page.wait_for_timeout(300)
    page.wait_for_selector(IDLE, timeout=60_000)


def start_button(page, lang: str):
    return page.locator("[data-testid='stMain']").get_by_role("button", name=t("start", lang), exact=True)


def observe(page, preset: str, lang: str) -> dict:
    start = start_button(page, lang)
    return {
        "query": {k: v for k, v in query(page).items() if k != "lang"},
        "lang": query(page).get("lang", "en"),
        "start_enabled": start.count() == 1 and start.is_enabled(),
        "errors": page.locator("[data-testid='stAlertContentError']").all_inner_texts(),
        "exceptions": [text[:300] for text in page.locator(EXCEPTION).all_inner_texts()],
        "preset_caption": page.locator("[data-testid='stSidebar']").get_by_text(preset_summary(preset, lang),
                                                                                exact=True).count(),
    }


@pytest.mark.parametrize("name", list(LINKS))
def test_switching_the_language_changes_no_setting_and_no_link(page, server_url, name):  # noqa: F811
    link = LINKS[name]
    preset = link.get("preset", "tutorial")
    page.goto(f"{server_url}/?{urlencode(link)}")
    settle(page, "en")
    before = observe(page, preset, "en")
    assert before["start_enabled"] and not before["errors"] and not before["exceptions"], before
    assert before["query"] == link, before
    radio = page.locator("[data-testid='stSidebar'] [data-testid='stRadio']").first
    lang = "en"
    for switch in range(1, SWITCHES + 1):
        lang = "ko" if lang == "en" else "en"
        radio.get_by_text(LANG_NAMES[lang], exact=True).click()
        settle(page, lang)
        after = observe(page, preset, lang)
        where = f"{name}, switch {switch} to {lang}: {after}"
        assert after["lang"] == lang, where
        assert after["query"] == before["query"], where  # the link: nothing but lang changed
        assert after["start_enabled"] and not after["errors"] and not after["exceptions"], where
        assert after["preset_caption"] == 1, where  # the preset is still the one loaded, in this language
    # The browser now holds the widgets' labels in the new language: a change of one setting changes
    # that setting alone.
    page.locator("[data-testid='stSidebar']").get_by_role("radio", name=t("model_plain", lang), exact=True).click()
    page.wait_for_function("() => location.search.includes('model=plain')", timeout=60_000)
    settle(page, lang)
    after = observe(page, preset, lang)
    assert after["query"] == {**before["query"], "model": "plain"} and after["start_enabled"], after
