"""On the real MNIST test split (CI sets BN_DEMO_TEST_DATA to ../shared/data when it is there)."""

import pytest

from bn_demo.config import PRESETS
from bn_demo.data import load_dataset
from bn_demo.engine import Experiment
from bn_demo.ui.strings import split_label
from conftest import run_to_end

pytestmark = pytest.mark.realdata


def test_real_mnist_loads_and_is_labelled_honestly(shared_data_dir):
    ds = load_dataset("mnist", shared_data_dir, download=False)
    assert ds.train_x.shape == (8000, 784) and ds.test_x.shape == (2000, 784)
    assert split_label(ds.describe(), "train", "en") == "MNIST test[:8,000] (training split unavailable)"
    assert split_label(ds.describe(), "test", "en") == "MNIST test[8,000:] (2,000 held out)"
    assert sorted(set(ds.train_y.tolist())) == list(range(10))


def test_tutorial_preset_learns_real_mnist_in_one_epoch(shared_data_dir):
    ds = load_dataset("mnist", shared_data_dir, download=False)
    exp = run_to_end(Experiment(PRESETS["tutorial"].config(epochs=1), ds, "cpu"))
    final = exp.record_parts()["twins"]
    assert exp.step == 250
    assert final["bn"]["final"]["test_acc"] > 0.90, final["bn"]["final"]
    assert final["plain"]["final"]["test_acc"] > 0.80, final["plain"]["final"]
