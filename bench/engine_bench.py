"""Engine throughput on this machine: one table, one process, same model everywhere.

    python bench/engine_bench.py [--seconds 4] [--data-dir ../shared/data]

Rows (784-32-32-10 ReLU MLP with BN, Adam lr 0.01, the tutorial model):
  (a) the classic tutorial loop: torchvision MNIST + ToTensor + DataLoader
  (b) a bare tensor-slicing loop: the floor any engine pays
  (c) the engine, one model (BN), probes off
  (d) the engine, one model, default probes
  (e) the engine, BN and plain twins in lockstep, default probes
plus one full held-out evaluation vs one epoch, stop latency and peak memory.
Data: the real MNIST test split when available (train on test[:8000]), else synthetic IDX files.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bn_demo.config import PRESETS  # noqa: E402
from bn_demo.data import IDX_FILES, load_dataset, write_idx  # noqa: E402
from bn_demo.engine import Experiment  # noqa: E402
from bn_demo.model import build_twins, make_optimizer  # noqa: E402
from bn_demo.runner import Runner, limit_torch_threads  # noqa: E402

FULL_MNIST_STEPS = PRESETS["tutorial"].config().total_steps(60_000)  # cadences as in a real tutorial run


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
    model = build_twins(cfg, 784, 10, "cpu")["bn"]
    opt = make_optimizer(cfg, model)
    n = len(ds.train_y)
    g = torch.Generator().manual_seed(0)
    state = {"order": torch.randperm(n, generator=g), "pos": 0}

    def step():
        if state["pos"] + batch > n:
            state["order"], state["pos"] = torch.randperm(n, generator=g), 0
        idx = state["order"][state["pos"] : state["pos"] + batch]
        state["pos"] += batch
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(ds.train_x[idx]), ds.train_y[idx])
        loss.backward()
        opt.step()

    return timed(step, seconds) * batch


def engine_loop(ds, batch: int, seconds: float, model: str, probes_on: bool) -> float:
    cfg = PRESETS["tutorial"].config(batch_size=batch, model=model, steps=FULL_MNIST_STEPS * 32 // batch, epochs=0)
    exp = Experiment(cfg, ds, "cpu", probes_on=probes_on)
    exp.begin()
    return timed(exp.train_step, seconds) * batch


def eval_vs_epoch(ds, batch: int) -> tuple[float, float]:
    """One full evaluation (both twins, eval mode + the BN twin's batch-statistics accuracy) vs one
    epoch of lockstep training steps alone (no evaluations or probes inside the timed epoch)."""
    cfg = PRESETS["tutorial"].config(batch_size=batch, model="both", epochs=2, eval_every=10**6)
    exp = Experiment(cfg, ds, "cpu", probes_on=False)
    exp.evaluate()
    t0 = time.perf_counter()
    reps = 5
    for _ in range(reps):
        exp.evaluate()
    evaluation = (time.perf_counter() - t0) / reps
    steps = exp.steps_per_epoch - 1  # the epoch's last step would trigger the epoch-end evaluation
    t0 = time.perf_counter()
    for _ in range(steps):
        exp.train_step()
    return evaluation, (time.perf_counter() - t0) * exp.steps_per_epoch / steps


def stop_latency(ds) -> float:
    runner = Runner(PRESETS["tutorial"].config(), dataset=ds).start()
    while runner.record()["progress"]["step"] < 200:
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
    args = parser.parse_args()
    limit_torch_threads()  # every row runs with the engine's thread cap, so rows compare like with like
    root, what = find_data(args.data_dir)
    ds = load_dataset("mnist", root, download=False)
    tv_root = torchvision_root(root)

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{torch.get_num_threads()} torch threads, python {platform.python_version()}")
    print(f"data: {what}; model 784-32-32-10 ReLU + BN, Adam; median of {args.rounds} rounds × {args.seconds:g} s per cell\n")
    rows = [
        ("(a) classic loop: torchvision + ToTensor + DataLoader", lambda b: classic_loop(tv_root, b, args.seconds)),
        ("(b) bare tensor-slicing loop (floor)", lambda b: bare_loop(ds, b, args.seconds)),
        ("(c) engine, one model, probes off", lambda b: engine_loop(ds, b, args.seconds, "bn", False)),
        ("(d) engine, one model, default probes", lambda b: engine_loop(ds, b, args.seconds, "bn", True)),
        ("(e) engine, BN + plain twins in lockstep, default probes", lambda b: engine_loop(ds, b, args.seconds, "both", True)),
    ]
    batches = (32, 256)
    # This machine's speed drifts by ±25 % from second to second (a shared VM), so every cell is
    # the median of `rounds` short measurements, with the rows interleaved within each round.
    samples = {label[:3]: {b: [] for b in batches} for label, _ in rows}
    for _ in range(args.rounds):
        for b in batches:
            for label, fn in rows:
                samples[label[:3]][b].append(fn(b))
    results = {k: {b: statistics.median(v) for b, v in per.items()} for k, per in samples.items()}
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
    for b in batches:
        evaluation, epoch = eval_vs_epoch(ds, b)
        print(f"batch {b}: one full evaluation of both twins ({len(ds.test_y):,} held-out) {1000 * evaluation:.1f} ms "
              f"vs one epoch ({len(ds.train_y):,} samples) {1000 * epoch:.0f} ms = {100 * evaluation / epoch:.1f} %")
    print(f"stop latency (tutorial run, stop at step 200): {1000 * stop_latency(ds):.0f} ms")
    print(f"peak resident memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          f"(threads alive now: {threading.active_count()})")


if __name__ == "__main__":
    main()
