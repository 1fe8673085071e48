"""Per-session runs and process-wide data caches.

A session owns at most one live Runner plus the summaries of its last few finished runs. The Runner
trains in its own thread and never calls Streamlit; the page only reads `snapshot()`. The session's
object lives in `st.cache_resource(scope="session")`, whose release (the browser went away) stops
the session's run, so an abandoned tab never keeps a CPU busy. Every run is created in `start_run`,
the one place a server-wide slot limit can later be enforced.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
import weakref

import streamlit as st

from ..config import RunConfig
from ..data import DataUnavailable, dataset_state, resolve_data_dir
from ..runner import Runner
from ..sessions import default_registry

_sessions: weakref.WeakSet = weakref.WeakSet()  # every session's runs (tests, server-wide clean-up)
HISTORY_SIZE = 5  # finished runs a session keeps for overlays
ACTIVE = ("queued", "running", "paused")
REFRESHING = ("queued", "running")  # states in which the charts change
RETRY_DOWNLOAD_SECONDS = 300  # after a failed download, Start falls back at once for this long
PAST_POINTS = 200  # held-out points kept per past run
FIRST_POINT_WAIT = 1.5  # seconds a Start click may wait for the step-0 measurements (~0.05 s when warm)


class SessionRuns:
    def __init__(self):
        _sessions.add(self)
        self.session_id = uuid.uuid4().hex  # this session's key in the server-wide run registry
        self.lock = threading.Lock()
        self.runner: Runner | None = None
        self.preset: str = "tutorial"  # the preset the current run started from, for its label
        self.fallback: dict | None = None  # {"dataset": ..., "why": ...} when the run replaced an unavailable dataset
        self.history: collections.deque = collections.deque(maxlen=HISTORY_SIZE)
        self._archived: set[int] = set()

    @property
    def status(self) -> str | None:
        return self.runner.status if self.runner else None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def refreshing(self) -> bool:
        return self.status in REFRESHING

    def close(self) -> None:
        """Stop every run of this session and free its training slot."""
        default_registry().release(self.session_id)

    def forget(self) -> None:
        """Stop the run and drop the history (a fresh session, as tests need)."""
        self.close()
        with self.lock:
            self.runner, self.fallback = None, None
            self.history.clear()
            self._archived.clear()


def all_sessions() -> list[SessionRuns]:
    return list(_sessions)


def release_session(runs: SessionRuns) -> None:
    runs.close()


@st.cache_resource(scope="session", on_release=release_session, show_spinner=False)
def session_runs() -> SessionRuns:
    return SessionRuns()


# -- process-wide: loaded datasets and failed downloads ----------------------------------------------------

_cache_lock = threading.Lock()
_runners: weakref.WeakSet = weakref.WeakSet()  # every run this process started (tests, clean-up, slot limits)
_datasets: dict = {}  # (name, data dir, on-disk state) -> Dataset on the CPU, shared read-only by all runs
_unavailable: dict = {}  # (name, data dir) -> (time, message) of the last failed load


def _data_key(name: str, data_dir) -> tuple:
    return name, str(resolve_data_dir(data_dir))


def cached_dataset(name: str, data_dir=None):
    with _cache_lock:
        return _datasets.get((*_data_key(name, data_dir), dataset_state(name, data_dir)))


def remember_dataset(runner: Runner, data_dir=None) -> None:
    exp = runner.experiment
    if exp is None or exp.dataset.train_x.device.type != "cpu":
        return
    name = runner.config.dataset
    with _cache_lock:
        _datasets.setdefault((*_data_key(name, data_dir), dataset_state(name, data_dir)), exp.dataset)


def recent_failure(name: str, data_dir=None) -> str | None:
    with _cache_lock:
        failure = _unavailable.get(_data_key(name, data_dir))
    if failure and time.monotonic() - failure[0] < RETRY_DOWNLOAD_SECONDS:
        return failure[1]
    return None


def data_status(name: str, data_dir=None, runs: SessionRuns | None = None) -> tuple[str, str]:
    """(state, detail): offline / cached / partial / missing / unavailable / downloading."""
    if runs is not None and runs.active and runs.runner.experiment is None and runs.runner.config.dataset == name \
            and name != DataUnavailable.fallback:
        return "downloading", ""
    why = recent_failure(name, data_dir)
    if why:
        return "unavailable", why
    return dataset_state(name, data_dir), ""


def _warm_up() -> None:
    """The first run in a fresh process pays for importing scikit-learn and torch's lazy
    initialisation (several seconds on a small machine); pay it while the user reads the page."""
    from ..data import load_digits
    from ..model import build_twins, make_optimizer

    dataset = load_digits()
    with _cache_lock:
        _datasets.setdefault((*_data_key("digits", None), "offline"), dataset)
    config = RunConfig(dataset="digits", hidden=(8,))
    for model in build_twins(config, dataset.n_features, len(dataset.classes), "cpu").values():
        make_optimizer(config, model)  # the first optimizer imports torch._dynamo: seconds


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    thread = threading.Thread(target=_warm_up, name="bn-demo-warm-up", daemon=True)
    thread.start()
    return thread


# -- run life cycle ------------------------------------------------------------------------------------------


def start_run(runs: SessionRuns, config: RunConfig, data_dir=None, preset: str = "tutorial") -> Runner:
    """Create and start the session's run (stopping any previous one). The only place runs are made."""
    config = config.validate()
    fallback = None
    why = recent_failure(config.dataset, data_dir)
    if why:  # the download failed moments ago: do not make the learner wait for it to fail again
        fallback = {"dataset": config.dataset, "why": why}
        config = config.replace(dataset=DataUnavailable.fallback)
    registry = default_registry()
    with runs.lock:
        previous = runs.runner
    if previous is not None:  # free its slot first, so the new run does not queue behind it
        previous.stop()
        archive(runs, previous)
        registry.forget(runs.session_id, previous)
    # The registry starts the run under the server-wide slot limit: it queues when all are busy.
    runner = registry.start_run(runs.session_id, config, data_dir=data_dir,
                                dataset=cached_dataset(config.dataset, data_dir))
    _runners.add(runner)
    with runs.lock:
        runs.runner, runs.preset, runs.fallback = runner, preset, fallback
    return runner


def keep_alive(runs: SessionRuns) -> None:
    """The page is open: tell the registry, whose reaper stops runs of pages that went silent."""
    default_registry().touch(runs.session_id)


def queue_state(runner: Runner) -> dict:
    pool = default_registry().pool
    return {"position": runner.progress()["queue_position"], "busy": pool.active_count, "slots": pool.size}


def live_runners() -> list[Runner]:
    """Runs started by this process whose thread is still alive, oldest first."""
    return sorted((r for r in list(_runners) if r.alive), key=lambda r: r.run_id)


def latest_runner() -> Runner | None:
    runners = sorted(list(_runners), key=lambda r: r.run_id)
    return runners[-1] if runners else None


def has_first_point(runner: Runner | None) -> bool:
    """The run has its step-0 evaluation: there is something to plot."""
    exp = runner.experiment if runner is not None else None
    return exp is not None and any(len(t.evals) for t in exp.twins.values())


def wait_for_first_point(runner: Runner, timeout: float = FIRST_POINT_WAIT) -> None:
    """Hold the Start click's rerun briefly, so that when the data is at hand the page it draws
    already has the step-0 point instead of waiting a refresh period for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and runner.status in ACTIVE and not has_first_point(runner):
        time.sleep(0.02)


def fall_back_if_unavailable(runs: SessionRuns, data_dir=None) -> bool:
    """A run whose dataset could not be had is replaced by the same run on the offline dataset."""
    runner = runs.runner
    if runner is None or runner.status != "failed" or DataUnavailable.__name__ not in runner.message:
        return False
    why = runner.message.split(":", 1)[-1].strip()
    with _cache_lock:
        _unavailable[_data_key(runner.config.dataset, data_dir)] = (time.monotonic(), why)
    start_run(runs, runner.config, data_dir, runs.preset)
    return True


def reset(runs: SessionRuns) -> None:
    with runs.lock:
        runner, runs.runner, runs.fallback = runs.runner, None, None
    if runner is not None:
        runner.stop()
        archive(runs, runner)


def archive(runs: SessionRuns, runner: Runner, data_dir=None) -> None:
    """Keep a finished run's held-out curves for overlays (once per run)."""
    if runner.experiment is None or runner.run_id in runs._archived:
        return
    if not runner.ended:
        runner.join(timeout=2.0)
    remember_dataset(runner, data_dir)
    snap = runner.snapshot()
    if not snap.get("twins") or not any(len(tw["eval"]["step"]) for tw in snap["twins"].values()):
        return
    runs._archived.add(runner.run_id)
    runs.history.appendleft(past_run(snap, runs.preset))


def past_run(snap: dict, preset: str) -> dict:
    from .figures import thin_index

    twins = {}
    for name, twin in snap["twins"].items():
        held = twin["eval"]
        keep = thin_index(len(held["step"]), PAST_POINTS)
        twins[name] = {"step": held["step"][keep], "loss": held["loss"][keep], "acc": held["acc"][keep],
                       "final_acc": twin["final"]["test_acc"], "status": twin["status"]}
    return {"run_id": snap["run_id"], "preset": preset, "config": snap["config"], "status": snap["status"],
            "steps": snap["step"], "dataset": (snap.get("dataset") or {}).get("name", snap["config"]["dataset"]),
            "twins": twins}
