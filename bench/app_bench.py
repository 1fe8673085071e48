"""The app's figures: page open, Start → first plotted point, tab switches, the size of one refresh,
and training speed with a browser watching vs the headless engine.

    python bench/app_bench.py [--steps 1500] [--repeats 2]
    python bench/app_bench.py --page [--repeats 5]    # only the page-speed table (issue 10's targets)

--page: page open until Start is visible, for this app and for a one-button Streamlit app served the
same way in the same run (first load on a fresh server, then later loads); Start → the lesson's first
plotted point; and, while a run trains, each chart tab's click → its chart showing data.

Starts `streamlit run app.py` on a free loopback port, drives /usr/bin/chromium through Playwright,
and runs the same configuration headless (the engine's Runner, no page) for comparison. Prints a
Markdown table; bench/results/app.md holds a measured copy with commentary. Not a test: timings on
a shared machine vary, so it reports what it saw rather than asserting.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bn_demo import record as rec  # noqa: E402
from bn_demo.config import PRESETS  # noqa: E402
from bn_demo.runner import Runner  # noqa: E402
from bn_demo.ui import figures  # noqa: E402
from bn_demo.ui.params import to_params  # noqa: E402
from bn_demo.ui.strings import t  # noqa: E402  (the page's English labels, so the bench follows them)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
WARM_UP_SECONDS = 8  # the server imports scikit-learn and torch's optimizer machinery on the first page load
SETTLE_SECONDS = 20  # --page: from the first page load until the warm-up has surely ended


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, *extra_args: str, env: dict | None = None, script: str = "app.py") -> subprocess.Popen:
    """`streamlit run app.py` (or `script`) on a loopback port, returned once /_stcore/health answers "ok"."""
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true", "--server.port", str(port),
           "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           *extra_args]
    server = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    return server
        except OSError:
            time.sleep(0.3)
    server.kill()
    raise RuntimeError("streamlit did not become healthy within 60 s")


def headless_rate(config) -> float:
    runner = Runner(config).start()
    runner.join()
    return rec.mean_samples_per_second(runner.record())


def browser_run(port: int, config, preset: str) -> dict:
    from playwright.sync_api import sync_playwright

    query = "&".join(f"{k}={v}" for k, v in to_params(preset, config).items())
    frames = {"bytes": 0, "count": 0}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: _count(frames, payload)))
        page.goto(f"http://127.0.0.1:{port}/?{query}")
        page.wait_for_selector("[data-testid='stApp']")
        page.get_by_role("button", name=t("start")).wait_for()
        time.sleep(WARM_UP_SECONDS)
        frames.update(bytes=0, count=0)
        t0 = time.perf_counter()
        page.get_by_role("button", name=t("start")).click()
        page.wait_for_function(FIRST_POINT, timeout=60_000, polling=20)
        first_point = time.perf_counter() - t0
        t_first = time.perf_counter()
        page.get_by_text(f"· {t('status_finished')}").first.wait_for(timeout=600_000)
        training_wall = time.perf_counter() - t_first
        traffic = dict(frames)
        page.get_by_role("tab", name=t("tab_downloads")).click()
        with page.expect_download() as info:
            page.get_by_role("button", name=t("download_json")).click()
        result = rec.loads(Path(info.value.path()).read_text())
        exceptions = page.locator("[data-testid='stException']").count()
        browser.close()
    return {"first_point_s": first_point, "rate": rec.mean_samples_per_second(result),
            "training_wall_s": training_wall, "ws_bytes": traffic["bytes"], "ws_frames": traffic["count"],
            "exceptions": exceptions}


# -- page speed (issue 10: open ≤ 1.5× a one-button app, Start → first point ≤ 1.5 s, tab switch ≤ 1 s) ------

ONE_BUTTON_APP = 'import streamlit as st\n\nst.button("Start")\n'
# The chart each tab shows first, by page key; a tab "shows its data" when that chart has a drawn trace.
TAB_CHARTS = {"lesson": "lesson_bands", "curves": "chart_loss", "distributions": "chart_bands", "paper": "chart_paper",
              "gradients": "chart_grad", "internals": "chart_gamma_beta", "ics": "chart_ics",
              "predictions": "chart_gallery"}
HAS_DATA = """key => { const el = document.querySelector(`.st-key-${key} .js-plotly-plot`);
    return !!(el && el._fullData && el._fullData.some(d => d.visible !== false && (d._length > 0 || d.z))); }"""
FIRST_POINT = "() => document.querySelectorAll('.st-key-lesson_acc .scatterlayer .point').length > 0"


def page_open_seconds(browser, url: str, button: str) -> float:
    """A fresh browser context (no cache) opens `url`; seconds until the `button` is visible."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    page = context.new_page()
    t0 = time.perf_counter()
    page.goto(url)
    page.get_by_role("button", name=button).first.wait_for(timeout=120_000)
    seconds = time.perf_counter() - t0
    context.close()
    return seconds


def page_speed(repeats: int) -> list[tuple[str, str, str]]:
    import tempfile

    from playwright.sync_api import sync_playwright

    rows = []
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        one_button = Path(folder) / "one_button.py"
        one_button.write_text(ONE_BUTTON_APP)
        opened = {}
        for name, script in (("one-button app", str(one_button)), ("BatchNorm Lab", "app.py")):
            port = free_port()
            server = start_server(port, script=script)
            try:
                url = f"http://127.0.0.1:{port}/"
                first = page_open_seconds(browser, url, "Start")
                # Later visitors meet a warmed server: the lab's one-time imports (torch, scikit-learn, torch's
                # optimizer machinery; state.warm_up) take ~10 s on this machine after the first page.
                time.sleep(SETTLE_SECONDS)
                later = [page_open_seconds(browser, url, "Start") for _ in range(repeats)]
                opened[name] = (first, statistics.median(later))
                if name == "BatchNorm Lab":
                    rows += lab_clicks(browser, url, repeats)
            finally:
                server.terminate()
                server.wait(timeout=20)
        browser.close()
    (base_first, base_later), (lab_first, lab_later) = opened["one-button app"], opened["BatchNorm Lab"]
    rows[:0] = [
        ("page open → Start visible, fresh server (first load)",
         f"{lab_first:.2f} s vs one-button {base_first:.2f} s = {lab_first / base_first:.2f}×", "≤ 1.5×"),
        (f"page open → Start visible, later loads on a warmed server (median of {repeats})",
         f"{lab_later:.2f} s vs one-button {base_later:.2f} s = {lab_later / base_later:.2f}×", "≤ 1.5×"),
    ]
    return rows


def lab_clicks(browser, url: str, repeats: int) -> list[tuple[str, str, str]]:
    """Start → first plotted point (fresh page each time), then tab switches while a long run trains."""
    firsts = []
    for _ in range(repeats):
        context = browser.new_context(viewport={"width": 1280, "height": 720})
        page = context.new_page()
        page.goto(url + "?dataset=digits&epochs=200")
        page.get_by_role("button", name=t("start")).first.wait_for(timeout=120_000)
        time.sleep(2)  # the page settles, as a person reads it before pressing Start
        t0 = time.perf_counter()
        page.get_by_role("button", name=t("start")).first.click()
        page.wait_for_function(FIRST_POINT, timeout=60_000, polling=20)
        firsts.append(time.perf_counter() - t0)
        if len(firsts) < repeats:
            context.close()
    # The last page's run trains on: switch to every tab and back to the lesson, twice.
    switches: dict[str, list[float]] = {name: [] for name in TAB_CHARTS}
    for _ in range(2):
        for name in [*list(TAB_CHARTS)[1:], "lesson"]:
            time.sleep(1.0)
            t0 = time.perf_counter()
            page.get_by_role("tab", name=t(f"tab_{name}")).click()
            page.wait_for_function(HAS_DATA, arg=TAB_CHARTS[name], timeout=60_000, polling=20)
            switches[name].append(time.perf_counter() - t0)
    context.close()
    slowest = max(switches, key=lambda n: max(switches[n]))
    return [
        (f"Start → the lesson's first plotted point (median of {repeats})",
         f"{statistics.median(firsts):.2f} s (runs: {', '.join(f'{f:.2f}' for f in firsts)})", "≤ 1.5 s"),
        ("tab click → its chart has data, while training (slowest of 2 per tab)",
         f"{max(switches[slowest]):.2f} s ({slowest}); "
         + ", ".join(f"{n} {max(v):.2f}" for n, v in switches.items()), "≤ 1 s"),
    ]


def _count(frames: dict, payload) -> None:
    frames["bytes"] += len(payload)
    frames["count"] += 1


def refresh_sizes(record: dict) -> dict[str, int]:
    """Figure JSON per chart tab as the page draws it with default controls (hidden tabs are lazy)."""
    layer, kind = record["n_layers"] - 1, "input"
    tabs = {
        "Lesson": [figures.curves_figure(record, "acc", with_train=False), figures.bands_figure(record, layer, kind)],
        "Loss & accuracy": [figures.curves_figure(record, "loss"), figures.curves_figure(record, "acc")],
        "Distributions": [figures.bands_figure(record, layer, kind), figures.heatmap_figure(record, layer, kind),
                          figures.histogram_figure(record, layer, kind, (0.0, 1.0))],
        "BN paper view": [figures.paper_figure(record, 0)],
        "Gradients": [figures.grad_figure(record), figures.inactive_figure(record)],
        "BN internals": [figures.gamma_beta_figure(record), figures.bn_stats_figure(record),
                         figures.bn_accuracy_figure(record)],
        "Covariate shift": [figures.ics_figure(record), figures.drift_figure(record)],
        "Predictions": [figures.gallery_figure(record)],
    }
    return {name: sum(len(fig.to_json()) for fig in figs) for name, figs in tabs.items()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--preset", default="tutorial")
    parser.add_argument("--page", action="store_true", help="only the page-speed table (see above)")
    args = parser.parse_args()
    if args.page:
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; Chromium headless on "
              f"the same cores, 1280×720\n\n| measure | value | goal |\n|---|---|---|")
        for row in page_speed(args.repeats):
            print("| " + " | ".join(row) + " |")
        return 0
    config = PRESETS[args.preset].config(dataset="digits", steps=args.steps).validate()
    # The biggest refresh: a long run (probe history full) on the deepest preset network.
    big = PRESETS["deep-sigmoid"].config(dataset="digits", steps=2000).validate()

    headless = [headless_rate(config)]
    runs = []
    port = free_port()
    server = start_server(port)
    try:
        for _ in range(args.repeats):
            runs.append(browser_run(port, config, args.preset))
            headless.append(headless_rate(config))
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()

    runner = Runner(big).start()
    runner.join()
    sizes = refresh_sizes(runner.record())
    tutorial_runner = Runner(config).start()
    tutorial_runner.join()
    tutorial_sizes = refresh_sizes(tutorial_runner.record())

    head = statistics.median(headless)
    with_browser = statistics.median(r["rate"] for r in runs)
    first = [r["first_point_s"] for r in runs]
    per_refresh = [r["ws_bytes"] / max(1.0, r["training_wall_s"]) for r in runs]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; config: preset "
          f"{args.preset} on digits, {args.steps} steps, batch {config.batch_size}; "
          f"{args.repeats} browser runs, {len(headless)} headless runs (medians)\n")
    print("| measure | value | goal |")
    print("|---|---|---|")
    print(f"| Start → first plotted point (browser) | {statistics.median(first):.2f} s "
          f"(runs: {', '.join(f'{f:.2f}' for f in first)}) | ≤ 2 s |")
    print(f"| figure JSON per refresh, default tab (tutorial run) | {tutorial_sizes['Lesson'] / 1024:.0f} KB | "
          "≤ 300 KB |")
    worst = max(sizes, key=sizes.get)
    print(f"| figure JSON per refresh, largest tab ({worst}, deep-sigmoid, 2,000 steps) | "
          f"{sizes[worst] / 1024:.0f} KB | ≤ 300 KB |")
    print(f"| websocket traffic while training (browser) | {statistics.median(per_refresh) / 1024:.0f} KB/s | — |")
    print(f"| training samples/s, headless engine | {head:,.0f} | — |")
    print(f"| training samples/s, browser attached | {with_browser:,.0f} | — |")
    print(f"| ratio browser / headless | {with_browser / head:.2f}× | ≥ 0.8× |")
    print(f"| exceptions shown in the page | {sum(r['exceptions'] for r in runs)} | 0 |")
    print("\nper-tab figure JSON (KB), deep-sigmoid 2,000 steps: "
          + ", ".join(f"{k} {v / 1024:.0f}" for k, v in sizes.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
