"""Classroom load: N browser sessions on one server, each starting a run.

    python bench/load_bench.py [--sessions 10] [--epochs 3]

Starts `streamlit run app.py` on a free loopback port, opens N sessions in headless Chromium (one
browser context each, i.e. separate Streamlit sessions), presses Start in each (offline digits,
compare mode), and reports: runs completed and how many waited in the queue, health-endpoint
latency p50/p99 while they train, and the server's thread count and resident memory before, during
and after all sessions close. Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_bench import CHROMIUM, CHROMIUM_ARGS, free_port, start_server  # noqa: E402

SESSION_TTL = 5  # server.disconnectedSessionTTL for this bench: closed tabs are released quickly
IDLE_TIMEOUT = 15  # the registry's fallback reaper (BN_DEMO_IDLE_TIMEOUT)


def proc_stats(pid: int) -> tuple[int, float]:
    """(threads, resident MiB) of a process, from /proc."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["Threads"]), int(fields["VmRSS"].split()[0]) / 1024


class HealthProbe(threading.Thread):
    def __init__(self, base: str, interval: float = 0.2, limit_seconds: float = 1800):
        super().__init__(daemon=True)
        self.base, self.interval, self.limit = base, interval, limit_seconds
        self.latencies: list[float] = []
        self.failures = 0
        self.halt = threading.Event()

    def run(self):
        t_end = time.monotonic() + self.limit
        while not self.halt.is_set() and time.monotonic() < t_end:
            t0 = time.perf_counter()
            try:
                urllib.request.urlopen(f"{self.base}/_stcore/health", timeout=5).read()
                self.latencies.append(time.perf_counter() - t0)
            except OSError:
                self.failures += 1
            self.halt.wait(self.interval)


class ProcSampler(threading.Thread):
    """The server's thread count and resident memory, sampled 4× a second (runs can be short)."""

    def __init__(self, pid: int, interval: float = 0.25, limit_seconds: float = 1800):
        super().__init__(daemon=True)
        self.pid, self.interval, self.limit = pid, interval, limit_seconds
        self.peak_threads, self.peak_rss = 0, 0.0
        self.halt = threading.Event()

    def run(self):
        t_end = time.monotonic() + self.limit
        while not self.halt.is_set() and time.monotonic() < t_end:
            threads, rss = proc_stats(self.pid)
            self.peak_threads, self.peak_rss = max(self.peak_threads, threads), max(self.peak_rss, rss)
            self.halt.wait(self.interval)


def pct(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=10, help="digits epochs per run (44 steps each)")
    parser.add_argument("--timeout", type=float, default=900, help="give up waiting for the runs after this")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "BN_DEMO_IDLE_TIMEOUT": str(IDLE_TIMEOUT)}
    server = start_server(port, "--server.disconnectedSessionTTL", str(SESSION_TTL), env=env)
    rows = []
    try:
        # One page view first, so "before" counts a warmed-up server rather than a cold import.
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            warm = browser.new_context()
            warm.new_page().goto(base, wait_until="networkidle")
            time.sleep(2)
            warm.close()
            time.sleep(SESSION_TTL + 3)
            rows.append(("before", *proc_stats(server.pid)))

            probe = HealthProbe(base)
            probe.start()
            url = f"{base}/?dataset=digits&epochs={args.epochs}&model=both"
            contexts, pages = [], []
            for _ in range(args.sessions):
                ctx = browser.new_context(viewport={"width": 1400, "height": 900})
                page = ctx.new_page()
                page.goto(url)
                page.get_by_role("button", name="Start").first.wait_for(timeout=60_000)
                contexts.append(ctx)
                pages.append(page)
            sampler = ProcSampler(server.pid)
            sampler.start()
            t_start = time.monotonic()
            for page in pages:
                page.get_by_role("button", name="Start").first.click()
            # A newcomer's page while every slot is busy and the queue is full: how long until usable?
            t_page = time.perf_counter()
            newcomer = browser.new_context()
            newcomer.new_page().goto(base)
            newcomer.pages[0].get_by_role("button", name="Start").first.wait_for(timeout=60_000)
            page_load = time.perf_counter() - t_page
            newcomer.close()
            queued_seen = 0
            done: set[int] = set()
            deadline = time.monotonic() + args.timeout
            while len(done) < len(pages) and time.monotonic() < deadline:
                waiting = 0
                for i, page in enumerate(pages):
                    if i in done:
                        continue
                    text = page.content()  # the progress label is not in innerText; the DOM has it
                    if "Queued, position" in text:
                        waiting += 1
                    if "· finished" in text or "· stopped" in text or "· failed" in text:
                        done.add(i)
                queued_seen = max(queued_seen, waiting)
                time.sleep(1)
            elapsed = time.monotonic() - t_start
            sampler.halt.set()
            rows.append(("during (peak)", sampler.peak_threads, sampler.peak_rss))
            probe.halt.set()
            for ctx in contexts:
                ctx.close()
            browser.close()
        t_closed = time.monotonic()
        baseline_threads = rows[0][1]
        while time.monotonic() - t_closed < SESSION_TTL + IDLE_TIMEOUT + 30:
            if proc_stats(server.pid)[0] <= baseline_threads:
                break
            time.sleep(1)
        back_after = time.monotonic() - t_closed
        rows.append((f"after close (+{back_after:.0f} s)", *proc_stats(server.pid)))
    finally:
        server.terminate()
        server.wait(20)

    lat = probe.latencies
    print(f"sessions: {args.sessions}, each a digits run of {args.epochs} epochs in compare mode, "
          f"slots: {os.environ.get('BN_DEMO_MAX_RUNS') or 'default (cores − 1)'}; {os.cpu_count()} cores")
    print(f"runs completed: {len(done)}/{args.sessions} in {elapsed:.0f} s; most waiting in the queue at once: {queued_seen}")
    print(f"health endpoint during the load: {len(lat)} requests, p50 {1000 * pct(lat, 50):.0f} ms, "
          f"p99 {1000 * pct(lat, 99):.0f} ms, max {1000 * max(lat, default=float('nan')):.0f} ms, failures {probe.failures}"
          + (f", mean {1000 * statistics.mean(lat):.0f} ms" if lat else ""))
    print(f"a fresh page load during the load (until the Start button shows): {page_load:.1f} s")
    print("\n| server process | threads | resident MiB |\n|---|---:|---:|")
    for name, threads, rss in rows:
        print(f"| {name} | {threads} | {rss:.0f} |")
    return 0 if len(done) == args.sessions else 1


if __name__ == "__main__":
    raise SystemExit(main())
