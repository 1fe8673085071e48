"""Refresh the pictures in assets/ from a real server and a real browser (tests never write there).

    python scripts/screenshots.py [--data-dir ../shared/data] [--out assets]

Starts `streamlit run app.py` on a free loopback port and drives Debian's Chromium through Playwright:
for each shot it opens a link, presses Start, waits for the run to finish (or a set number of
seconds), opens a chart tab and saves a PNG. English and Korean, at 1600×1000 and at a projector's
1280×720. With --data-dir (a folder holding MNIST/raw) the MNIST shots use it; without, they are
skipped and the digits shots still run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from app_bench import CHROMIUM, CHROMIUM_ARGS, ROOT, free_port, start_server  # noqa: E402

from bn_demo.ui.strings import t  # noqa: E402

# name, link, language, viewport, chart tab to open (a TABS code), seconds to let it train, needs MNIST
SHOTS = (
    ("screenshot-lesson", "?dataset=digits&epochs=20", "en", (1600, 1000), "lesson", 60, False),
    ("screenshot-compare", "?dataset=digits&epochs=20", "en", (1600, 1000), "curves", 60, False),
    ("screenshot-distributions", "?dataset=digits&epochs=20", "en", (1600, 1000), "distributions", 60, False),
    ("screenshot-ics", "?dataset=digits&epochs=20", "en", (1600, 1000), "ics", 60, False),
    ("screenshot-ko-high-lr", "?preset=high-lr&dataset=digits&lang=ko", "ko", (1600, 1000), "lesson", 60, False),
    ("screenshot-ko-predictions", "?preset=high-lr&dataset=digits&lang=ko", "ko", (1600, 1000), "predictions", 60,
     False),
    ("screenshot-720p", "?dataset=digits&epochs=20", "en", (1280, 720), "lesson", 60, False),
    ("screenshot-projector-720p", "?dataset=digits&epochs=20&projector=1", "en", (1280, 720), "lesson", 60, False),
    ("screenshot-ko-projector-720p", "?dataset=digits&epochs=20&projector=1&lang=ko", "ko", (1280, 720), "lesson", 60,
     False),
    ("screenshot-paper-view", "?preset=ioffe2015&dataset=mnist&steps=5000", "en", (1600, 1000), "paper", 120, True),
)


def take(page, base: str, shot, out: Path) -> Path:
    name, link, lang, (width, height), tab, seconds, _ = shot
    page.set_viewport_size({"width": width, "height": height})
    page.goto(base + "/" + link, wait_until="networkidle")
    time.sleep(2.0)  # as a visitor reads before pressing Start (the intro picture follows the controls)
    start = page.get_by_role("button", name=t("start", lang), exact=True)
    start.click()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not start.is_enabled():
        time.sleep(1.0)  # Start comes back when the run has ended
    page.get_by_role("tab", name=t(f"tab_{tab}", lang), exact=True).click()
    time.sleep(3.0)  # let the tab's charts draw
    path = out / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="a folder holding MNIST/raw, for the MNIST shots")
    parser.add_argument("--out", default=str(ROOT / "assets"))
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    if args.data_dir:
        env["BN_DEMO_DATA_DIR"] = str(Path(args.data_dir).resolve())
    port = free_port()
    server = start_server(port, env=env)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for shot in SHOTS:
                if shot[6] and not args.data_dir:
                    print(f"skipped {shot[0]}: needs --data-dir with MNIST")
                    continue
                page = browser.new_page()  # a fresh session per shot
                print("wrote", take(page, f"http://127.0.0.1:{port}", shot, out))
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
