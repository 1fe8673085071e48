"""Write the saved run records the figure and page tests replay instead of training:

    python tests/data/make_records.py

Run it again when bn_demo/record.py's RECORD_VERSION changes (the tests refuse an old record).
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run as a script from anywhere: the repository's bn_demo

from bn_demo import record as rec  # noqa: E402
from bn_demo.config import RunConfig  # noqa: E402
from bn_demo.runner import Runner  # noqa: E402

SMALL = dict(dataset="digits", hidden=(16, 16), steps=60, probe_every=5, ics_every=10, eval_every=10, device="cpu")
RECORDS = {
    "run-compare.json": RunConfig(**SMALL),
    "run-plain.json": RunConfig(**SMALL, model="plain"),
    # the plain twin diverges at once (huge weights, huge steps); BN goes on
    "run-diverged.json": RunConfig(**SMALL, optimizer="sgd", lr=10.0, init="gaussian", init_std=5.0),
    # the high-lr preset's settings: every plain ReLU of a layer dies (a collapse)
    "run-collapsed.json": RunConfig(**{**SMALL, "hidden": (64, 64, 64), "steps": 120, "probe_every": 20, "ics_every": 40},
                                    optimizer="sgd", lr=2.0),
}

if __name__ == "__main__":
    for name, config in RECORDS.items():
        runner = Runner(config).start()
        runner.join()
        assert runner.status in ("finished", "diverged"), runner.status
        rec.write_atomic(HERE / name, rec.dumps(runner.record()))
        print("wrote", HERE / name)
