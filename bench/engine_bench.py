"""Engine throughput on this machine: one table, one process, same model everywhere.

    python bench/engine_bench.py [--device cpu|cuda] [--only tutorial|wide|summaries|evaluation|startup|record]
                                 [--seconds 1.5] [--rounds 7] [--widths 512,1024] [--data-dir ../shared/data]

Rows (784-32-32-10 ReLU MLP with BN, Adam lr 0.01, the tutorial model):
  (a) the classic tutorial loop: torchvision MNIST + ToTensor + DataLoader
  (b) a bare tensor-slicing loop: the floor any engine pays
  (c) the engine, one model (BN), probes off
  (d) the engine, one model, default probes
  (e) the engine, BN and plain twins in lockstep, default probes
plus one full held-out evaluation vs one epoch, stop latency and peak memory.
Wide rows (--only wide): 3×512 and 3×1024 ReLU twins with BN at batch 256 (--widths), probes off and on
(the probe cost share, per round, then its median), per-step vs windowed loss fetches, and one full
evaluation vs one epoch.
Evaluation (--only evaluation): one full evaluation vs one epoch of the tutorial twins, per round.
Summaries (--only summaries): probes.summarize's NumPy and torch paths on the engine's probe shapes.
Start-up (--only startup): whole processes, start to exit, on this machine: a 4-epoch tutorial CLI run vs
the classic loop's 4 epochs over the same 8,000 images, beside the imports that both pay.
Record (--only record): what one page refresh costs the server while a run with the tutorial's MNIST step
count is 6,000 steps in, for the tutorial twins and 3×(first of --widths) twins: reading the whole record
vs reading what changed since the copy the page holds (record(since=cursor)) and merging it, after one
step and after one refresh interval of training, with each answer's pickled size (what crosses from a
Ray actor to the page's server).
Row (a) is a CPU loop; (b) and every engine row run on --device.
Data: the real MNIST test split when available (train on test[:8000]), else synthetic IDX files.
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bn_demo import probes  # noqa: E402
from bn_demo.config import PRESETS  # noqa: E402
from bn_demo.data import IDX_FILES, load_dataset, write_idx  # noqa: E402
from bn_demo.engine import Experiment  # noqa: E402
from bn_demo.model import build_twins, make_optimizer  # noqa: E402
from bn_demo.runner import Runner, limit_torch_threads  # noqa: E402

FULL_MNIST_STEPS = PRESETS["tutorial"].config().total_steps(60_000)  # cadences as in a real tutorial run


DEVICE = "cpu"  # the engine rows' device (--device)


def sync() -> None:
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def find_data(arg: str | None) -> tuple[Path, str]:
    for candidate in (arg, os.environ.get("BN_DEMO_TEST_DATA"), Path(__file__).resolve().parents[2] / "shared" / "data"):
        if candidate and (Path(candidate) / "MNIST" / "raw" / "t10k-images-idx3-ubyte").exists():
            return Path(candidate), "real MNIST test split (train = test[:8000], held-out = test[8000:])"
    root = Path(tempfile.mkdtemp())
    rng = np.random.RandomState(0)
    for split in ("train", "test"):
        image_file, label_file, _ = IDX_FILES[split]
        write_idx(root / "MNIST" / "raw" / image_file, rng.randint(0, 256, (10_000, 28, 28)))
        write_idx(root / "MNIST" / "raw" / label_file, rng.randint(0, 10, 10_000))
    return root, "synthetic IDX files (10,000 random images)"


def torchvision_root(data_root: Path) -> Path:
    """torchvision's MNIST class wants all four files; this machine may only have the test split,
    so the classic loop reads the test images under the train names (speed is all we measure)."""
    root = Path(tempfile.mkdtemp())
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for split in ("train", "test"):
        for name, src in zip(IDX_FILES[split][:2], IDX_FILES["test"][:2]):
            (raw / name).symlink_to((data_root / "MNIST" / "raw" / src).resolve())
    return root


def timed(step, seconds: float, warmup: int = 20) -> float:
    """Steps per second of `step()` over at least `seconds` after a warm-up."""
    for _ in range(warmup):
        step()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    return n / (time.perf_counter() - t0)


def classic_loop(root: Path, batch: int, seconds: float) -> float:
    import torchvision.datasets as dsets
    import torchvision.transforms as transforms

    train = dsets.MNIST(str(root), train=True, transform=transforms.ToTensor(), download=False)
    loader = torch.utils.data.DataLoader(train, batch_size=batch, shuffle=True, drop_last=True)
    cfg = PRESETS["tutorial"].config(batch_size=batch)
    model = build_twins(cfg.replace(model="bn"), 784, 10, "cpu")["bn"]
    opt = make_optimizer(cfg, model)
    criterion = torch.nn.CrossEntropyLoss()
    it = iter(loader)

    def step():
        nonlocal it
        try:
            x, y = next(it)
        except StopIteration:
            it = iter(loader)
            x, y = next(it)
        opt.zero_grad()
        loss = criterion(model(x.view(-1, 784)), y)
        loss.backward()
        opt.step()

    return timed(step, seconds) * batch


def bare_loop(ds, batch: int, seconds: float) -> float:
    cfg = PRESETS["tutorial"].config(batch_size=batch, model="bn")
    model = build_twins(cfg, 784, 10, DEVICE)["bn"]
    opt = make_optimizer(cfg, model)
    n = len(ds.train_y)
    g = torch.Generator().manual_seed(0)
    state = {"order": torch.randperm(n, generator=g).to(DEVICE), "pos": 0}

    def step():
        if state["pos"] + batch > n:
            state["order"], state["pos"] = torch.randperm(n, generator=g).to(DEVICE), 0
        idx = state["order"][state["pos"] : state["pos"] + batch]
        state["pos"] += batch
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(ds.train_x[idx]), ds.train_y[idx])
        loss.backward()
        opt.step()

    rate = timed(step, seconds)
    sync()
    return rate * batch


def engine_loop(ds, batch: int, seconds: float, model: str, probes_on: bool, hidden=None,
                fetch_every: int | None = None, whole_cycle: bool = False) -> float:
    changes = {"hidden": hidden} if hidden else {}
    cfg = PRESETS["tutorial"].config(batch_size=batch, model=model, steps=FULL_MNIST_STEPS * 32 // batch, epochs=0,
                                     **changes)
    exp = Experiment(cfg, ds, DEVICE, probes_on=probes_on)
    if fetch_every is not None:
        exp.fetch_every = fetch_every
    exp.begin()
    if whole_cycle:
        # Exactly one ICS period (ics_every steps: its probes and its one ICS measurement), timed from
        # just after an ICS step, so the probe cost is counted in its true share whatever the speed.
        for _ in range(3):
            exp.train_step()
        while exp.step % exp.ics_every:
            exp.train_step()
        exp.fetch()
        sync()
        t0 = time.perf_counter()
        for _ in range(exp.ics_every):
            exp.train_step()
        exp.fetch()
        sync()
        return exp.ics_every * batch / (time.perf_counter() - t0)

    def step():
        if exp.done:  # a long measurement on a fast device: start the run again
            exp.step, exp._order = 0, None
            for twin in exp.twins.values():
                twin.status = "running"
        exp.train_step()

    rate = timed(step, seconds)
    exp.fetch()
    sync()
    return rate * batch


def eval_vs_epoch(ds, batch: int, rounds: int, hidden=None) -> list[tuple[float, float]]:
    """(one full evaluation, one epoch) in seconds, per round, the two interleaved within each round: the
    evaluation of both twins (eval mode + the BN twin's batch-statistics accuracy; median of 5) vs one epoch
    of lockstep training steps alone (no evaluations or probes inside the timed epoch)."""
    changes = {"hidden": hidden} if hidden else {}
    cfg = PRESETS["tutorial"].config(batch_size=batch, model="both", epochs=rounds + 1, eval_every=10**6, **changes)
    exp = Experiment(cfg, ds, DEVICE, probes_on=False)
    exp.evaluate()
    out = []
    for _ in range(rounds):
        times = []
        for _ in range(5):
            sync()
            t0 = time.perf_counter()
            exp.evaluate()
            sync()
            times.append(time.perf_counter() - t0)
        steps = exp.steps_per_epoch - 1  # the epoch's last step would trigger the epoch-end evaluation
        t0 = time.perf_counter()
        for _ in range(steps):
            exp.train_step()
        exp.fetch()
        sync()
        out.append((statistics.median(times), (time.perf_counter() - t0) * exp.steps_per_epoch / steps))
        exp.train_step()  # the epoch end (and its evaluation) outside the timing
    return out


def eval_line(label: str, rounds: list[tuple[float, float]]) -> str:
    shares = [100 * e / epoch for e, epoch in rounds]
    return (f"{label}: one full evaluation {1000 * statistics.median(e for e, _ in rounds):.1f} ms vs one epoch "
            f"{1000 * statistics.median(epoch for _, epoch in rounds):.0f} ms: share {statistics.median(shares):.1f} % "
            f"(median of {len(rounds)} rounds, range {min(shares):.1f}–{max(shares):.1f} %)")


def tutorial_eval_rows(ds, batches, rounds: int, detail: str = "") -> None:
    """One eval_line per batch size: the tutorial twins' full evaluation vs one epoch (`detail` ends the label)."""
    for b in batches:
        print(eval_line(f"batch {b}, tutorial twins{detail}", eval_vs_epoch(ds, b, rounds)))


def interleaved(rows, batches, rounds: int) -> dict:
    """`rounds` measurements per (row, batch), the rows interleaved within each round: this machine's speed
    drifts by ±25 % from second to second (a shared VM). Returns every round's value; see medians()."""
    samples = {label[:3]: {b: [] for b in batches} for label, _ in rows}
    for _ in range(rounds):
        for b in batches:
            for label, fn in rows:
                samples[label[:3]][b].append(fn(b))
    return samples


def medians(samples: dict) -> dict:
    return {k: {b: statistics.median(v) for b, v in per.items()} for k, per in samples.items()}


def wide_rows(ds, args) -> None:
    """The wide twins at batch 256: what probes cost, what per-step fetches cost, what evaluation costs.
    Each cell times one whole ICS period of the run's default cadence (see engine_loop)."""
    batch = 256
    nets = {f"3×{w}": (w,) * 3 for w in args.widths}
    rows = []
    for name, hidden in nets.items():
        rows += [
            (f"{len(rows):>2}  {name} twins, probes off",
             lambda b, h=hidden: engine_loop(ds, b, args.seconds, "both", False, h, whole_cycle=True)),
            (f"{len(rows) + 1:>2}  {name} twins, default probes (and ICS)",
             lambda b, h=hidden: engine_loop(ds, b, args.seconds, "both", True, h, whole_cycle=True)),
            (f"{len(rows) + 2:>2}  {name} twins, probes off, loss fetched every 32 steps",
             lambda b, h=hidden: engine_loop(ds, b, args.seconds, "both", False, h, fetch_every=32, whole_cycle=True)),
        ]
    samples = interleaved(rows, (batch,), args.rounds)
    results = medians(samples)
    print(f"| row ({DEVICE}, batch {batch}) | samples/s |")
    print("|---|---:|")
    for label, _ in rows:
        print(f"| {label[4:]} | {results[label[:3]][batch]:,.0f} |")
    print()
    keys = [label[:3] for label, _ in rows]
    for i, name in enumerate(nets):
        off, on, windowed = (samples[k][batch] for k in keys[3 * i : 3 * i + 3])
        # Each round's share from its own interleaved pair: the drift between rounds cancels.
        shares = [100 * (1 - b / a) for a, b in zip(off, on)]
        print(f"{name} twins @ {batch}: probe cost share {statistics.median(shares):.1f} % (median of {len(shares)} "
              f"rounds, range {min(shares):.1f}–{max(shares):.1f} %; target ≤ 15 %); fetch every 32 steps / every "
              f"step = {statistics.median(w / a for a, w in zip(off, windowed)):.2f}")
    for name, hidden in nets.items():
        print(eval_line(f"{name} twins @ {batch}", eval_vs_epoch(ds, batch, args.rounds, hidden)))


def summary_rows(args) -> None:
    """probes.summarize's two implementations on the engine's probe shapes (probe batch 512)."""
    edges = np.linspace(-4, 4, probes.N_BINS + 1)
    print(f"| probe values (512 × units) | NumPy path ms | torch path ms ({DEVICE}) | unit_percentiles ms |")
    print("|---|---:|---:|---:|")
    for units in (32, 512, 1024):
        values = torch.randn(512, units, generator=torch.Generator().manual_seed(0)).to(DEVICE)
        cells = []
        for fn in (lambda v=values: probes._summarize_numpy(v, edges), lambda v=values: probes._summarize_torch(v, edges),
                   lambda v=values: probes.unit_percentiles(v)):
            fn()
            times = []
            for _ in range(max(5, args.rounds * 3)):
                t0 = time.perf_counter()
                fn()
                times.append(time.perf_counter() - t0)
            cells.append(1000 * statistics.median(times))
        print(f"| 512 × {units} | {cells[0]:.2f} | {cells[1]:.2f} | {cells[2]:.2f} |", flush=True)
    print()


# The classic tutorial loop as a program of its own, for 4 epochs over the first 8,000 training images: what a
# short CLI run is compared with, start-up included (the engine's model and optimizer, one torch thread).
CLASSIC_PROGRAM = """
import sys, torch
import torchvision.datasets as dsets, torchvision.transforms as transforms
sys.path.insert(0, {repo!r})
from bn_demo.config import PRESETS
from bn_demo.model import build_twins, make_optimizer
from bn_demo.runner import limit_torch_threads
limit_torch_threads()
train = dsets.MNIST({root!r}, train=True, transform=transforms.ToTensor(), download=False)
loader = torch.utils.data.DataLoader(torch.utils.data.Subset(train, range(8000)), batch_size=32, shuffle=True,
                                     drop_last=True)
cfg = PRESETS["tutorial"].config()
model = build_twins(cfg.replace(model="bn"), 784, 10, "cpu")["bn"]
opt = make_optimizer(cfg, model)
for epoch in range(4):
    for x, y in loader:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x.view(-1, 784)), y).backward()
        opt.step()
"""


def startup_rows(root: Path, rounds: int) -> None:
    """Whole processes, start to exit, interleaved within each round: the imports every torch program here
    pays, the classic loop's 4 epochs, and 4-epoch CLI runs of the tutorial (one BN model without probes:
    the classic loop's work; and the tutorial's default, both twins with probes)."""
    repo = Path(__file__).resolve().parents[1]
    cli = [sys.executable, "-m", "bn_demo", "train", "--preset", "tutorial", "--epochs", "4", "--quiet",
           "--data-dir", str(root)]
    rows = [
        ("(i) python -c 'import torch'", [sys.executable, "-c", "import torch"]),
        ("(ii) python -c 'import torch, torchvision' (imports torch._dynamo)",
         [sys.executable, "-c", "import torch, torchvision"]),
        ("(iii) classic loop, 4 epochs × 8,000 images", [sys.executable, "-c", CLASSIC_PROGRAM.format(
            repo=str(repo), root=str(torchvision_root(root)))]),
        ("(iv) CLI, tutorial, one BN model, no probes, 4 epochs", [*cli, "--model", "bn", "--no-probes"]),
        ("(v) CLI, tutorial as it comes (BN + plain twins, probes), 4 epochs", cli),
    ]
    seconds: dict = {label: [] for label, _ in rows}
    for _ in range(rounds):
        for label, command in rows:
            t0 = time.perf_counter()
            subprocess.run(command, cwd=repo, check=True, stdout=subprocess.DEVNULL)
            seconds[label].append(time.perf_counter() - t0)
    print("| process, start to exit | seconds (median) | range |")
    print("|---|---:|---:|")
    for label, values in seconds.items():
        print(f"| {label} | {statistics.median(values):.2f} | {min(values):.2f}–{max(values):.2f} |")
    print()
    imports, classic, one, twins = (seconds[label] for label, _ in rows[1:])
    for name, run in (("(iv)", one), ("(v)", twins)):
        # Per round, from that round's own processes: the drift between rounds cancels.
        whole = [c / r for c, r in zip(classic, run)]
        past_imports = [(c - i) / (r - i) for c, r, i in zip(classic, run, imports)]
        print(f"{name}: the classic loop takes {statistics.median(whole):.2f}× as long, start-up included "
              f"(range {min(whole):.2f}–{max(whole):.2f}); {statistics.median(past_imports):.2f}× after the imports "
              f"both pay, (ii) (range {min(past_imports):.2f}–{max(past_imports):.2f})")


PAUSE_STEP = 6000  # the record bench reads a run this far in: its train series thinned twice


def record_rows(ds, rounds: int, width: int) -> None:
    from bn_demo import record as rec
    from bn_demo.ui.layout import REFRESH_SECONDS

    tutorial = PRESETS["tutorial"].config().replace(steps=FULL_MNIST_STEPS)  # a whole tutorial run's cadences
    print(f"paused at step {PAUSE_STEP:,} of {FULL_MNIST_STEPS:,}; median of {rounds} reads\n")
    print("| run | read | ms | pickled bytes |\n|---|---|---:|---:|")
    for name, config in (("tutorial twins", tutorial), (f"3×{width} twins", tutorial.replace(hidden=(width,) * 3))):
        runner = Runner(config, dataset=ds)
        runner.set_pause_at(PAUSE_STEP)
        runner.start()

        def paused_at(step: int) -> None:
            while not (runner.status == "paused" and runner.experiment.step == step):  # noqa: B023
                time.sleep(0.05)

        def cost(read) -> tuple[float, int]:
            samples = []
            for _ in range(rounds):
                t0 = time.perf_counter()
                answer = read()
                samples.append(time.perf_counter() - t0)
            return statistics.median(samples) * 1000, len(pickle.dumps(answer))

        paused_at(PAUSE_STEP)
        per_refresh = round(runner.progress()["samples_per_second"] / config.batch_size * REFRESH_SECONDS)
        whole_ms, whole_bytes = cost(runner.record)
        print(f"| {name} | whole record | {whole_ms:.2f} | {whole_bytes:,} |")
        step = PAUSE_STEP
        for label, steps in (("1 step", 1), (f"{per_refresh} steps (one {REFRESH_SECONDS:g} s refresh)", per_refresh)):
            held = runner.record()
            runner.step(steps)
            step += steps
            paused_at(step)
            delta_ms, delta_bytes = cost(lambda: runner.record(since=held["cursor"]))  # noqa: B023
            merged_ms, _ = cost(lambda: rec.merge(held, runner.record(since=held["cursor"])))  # noqa: B023
            print(f"| {name} | delta after {label}: read / read and merged | {delta_ms:.2f} / {merged_ms:.2f} "
                  f"| {delta_bytes:,} |", flush=True)
        runner.stop()
        runner.join()


def stop_latency(ds) -> float:
    runner = Runner(PRESETS["tutorial"].config(), dataset=ds).start()
    while runner.progress()["step"] < 200:
        time.sleep(0.01)
    t0 = time.perf_counter()
    runner.stop()
    runner.join()
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=1.5, help="measuring time per cell and round")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; each cell reports the median")
    parser.add_argument("--data-dir")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="where the engine rows train")
    parser.add_argument("--only", choices=("tutorial", "wide", "summaries", "evaluation", "startup", "record"),
                        help="one part of the table")
    parser.add_argument("--widths", type=lambda text: [int(w) for w in text.split(",")], default=[512, 1024],
                        help="the wide rows' hidden widths (3 layers each)")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    if DEVICE == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch finds no CUDA device on this machine (torch.cuda.is_available() is False)")
    limit_torch_threads()  # every row runs with the engine's thread cap, so rows compare like with like
    gpu = f", {torch.cuda.get_device_name()}" if DEVICE == "cuda" else ""
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores{gpu}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads, python {platform.python_version()}, engine rows on {DEVICE}")
    if args.only == "summaries":
        summary_rows(args)
        return
    root, what = find_data(args.data_dir)
    if args.only == "startup":
        print(f"data: {what}; median of {args.rounds} interleaved rounds\n")
        startup_rows(root, args.rounds)
        return
    ds = load_dataset("mnist", root, download=False).to(DEVICE)
    print(f"data: {what}; median of {args.rounds} rounds × {args.seconds:g} s per cell\n")
    if args.only == "wide":
        wide_rows(ds, args)
        return
    if args.only == "record":
        record_rows(ds, args.rounds, args.widths[0])
        return
    if args.only == "evaluation":
        tutorial_eval_rows(ds, (32, 256), args.rounds)
        return
    summary_rows(args)
    tv_root = torchvision_root(root)
    print("model 784-32-32-10 ReLU + BN, Adam\n")
    rows = [
        ("(a) classic loop: torchvision + ToTensor + DataLoader", lambda b: classic_loop(tv_root, b, args.seconds)),
        ("(b) bare tensor-slicing loop (floor)", lambda b: bare_loop(ds, b, args.seconds)),
        ("(c) engine, one model, probes off", lambda b: engine_loop(ds, b, args.seconds, "bn", False)),
        ("(d) engine, one model, default probes", lambda b: engine_loop(ds, b, args.seconds, "bn", True)),
        ("(e) engine, BN + plain twins in lockstep, default probes", lambda b: engine_loop(ds, b, args.seconds, "both", True)),
    ]
    batches = (32, 256)
    results = medians(interleaved(rows, batches, args.rounds))
    print(f"| row | {' | '.join(f'samples/s @ batch {b}' for b in batches)} | {' | '.join(f'× (a) @ {b}' for b in batches)} |")
    print(f"|---|{'---:|' * (2 * len(batches))}")
    for label, _ in rows:
        speed = " | ".join(f"{results[label[:3]][b]:,.0f}" for b in batches)
        ratio = " | ".join(f"{results[label[:3]][b] / results['(a)'][b]:.1f}×" for b in batches)
        print(f"| {label} | {speed} | {ratio} |", flush=True)
    print()
    for b in batches:
        c = results["(c)"][b]
        print(f"batch {b}: (c)/(a) = {c / results['(a)'][b]:.1f}×, (d)/(c) = {results['(d)'][b] / c:.2f}, "
              f"(e)/(c) = {results['(e)'][b] / c:.2f}   (medians of {args.rounds} interleaved rounds)")
    tutorial_eval_rows(ds, batches, args.rounds, f" ({len(ds.test_y):,} held-out, {len(ds.train_y):,} per epoch)")
    print(f"stop latency (tutorial run, stop at step 200): {1000 * stop_latency(ds):.0f} ms")
    print()
    wide_rows(ds, args)
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          f"(threads alive now: {threading.active_count()})")


if __name__ == "__main__":
    main()
