"""Per-session page state, the run link, and process-wide data caches.

A session's runs live in the server-wide registry (bn_demo/sessions.py), the one place runs are
tracked: at most one current run per session, under the server's slot limit and per-run budget.
The page's object for the session keeps only summaries of its last few finished runs. The Runner
trains in its own thread and never calls Streamlit; the page only reads its `record()`, asking for
what changed since the copy the session holds (SessionRuns.record, record.merge). The session's
object lives in `st.cache_resource(scope="session")`, whose release (the browser went away) stops
the session's run and frees it, so an abandoned tab never keeps a CPU or memory busy.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid

import streamlit as st

from .. import record as rec
from ..config import RunConfig
from ..data import DataUnavailable, dataset_state, resolve_data_dir
from ..runner import ACTIVE, Runner
from ..sessions import default_registry

HISTORY_SIZE = 5  # finished runs a session keeps for overlays
REFRESHING = ("queued", "running")  # states in which the charts change
RETRY_DOWNLOAD_SECONDS = 300  # after a failed download, Start falls back at once for this long
PAST_POINTS = 200  # held-out points kept per past run
STATS_MAX_AGE = 2.0  # seconds a backend's slot count may be old on the page: one cluster query per refresh interval
FIRST_POINT_WAIT = 1.5  # seconds a Start click may wait for the step-0 measurements (~0.05 s when warm)
RUN_PARAM = "run"  # the link's key for the live run's token
LINK_CHECKED = "run_link_checked"  # session_state: the link's run token was read on this session's first run
LOST_RUN = "lost_run"  # session_state: why the run the link named ended ("released" / "idle"), until a new run


class SessionRuns:
    def __init__(self):
        self.session_id = uuid.uuid4().hex  # this session's key in the server-wide run registry
        self.lock = threading.Lock()
        self.preset: str = "tutorial"  # the preset the current run started from, for its label
        self.history: collections.deque = collections.deque(maxlen=HISTORY_SIZE)
        self._archived: set[int] = set()
        self._held: tuple[str, dict] | None = None  # (run token, its whole record as last read)

    @property
    def runner(self) -> Runner | None:
        return default_registry().run_of(self.session_id)

    @property
    def status(self) -> str | None:
        runner = self.runner
        return runner.status if runner else None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def refreshing(self) -> bool:
        return self.status in REFRESHING

    def record(self, runner: Runner) -> dict:
        """The run's whole record; the run sends only what changed since the one this session last read."""
        held = self._held[1] if self._held is not None and self._held[0] == runner.token else None
        whole = rec.merge(held, runner.record(since=held["cursor"] if held is not None else None))
        if whole is None:  # not a continuation of the copy held: read it whole
            whole = runner.record()
        self._held = (runner.token, whole)
        return whole

    def close(self) -> None:
        """The session is gone: stop its run and free it and its training slot."""
        self._held = None
        default_registry().release(self.session_id)

    def forget(self) -> None:
        """Stop the run and drop the history (a fresh session, as tests need)."""
        self.close()
        with self.lock:
            self.history.clear()
            self._archived.clear()


def all_sessions() -> list[SessionRuns]:
    """The page sessions that have started a run on this server (tests start each one afresh)."""
    return default_registry().owners()


def release_session(runs: SessionRuns) -> None:
    runs.close()


@st.cache_resource(scope="session", on_release=release_session, show_spinner=False)
def session_runs() -> SessionRuns:
    return SessionRuns()


# -- the run link -----------------------------------------------------------------------------------------


def take_run_link() -> None:
    """On the session's first page run, before the link's settings are read: `run` names a run, not a
    setting, so it is taken out of the URL. A link naming a run the server ended because its page
    went away (a laptop that slept, a lost connection) leaves a note for the page to show."""
    if LINK_CHECKED in st.session_state:
        return
    st.session_state[LINK_CHECKED] = True
    token = st.query_params.get(RUN_PARAM)
    if token is not None:
        del st.query_params[RUN_PARAM]
        reason = default_registry().ended_by_server(token)
        if reason:
            st.session_state[LOST_RUN] = reason


def link_run(runs: SessionRuns) -> None:
    """While the session's run is live the URL carries its token, so that a page coming back as a new
    session can tell what became of it. Call after the settings are written to the URL."""
    runner = runs.runner
    token = runner.token if runner is not None and runner.status in ACTIVE else None
    if st.query_params.get(RUN_PARAM) != token:
        if token is None:
            del st.query_params[RUN_PARAM]
        else:
            st.query_params[RUN_PARAM] = token


# -- process-wide: loaded datasets and failed downloads ----------------------------------------------------

_cache_lock = threading.Lock()
_datasets: dict = {}  # (name, data dir, on-disk state) -> Dataset on the CPU, shared read-only by all runs
_unavailable: dict = {}  # (name, data dir) -> (time, the record's error) of the last failed load


def _data_key(name: str, data_dir) -> tuple:
    return name, str(resolve_data_dir(data_dir))


def cached_dataset(name: str, data_dir=None):
    with _cache_lock:
        return _datasets.get((*_data_key(name, data_dir), dataset_state(name, data_dir)))


def remember_dataset(runner: Runner, data_dir=None) -> None:
    """Keep a loaded dataset for the next runs of this process (server-side state, not a view)."""
    dataset = runner.dataset
    if dataset is None or dataset.train_x.device.type != "cpu":
        return
    name = runner.config.dataset
    with _cache_lock:
        _datasets.setdefault((*_data_key(name, data_dir), dataset_state(name, data_dir)), dataset)


def recent_failure(name: str, data_dir=None) -> dict | None:
    """The error of this dataset's last failed load, while Start should not try it again."""
    with _cache_lock:
        failure = _unavailable.get(_data_key(name, data_dir))
    if failure and time.monotonic() - failure[0] < RETRY_DOWNLOAD_SECONDS:
        return failure[1]
    return None


def data_status(name: str, data_dir=None, runs: SessionRuns | None = None) -> tuple[str, dict | None]:
    """(state, the failed load's error or None): offline / cached / partial / missing / unavailable /
    downloading."""
    runner = runs.runner if runs is not None else None
    if runner is not None and runner.setting_up and runner.config.dataset == name and name != DataUnavailable.fallback:
        return "downloading", None
    error = recent_failure(name, data_dir)
    if error:
        return "unavailable", error
    return dataset_state(name, data_dir), None


_devices: list[str] | None = None  # what torch found, best first (the warm-up looks)


def found_devices() -> list[str] | None:
    """The training devices of this machine, best first; None until the warm-up has imported torch."""
    return _devices


# The warm-up waits this long first: the first visitor's browser is still laying out the page, and on a
# small server it shares the cores with the torch import (page open → Start visible on a fresh 2-core
# server: 3.0 s without the wait, 2.5 s with it; bench/app_bench.py --page).
WARM_UP_DELAY_SECONDS = 1.5


def _warm_up() -> None:
    """The first run in a fresh process pays for importing torch and scikit-learn and torch's lazy
    initialisation (several seconds on a small machine); pay it while the user reads the page, which
    is drawn without waiting for it."""
    global _devices
    time.sleep(WARM_UP_DELAY_SECONDS)
    from ..data import load_digits
    from ..model import available_devices, build_twins, make_optimizer

    _devices = available_devices()

    dataset = load_digits()
    with _cache_lock:
        _datasets.setdefault((*_data_key("digits", None), "offline"), dataset)
    config = RunConfig(dataset="digits", hidden=(8,))
    for model in build_twins(config, dataset.n_features, len(dataset.classes), "cpu").values():
        make_optimizer(config, model)  # the first optimizer imports torch._dynamo: seconds


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    # pandas first, here: the warm-up's imports reach it too, and Plotly, on the page's thread, takes a
    # half-imported pandas from sys.modules ("partially initialized module 'pandas'") if the two race.
    import pandas  # noqa: F401

    thread = threading.Thread(target=_warm_up, name="bn-demo-warm-up", daemon=True)
    thread.start()
    return thread


# -- run life cycle ------------------------------------------------------------------------------------------


# A run put on the offline digits keeps the planned run's length in steps, up to this many: ten epochs of the
# 1,438 digits are 440 steps, over in about 8 s with the page watching, before a class has looked (issue 10);
# the tutorial's 18,750 MNIST steps become 5,000, about half a minute on a 2-core machine.
FALLBACK_MAX_STEPS = 5_000


def fallback_config(config: RunConfig) -> RunConfig:
    """The same run on the offline dataset, as long (in steps) as it would have been, within FALLBACK_MAX_STEPS."""
    from ..data import IDX_FILES

    planned = config.steps or config.total_steps(IDX_FILES["train"][2])
    return config.replace(dataset=DataUnavailable.fallback, steps=min(planned, max(config.steps, FALLBACK_MAX_STEPS)))


def start_run(runs: SessionRuns, config: RunConfig, data_dir=None, preset: str = "tutorial") -> Runner:
    """Start the session's run through the server-wide registry, which queues it when every slot is
    busy, gives it the server's budget and lets go of the session's previous run."""
    config = config.validate()
    fallback = recent_failure(config.dataset, data_dir)
    if fallback:  # the download failed moments ago: do not make the learner wait for it to fail again
        config = fallback_config(config)
    previous = runs.runner
    if previous is not None:  # stopped first (its slot freed, so the new run does not queue behind it), kept for overlays
        previous.stop()
        archive(runs, previous)
    runner = default_registry().start_run(runs.session_id, config, owner=runs, data_dir=data_dir,
                                          dataset=cached_dataset(config.dataset, data_dir), fallback=fallback)
    with runs.lock:
        runs.preset = preset
    return runner


def keep_alive(runs: SessionRuns) -> None:
    """The page is open: tell the registry, whose reaper stops runs of pages that went silent."""
    default_registry().touch(runs.session_id)


def queue_state() -> dict:
    """The training slots runs wait for: how many are busy, and whose (backend "thread": this server's
    SlotPool; "ray": the cluster's CPUs)."""
    stats = default_registry().backend.stats(max_age=STATS_MAX_AGE)  # the thread backend's while Ray connects
    return {"busy": stats["slots"] - stats["free"], "slots": stats["slots"], "backend": stats["backend"]}


def backend_connecting() -> bool:
    """The backend asked for (Ray) is still being connected to."""
    return default_registry().connecting


def backend_state() -> dict | None:
    """For the teacher, when runs are to train anywhere but in this server's threads (BN_DEMO_BACKEND):
    the backend's name and its free slots, "connecting" while Ray starts, or the code of why the
    backend asked for could not be had (runs then train in threads). None on the default backend."""
    registry = default_registry()
    if registry.backend_error is not None:
        return {"error": registry.backend_error}
    if registry.connecting:
        return {"connecting": True}
    if registry.backend.name == "thread":
        return None
    return registry.backend.stats(max_age=STATS_MAX_AGE)


def live_runners() -> list[Runner]:
    """The sessions' current runs whose thread is still alive, oldest first."""
    return [r for r in default_registry().runs() if r.alive]


def latest_runner() -> Runner | None:
    """The newest of the sessions' current runs."""
    runners = default_registry().runs()
    return runners[-1] if runners else None


def wait_for_first_point(runner: Runner, timeout: float = FIRST_POINT_WAIT) -> None:
    """Hold the rerun right after Start briefly, so that when the data is at hand the page it draws
    already has the step-0 point (~0.05 s when the data is cached) instead of waiting a refresh for
    it. A run that waits in the queue for a slot cannot have a point soon: no wait then."""
    started = time.monotonic()
    while time.monotonic() - started < timeout and not runner.has_first_point and (
            runner.status == "running" or (runner.status == "queued" and time.monotonic() - started < 0.1)):
        time.sleep(0.02)


def fall_back_if_unavailable(runs: SessionRuns, data_dir=None) -> bool:
    """A run whose dataset could not be had is replaced by the same run on the offline dataset."""
    runner = runs.runner
    if runner is None or runner.status != "failed" or (runner.error or {}).get("code") != "data_unavailable":
        return False
    with _cache_lock:
        _unavailable[_data_key(runner.config.dataset, data_dir)] = (time.monotonic(), runner.error)
    start_run(runs, runner.config, data_dir, runs.preset)
    return True


def reset(runs: SessionRuns) -> None:
    """Stop the run, keep its curves for overlays, and have the registry free it: its networks,
    optimizers, history and slot."""
    runner = runs.runner
    if runner is not None:
        runner.stop()
        archive(runs, runner)
        default_registry().forget(runs.session_id, runner)
        runs._held = None  # that run's whole record: its curves live on in the history, if it had any


def archive(runs: SessionRuns, runner: Runner, data_dir=None) -> None:
    """Keep an ended run's held-out curves for overlays (once per run; stop() ends a run at once, so
    Reset and Start never wait for its thread here)."""
    if not runner.ended or runner.run_id in runs._archived:
        return
    remember_dataset(runner, data_dir)
    snap = runs.record(runner)
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
            "steps": snap["progress"]["step"], "dataset": (snap.get("dataset") or {}).get("name", snap["config"]["dataset"]),
            "twins": twins}
