"""Classroom load: N browser sessions on one server, each starting a run.

    python bench/load_bench.py [--sessions 10] [--epochs 3] [--backend ray]
    python bench/load_bench.py --adversarial [--pause-grace 10] [--run-seconds 20] [--run-work 5e10]

Starts `streamlit run app.py` on a free loopback port, opens N sessions in headless Chromium (one
browser context each, i.e. separate Streamlit sessions), presses Start in each (offline digits,
compare mode), and reports: runs completed and how many waited in the queue, health-endpoint
latency p50/p99 while they train, and the server's thread count and resident memory before, during
and after all sessions close. Loopback only; every loop is bounded in count and time.

--backend ray: the server runs with BN_DEMO_BACKEND=ray (a local Ray with this machine's cores, started
by the server), so every run is a Ray actor in a worker process of its own; the report adds the peak
resident memory of those workers, which is where the runs' memory then lives.

--adversarial: 8 tabs where one pauses its run, one asks for the sidebar's maximum by link, one uses
the slowest pace, one mashes Start/Stop, and the other four start short runs after them (the
adversaries got there first: the worst case). The server gets a short pause grace and run budgets
(BN_DEMO_PAUSE_GRACE, BN_DEMO_MAX_RUN_SECONDS, BN_DEMO_MAX_RUN_WORK) so it ends in a few minutes; on a
server without those features the long runs simply hold their slot and the report says so. Reports
whether each short run started within (pause grace + one run's time budget), the health p99 (< 1 s),
and resident memory after every tab closed against the level after a warm-up run (within 10 %).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_bench import CHROMIUM, CHROMIUM_ARGS, free_port, start_server  # noqa: E402

from bn_demo.ui.strings import t  # noqa: E402  (the page's English texts: the bench finds them on the page)


def literal(key: str) -> str:
    """The longest fixed piece of a page text (strings.py, English, as the page renders its Markdown bold), to
    find it on the page whatever its values."""
    return max(re.split(r"\{[^}]*\}", t(key).replace("**", "")), key=len).strip()


def ended_words() -> tuple[str, ...]:
    return tuple(f"· {t(f'status_{status}')}" for status in ("finished", "stopped", "failed"))


QUEUED = (literal("status_queued_line"), literal("status_queued_line_ray"))
LOADING = literal("status_loading")
STEP_RE = re.compile(re.escape(t("status_line").split("{")[0]) + r"[\d,]+ /")
SESSION_TTL = 5  # server.disconnectedSessionTTL for this bench: closed tabs are released quickly
IDLE_TIMEOUT = 15  # the registry's fallback reaper (BN_DEMO_IDLE_TIMEOUT)


def queued(text: str) -> bool:
    """The page says its run waits in the queue (either backend's wording)."""
    return any(words in text for words in QUEUED)


def ray_workers_rss() -> float:
    """Resident MiB of this machine's Ray worker processes (their command line reads "ray::…")."""
    total = 0.0
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::"):
                total += proc_stats(int(cmdline.parent.name))[1]
        except (OSError, KeyError):  # the process ended meanwhile
            continue
    return total


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
    parser.add_argument("--adversarial", action="store_true", help="the 8-tab adversarial mix instead (see above)")
    parser.add_argument("--pause-grace", type=float, default=10.0, help="adversarial: BN_DEMO_PAUSE_GRACE, s")
    parser.add_argument("--run-seconds", type=float, default=20.0, help="adversarial: BN_DEMO_MAX_RUN_SECONDS")
    parser.add_argument("--run-work", type=float, default=5e10,
                        help="adversarial: BN_DEMO_MAX_RUN_WORK (steps × batch × parameters)")
    parser.add_argument("--short-steps", type=int, default=300, help="adversarial: steps of each short run")
    parser.add_argument("--rounds", type=int, default=1,
                        help="adversarial: repeat the mix; memory that grows round after round is a leak, a level it keeps is not")
    parser.add_argument("--slots", type=int, default=None, help="BN_DEMO_MAX_RUNS for the server (default: its own)")
    parser.add_argument("--backend", choices=("thread", "ray"), default="thread",
                        help="BN_DEMO_BACKEND for the server (ray: runs as Ray actors, a local Ray)")
    args = parser.parse_args()
    os.environ["BN_DEMO_BACKEND"] = args.backend
    if args.slots:
        os.environ["BN_DEMO_MAX_RUNS"] = str(args.slots)
    if args.adversarial:
        return adversarial(args)
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
            queued_seen, workers_peak = 0, 0.0
            done: set[int] = set()
            deadline = time.monotonic() + args.timeout
            while len(done) < len(pages) and time.monotonic() < deadline:
                waiting = 0
                for i, page in enumerate(pages):
                    if i in done:
                        continue
                    text = page.content()  # the progress label is not in innerText; the DOM has it
                    if queued(text):
                        waiting += 1
                    if any(word in text for word in ended_words()):
                        done.add(i)
                queued_seen = max(queued_seen, waiting)
                if args.backend == "ray":  # a walk over /proc every second, only where it is reported
                    workers_peak = max(workers_peak, ray_workers_rss())
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
    slots = "the Ray cluster's CPUs" if args.backend == "ray" else os.environ.get("BN_DEMO_MAX_RUNS") or "default (cores − 1)"
    print(f"backend: {args.backend}; sessions: {args.sessions}, each a digits run of {args.epochs} epochs in compare "
          f"mode, slots: {slots}; {os.cpu_count()} cores")
    print(f"runs completed: {len(done)}/{args.sessions} in {elapsed:.0f} s; most waiting in the queue at once: {queued_seen}")
    print(f"health endpoint during the load: {len(lat)} requests, p50 {1000 * pct(lat, 50):.0f} ms, "
          f"p99 {1000 * pct(lat, 99):.0f} ms, max {1000 * max(lat, default=float('nan')):.0f} ms, failures {probe.failures}"
          + (f", mean {1000 * statistics.mean(lat):.0f} ms" if lat else ""))
    print(f"a fresh page load during the load (until the Start button shows): {page_load:.1f} s")
    print("\n| server process | threads | resident MiB |\n|---|---:|---:|")
    for name, threads, rss in rows:
        print(f"| {name} | {threads} | {rss:.0f} |")
    if args.backend == "ray":
        print(f"Ray worker processes (ray::…), peak resident memory together: {workers_peak:.0f} MiB")
    return 0 if len(done) == args.sessions else 1


# -- the adversarial mix ------------------------------------------------------------------------------------

# The sidebar's own maximum (depth 12, width 512, batch 1024, 10^6 steps), asked for by link.
MAX_LINK = "dataset=digits&depth=12&width=512&batch_size=1024&steps=1000000"
SLOW_LINK = "dataset=digits&pace=0.5&steps=100000"  # the slowest pace the page offers
LONG_LINK = "dataset=digits&steps=1000000"
SETTLED_RSS = 0.10  # resident memory after every tab closed: within 10 % of the post-warm-up level
# A paused page checks in every 20 s (layout.HEARTBEAT_SECONDS): the idle reaper must wait longer than
# that here, or it, not the pause grace, would free the paused tab's slot.
ADVERSARIAL_IDLE_TIMEOUT = 45


def _status_text(page) -> str:
    """The live view's text (the progress label is in the DOM, not always in innerText)."""
    try:
        return page.evaluate("() => document.querySelector(\"[data-testid='stMain']\")?.textContent || ''")
    except Exception:  # a page mid-navigation or closed
        return ""


def _started(text: str) -> bool:
    """The run holds a training slot (or has already ended): past the queue."""
    return not queued(text) and bool(STEP_RE.search(text) or LOADING in text)


def _final_state(page) -> str:
    """The run's state word from its progress line ("Step … · finished"), with the reason of a budget stop."""
    text = _status_text(page)
    try:
        line = page.evaluate("() => document.querySelector(\"[data-testid='stProgress']\")?.textContent || ''")
    except Exception:
        line = ""
    state = line.rsplit("· ", 1)[-1].strip() if STEP_RE.search(line) else \
        "queued" if queued(text) else (" ".join(line.split())[:60] or "—")
    if literal("status_paused_released") in text:
        state += " (slot given back)"
    elif literal("stopped_budget_seconds") in text:
        state += " (time budget)"
    elif literal("stopped_budget_work") in text:
        state += " (work budget)"
    return state


def _quick_click(locator, timeout_ms: float = 250) -> bool:
    try:
        locator.click(timeout=timeout_ms)
        return True
    except Exception:  # disabled for the moment, or redrawn: the click is lost, as a person's would be
        return False


def _wait_settled_rss(pid: int, target: float, threads: int, limit_seconds: float) -> tuple[float, float]:
    """After the tabs closed: wait until their sessions are released (Streamlit's disconnected-session
    TTL, then every run thread gone: the thread count back to `threads`), then poll resident memory until
    within SETTLED_RSS of `target`; returns (seconds waited, MiB)."""
    t0 = time.monotonic()
    time.sleep(SESSION_TTL + 3)
    while time.monotonic() - t0 < limit_seconds and proc_stats(pid)[0] > threads:
        time.sleep(1)
    rss = proc_stats(pid)[1]
    while time.monotonic() - t0 < limit_seconds and rss > target * (1 + SETTLED_RSS):
        time.sleep(1)
        rss = proc_stats(pid)[1]
    return time.monotonic() - t0, rss


def _adversarial_round(browser, base: str, args, bound: float, short_link: str) -> dict:
    """Open the 8 tabs, start the adversaries, then the short runs; close every tab when the short runs
    have left the queue (or the time is up)."""
    probe = HealthProbe(base)
    probe.start()
    sampler = ProcSampler(args.server_pid)
    sampler.start()
    roles = [("pauses", LONG_LINK), ("sidebar maximum by link", MAX_LINK), ("slowest pace (0.5 steps/s)", SLOW_LINK),
             ("mashes Start/Stop", LONG_LINK)] + [("short run", short_link)] * 4
    tabs: list[dict] = []
    try:
        for role, link in roles:
            ctx = browser.new_context(viewport={"width": 1400, "height": 900})
            page = ctx.new_page()
            page.goto(f"{base}/?{link}")
            page.get_by_role("button", name="Start").first.wait_for(timeout=60_000)
            tabs.append({"role": role, "link": link, "ctx": ctx, "page": page, "clicked": None, "started": None})
        t0 = time.monotonic()
        # The adversaries first. The pausing tab pauses once its run trains and keeps its slot for the grace.
        pauser, spammer, normal = tabs[0], tabs[3], tabs[4:]
        pauser["page"].get_by_role("button", name="Start").first.click(timeout=10_000)
        pauser["clicked"] = time.monotonic()
        deadline = time.monotonic() + 60
        while not STEP_RE.search(_status_text(pauser["page"])) and time.monotonic() < deadline:
            time.sleep(0.3)
        pauser["started"] = time.monotonic()
        pauser["page"].get_by_role("button", name="Pause").first.click(timeout=10_000)
        for tab in tabs[1:3]:
            tab["page"].get_by_role("button", name="Start").first.click(timeout=10_000)
            tab["clicked"] = time.monotonic()
        spam_buttons = (spammer["page"].get_by_role("button", name="Start").first,
                        spammer["page"].locator(".st-key-btn_stop button").first)
        for tab in normal:  # then the class presses Start
            tab["page"].get_by_role("button", name="Start").first.click(timeout=10_000)
            tab["clicked"] = time.monotonic()
        spam_clicks = tries = 0
        deadline = time.monotonic() + min(args.timeout, 4 * bound + 120)  # bounded even without budgets
        while time.monotonic() < deadline:
            # The spammer clicks on and on: Start, Stop, Start, ... (each waits at most 250 ms for its button).
            spam_clicks += _quick_click(spam_buttons[tries % 2])
            tries += 1
            for tab in tabs[1:3] + normal:
                if tab["started"] is None and _started(_status_text(tab["page"])):
                    tab["started"] = time.monotonic()
            if all(tab["started"] is not None for tab in normal):
                break
            time.sleep(0.2)
        for tab in tabs:
            tab["final"] = _final_state(tab["page"])
        elapsed = time.monotonic() - t0
    finally:
        sampler.halt.set()
        probe.halt.set()
        for tab in tabs:
            tab["ctx"].close()
    return {"tabs": tabs, "normal": normal, "spam": (spam_clicks, tries), "elapsed": elapsed, "probe": probe,
            "sampler": sampler}


def adversarial(args) -> int:
    from playwright.sync_api import sync_playwright

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    limits = {"BN_DEMO_PAUSE_GRACE": f"{args.pause_grace:g}", "BN_DEMO_MAX_RUN_SECONDS": f"{args.run_seconds:g}",
              "BN_DEMO_MAX_RUN_WORK": f"{args.run_work:g}"}
    env = {**os.environ, "BN_DEMO_IDLE_TIMEOUT": str(ADVERSARIAL_IDLE_TIMEOUT), **limits}
    server = start_server(port, "--server.disconnectedSessionTTL", str(SESSION_TTL), env=env)
    args.server_pid = server.pid
    bound = args.pause_grace + args.run_seconds  # pause grace + one run's time (its wall-time budget)
    short_link = f"dataset=digits&steps={args.short_steps}"
    rows, rounds = [], []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            # Warm-up: one short run, so the baseline includes torch's and the app's one-time costs.
            warm = browser.new_context()
            page = warm.new_page()
            page.goto(f"{base}/?{short_link}")
            page.get_by_role("button", name="Start").first.click(timeout=60_000)
            deadline = time.monotonic() + 120
            while ended_words()[0] not in _status_text(page) and time.monotonic() < deadline:
                time.sleep(0.5)
            warm.close()
            time.sleep(SESSION_TTL + 5)
            baseline_threads, baseline_rss = proc_stats(server.pid)
            rows.append(("after warm-up", baseline_threads, baseline_rss))
            for k in range(args.rounds):
                result = _adversarial_round(browser, base, args, bound, short_link)
                rows.append((f"round {k + 1}: during (peak)", result["sampler"].peak_threads, result["sampler"].peak_rss))
                t_closed = time.monotonic()
                result["settle"], result["rss"] = _wait_settled_rss(server.pid, baseline_rss, baseline_threads,
                                                                    SESSION_TTL + ADVERSARIAL_IDLE_TIMEOUT + 90)
                rows.append((f"round {k + 1}: after every tab closed (+{time.monotonic() - t_closed:.0f} s)",
                             proc_stats(server.pid)[0], result["rss"]))
                rounds.append(result)
            browser.close()
    finally:
        server.terminate()
        server.wait(20)

    print(f"adversarial mix: 8 tabs on one server, {os.cpu_count()} cores, slots: "
          f"{os.environ.get('BN_DEMO_MAX_RUNS') or 'default (cores − 1)'}; "
          + ", ".join(f"{k}={v}" for k, v in limits.items()))
    ok = True
    for k, result in enumerate(rounds):
        tabs, normal, probe = result["tabs"], result["normal"], result["probe"]
        print(f"\n**Round {k + 1}** ({result['elapsed']:.0f} s; spam clicks that landed: {result['spam'][0]} of "
              f"{result['spam'][1]})\n\n| tab | link | Start → out of the queue | state at the end |\n|---|---|---:|---|")
        for tab in tabs:
            wait = f"{tab['started'] - tab['clicked']:.1f} s" if tab["started"] and tab["clicked"] else "—"
            print(f"| {tab['role']} | `?{tab['link']}` | {wait} | {tab.get('final', '—')} |")
        waits = [tab["started"] - tab["clicked"] if tab["started"] else None for tab in normal]
        on_time = sum(1 for w in waits if w is not None and w <= bound)
        worst = max((w for w in waits if w is not None), default=float("nan"))
        lat = probe.latencies
        p99 = pct(lat, 99)
        change = result["rss"] / baseline_rss - 1
        print("\n| check | measured | goal | |\n|---|---|---|---|")
        print(f"| short runs out of the queue in time | {on_time}/{len(normal)}, slowest {worst:.1f} s"
              + (f" ({sum(w is None for w in waits)} never)" if None in waits else "")
              + f" | ≤ pause grace + one run's time = {bound:g} s | {'pass' if on_time == len(normal) else 'FAIL'} |")
        print(f"| health endpoint p99 | {1000 * p99:.0f} ms (p50 {1000 * pct(lat, 50):.0f} ms, {len(lat)} requests, "
              f"{probe.failures} failures) | < 1000 ms | {'pass' if p99 < 1 and not probe.failures else 'FAIL'} |")
        print(f"| resident memory after every tab closed | {result['rss']:.0f} MiB vs {baseline_rss:.0f} MiB after "
              f"warm-up ({100 * change:+.1f} %, after {result['settle']:.0f} s) | within {100 * SETTLED_RSS:.0f} % | "
              f"{'pass' if abs(change) <= SETTLED_RSS else 'FAIL'} |")
        ok = ok and on_time == len(normal) and p99 < 1 and not probe.failures and abs(change) <= SETTLED_RSS
    print("\n| server process | threads | resident MiB |\n|---|---:|---:|")
    for name, threads, mib in rows:
        print(f"| {name} | {threads} | {mib:.0f} |")
    return 0 if ok else 1

if __name__ == "__main__":
    raise SystemExit(main())
