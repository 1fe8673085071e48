"""The lesson at a projector's 1280×720 in a real browser (issue 10): after Start, without a click, the
lesson's two charts are inside the viewport and the distribution chart carries both twins; no label of
the control row, the chart tabs or the metrics is cut (an element's scrollWidth beyond its clientWidth
is text cut off or hidden), in English and in Korean, with and without projector mode."""

from __future__ import annotations

import pytest
from test_e2e_browser import CHROMIUM, CHROMIUM_ARGS, server_url  # noqa: F401  (the module's server fixture)

from bn_demo.ui.strings import t

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1280, "height": 720}

# Text elements that would hide a cut label: buttons (and the popovers' and toggle's labels) in the main
# area, tab labels, metric labels. Returns each one whose content is wider than its box.
CUT_LABELS = """() => {
  const main = document.querySelector("[data-testid='stMain']");
  const boxes = main.querySelectorAll("button, [data-testid='stTab'], [data-testid='stMetricLabel'], "
                                      + "[data-testid='stWidgetLabel'], label");
  const cut = [];
  for (const box of boxes) {
    for (const el of [box, ...box.querySelectorAll('*')]) {
      if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && el.innerText.trim()) {
        cut.push(el.innerText.trim().slice(0, 40));
        break;
      }
    }
  }
  return cut;
}"""
PANELS_WITH_DATA = """key => {
  const el = document.querySelector(`.st-key-${key} .js-plotly-plot`);
  if (!el || !el._fullData) return [];
  return [...new Set(el._fullData.filter(d => d._length > 0).map(d => d.xaxis))];
}"""


@pytest.mark.parametrize("projector", [False, True], ids=["page", "projector"])
@pytest.mark.parametrize("lang", ["en", "ko"])
def test_the_lesson_is_above_the_fold_at_720p_and_no_label_is_cut(server_url, lang, projector):  # noqa: F811
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(f"{server_url}/?dataset=digits&epochs=100&pace=40&lang={lang}" + ("&projector=1" * projector))
            start = page.get_by_role("button", name=t("start", lang), exact=True)
            start.wait_for(timeout=60_000)
            start.click()
            # Both twins' distributions drawn: the bands chart has data in both panels (x and x2).
            page.wait_for_function(f"() => ({PANELS_WITH_DATA})('lesson_bands').length === 2", timeout=60_000)
            page.wait_for_function(f"() => ({PANELS_WITH_DATA})('lesson_acc').length === 1", timeout=60_000)
            page.wait_for_timeout(1000)
            for key in ("lesson_acc", "lesson_bands"):
                box = page.locator(f".st-key-{key} .main-svg").first.bounding_box()
                assert box is not None and box["y"] >= 0 and box["y"] + box["height"] <= VIEWPORT["height"], (key, box)
            assert page.locator("[data-testid='stSidebar']").is_visible() != projector
            page.locator("[data-testid='stMetric']").first.wait_for(timeout=30_000)
            assert page.evaluate(CUT_LABELS) == []
            page.get_by_role("button", name=t("stop", lang), exact=True).click()
        finally:
            browser.close()
