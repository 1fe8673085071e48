import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from bn_demo import record
from bn_demo.data import IDX_FILES, load_digits, write_idx

REPO = Path(__file__).resolve().parents[1]
TEST_DATA_ENV = "BN_DEMO_TEST_DATA"  # CI points it at ../shared/data (the real MNIST test split)
SAVED = Path(__file__).resolve().parent / "data"  # saved run records (tests/data/make_records.py)


def saved_record(name: str) -> dict:
    return record.loads((SAVED / name).read_text())


@pytest.fixture(scope="session")
def digits():
    return load_digits()


# The training devices present: the CPU always, CUDA when torch finds it (its cases carry the `cuda`
# marker, so `-m cuda` runs just them and `-m "not cuda"` leaves them out).
DEVICES = [pytest.param("cpu", id="cpu")] + (
    [pytest.param("cuda", id="cuda", marks=pytest.mark.cuda)] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES)
def device(request):
    """Each device present in turn, for the engine properties that must hold on every one."""
    return request.param


@pytest.fixture
def digits_on(digits, device):
    """The offline digits on `device` (the runner moves a run's dataset to its device the same way)."""
    return digits.to(device)


@pytest.fixture(scope="session")
def shared_data_dir():
    path = os.environ.get(TEST_DATA_ENV)
    if not path or not (Path(path) / "MNIST" / "raw").is_dir():
        pytest.skip(f"real MNIST not available: set {TEST_DATA_ENV} to a folder holding MNIST/raw")
    return Path(path)


def make_idx_folder(root: Path, folder: str = "MNIST", n_train: int = 120, n_test: int = 40, seed: int = 0) -> Path:
    """Small IDX files in torchvision's layout (root/<folder>/raw/...), digit-like enough to learn:
    each class lights a different 4×4 patch, plus noise."""
    rng = np.random.RandomState(seed)
    raw = root / folder / "raw"
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.randint(0, 10, size=n).astype(np.uint8)
        images = rng.randint(0, 60, size=(n, 28, 28)).astype(np.uint8)
        for i, label in enumerate(labels):
            r, c = divmod(int(label), 5)
            images[i, 4 + 8 * r : 8 + 8 * r, 2 + 5 * c : 6 + 5 * c] = 255
        image_file, label_file, _ = IDX_FILES[split]
        write_idx(raw / image_file, images)
        write_idx(raw / label_file, labels)
    return raw


@pytest.fixture
def idx_root(tmp_path):
    make_idx_folder(tmp_path)
    return tmp_path


def run_to_end(exp):
    exp.begin()
    while not exp.done:
        exp.train_step()
    return exp


def assert_plain_data(obj, path="record"):
    """No live tensor may leave the engine."""
    assert not isinstance(obj, torch.Tensor), f"{path} is a torch.Tensor"
    if isinstance(obj, dict):
        for k, v in obj.items():
            assert_plain_data(v, f"{path}.{k}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            assert_plain_data(v, f"{path}[{i}]")


def wait_for(predicate, timeout=60.0):
    """Poll until predicate() holds; False on time-out (a generous bound, not a speed target)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


@contextlib.contextmanager
def standing_in_registries(monkeypatch, **defaults):
    """make(**kwargs): a one-slot server-wide registry (idle time-out 600 s, plus `defaults`) that stands in
    for the server's for the test; every one made is disposed of afterwards."""
    from bn_demo import sessions

    made = []

    def make(**kwargs):
        registry = sessions.SessionRegistry(**{"slots": 1, "idle_timeout": 600, **defaults, **kwargs})
        monkeypatch.setattr(sessions, "_default", registry)
        made.append(registry)
        return registry

    try:
        yield make
    finally:
        for registry in made:
            dispose_registry(registry)


@contextlib.contextmanager
def local_ray_cluster():
    """A local two-CPU Ray for the test module, as CI's machine has (no dashboard), shut down afterwards."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


def assert_file_round_trips(module, path) -> dict:
    """A seeds or sweep file (`module` seeds or sweep): load → dump gives the file back, summary included, and
    written again atomically it is the same text. Returns the JSON as written."""
    text = path.read_text()
    written = json.loads(text)
    doc = module.loads(text)
    assert json.loads(module.dumps(doc)) == written
    again = path.with_name("again.json")
    record.write_atomic(again, module.dumps(doc))
    assert again.read_text() == text
    return written


def assert_refused(loads, error, cases) -> None:
    """Each (text, code) of `cases` is refused by `loads` with an `error` of that code."""
    for text, code in cases:
        with pytest.raises(error) as info:
            loads(text)
        assert info.value.code == code, text[:80]


# The CLI in a fresh interpreter, reporting its exit code and whether it imported torch.
CLI_WRAPPER = """
import json, sys
from bn_demo.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "torch": "torch" in sys.modules}))
"""


def cli_in_subprocess(*args):
    """`python -m bn_demo ARGS` in a fresh interpreter: (the process, {"code", "torch": imported it})."""
    proc = subprocess.run([sys.executable, "-c", CLI_WRAPPER, *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    return proc, json.loads(proc.stdout.splitlines()[-1])


def dispose_registry(registry) -> None:
    """After a test's own server-wide registry: stop its runs and start its page sessions afresh (the
    page's session object outlives the registry)."""
    for runs in registry.owners():
        runs.forget()
    for runner in registry.runs():
        runner.stop()
