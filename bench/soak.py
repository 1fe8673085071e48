"""Soak: one long run with the page open; is the server's memory flat after warm-up?

    python bench/soak.py [--minutes 20] [--data-dir ../shared/data]

Starts the app on a free loopback port, opens it in headless Chromium (the page keeps streaming),
starts one long run (the ioffe2015 preset, 3×100 sigmoid twins, stretched to 300,000 steps so it outlasts the soak), and samples the
server's resident memory and thread count every 30 s. Growth is measured from the sample at the end
of warm-up (2 minutes) to the last one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_bench import CHROMIUM, CHROMIUM_ARGS, free_port, start_server  # noqa: E402
from load_bench import proc_stats  # noqa: E402

WARM_UP_SECONDS = 120
SAMPLE_SECONDS = 30


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=20)
    parser.add_argument("--data-dir", help="BN_DEMO_DATA_DIR for the server (else its default)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    if args.data_dir:
        env["BN_DEMO_DATA_DIR"] = str(Path(args.data_dir).resolve())
    server = start_server(port, env=env)
    samples = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/?preset=ioffe2015&steps=300000")
            page.get_by_role("button", name="Start").first.click()
            t0 = time.monotonic()
            while time.monotonic() - t0 < args.minutes * 60:
                threads, rss = proc_stats(server.pid)
                status = page.locator("[data-testid='stMain']").inner_text(timeout=60_000).split("\n")
                step_line = next((line for line in status if line.startswith("Step ")), "")
                samples.append((time.monotonic() - t0, threads, rss, step_line.split(" · ")[0]))
                print(f"{samples[-1][0]:6.0f}s  threads {threads:3d}  rss {rss:7.1f} MiB  {samples[-1][3]}", flush=True)
                time.sleep(SAMPLE_SECONDS)
            browser.close()
    finally:
        server.terminate()
        server.wait(20)
    warm = next((s for s in samples if s[0] >= WARM_UP_SECONDS), samples[0])
    last = samples[-1]
    growth = (last[2] - warm[2]) / warm[2] * 100
    peak = max(s[2] for s in samples[samples.index(warm):])
    print(f"\nsoak: {args.minutes:g} min, {len(samples)} samples; resident memory after warm-up "
          f"({warm[0]:.0f} s) {warm[2]:.0f} MiB, at the end {last[2]:.0f} MiB ({growth:+.1f} %), peak {peak:.0f} MiB; "
          f"threads {warm[1]} → {last[1]}; last progress: {last[3]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
