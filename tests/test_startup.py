"""Issue 12 item 6, the user path's start-up: a run on IDX files already on disk reads them with NumPy and
never imports torchvision (whose import pulls in torch._dynamo), yet loads exactly what torchvision's own
reader loads, with the same md5 table and the same files refused."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torchvision.datasets as tvd
from torchvision.datasets.mnist import read_image_file, read_label_file

from bn_demo import data
from bn_demo.data import GZ_MD5, IDX_FILES, DataUnavailable, read_idx_split, write_idx
from bn_demo.record import library_versions
from conftest import REPO, make_idx_folder


def torchvision_split(raw, split):
    """The loader's conversion applied to torchvision's reader: what data.py returned before it read
    the files itself."""
    image_file, label_file, _ = IDX_FILES[split]
    images, labels = read_image_file(str(raw / image_file)), read_label_file(str(raw / label_file))
    return images.reshape(len(images), -1).to(torch.float32).div_(255.0), labels.to(torch.int64)


def assert_bitwise_equal(ours, theirs):
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype and a.shape == b.shape and a.is_contiguous()
        assert torch.equal(a.view(torch.int32) if a.is_floating_point() else a,
                           b.view(torch.int32) if b.is_floating_point() else b)


def test_the_md5_table_is_torchvisions():
    assert GZ_MD5 == {folder: dict(getattr(tvd, folder).resources) for folder, _ in data.TORCHVISION_SETS.values()}


@pytest.mark.parametrize("folder", ["MNIST", "FashionMNIST"])
def test_the_loader_equals_torchvisions_reader(tmp_path, folder):
    raw = make_idx_folder(tmp_path, folder=folder, n_train=130, n_test=45, seed=3)
    for split in IDX_FILES:
        assert_bitwise_equal(read_idx_split(raw, split, "mnist"), torchvision_split(raw, split))


def test_the_loader_equals_torchvisions_reader_on_real_mnist(shared_data_dir):
    raw = shared_data_dir / "MNIST" / "raw"
    assert_bitwise_equal(read_idx_split(raw, "test", "mnist"), torchvision_split(raw, "test"))


def _torchvision_refuses(path, reader) -> bool:
    try:
        reader(str(path))
    except Exception:
        return True
    return False


LABELS = np.arange(40, dtype=np.uint8) % 10
HEADER = bytes([0, 0, 8, 1]) + (40).to_bytes(4, "big")
MALFORMED_LABEL_FILES = {
    "well formed": HEADER + LABELS.tobytes(),
    "empty": b"",
    "magic only": HEADER[:4],
    "header cut short": HEADER[:6],
    "no data": HEADER,
    "zero labels": bytes([0, 0, 8, 1]) + (0).to_bytes(4, "big"),
    "one byte short": HEADER + LABELS.tobytes()[:-1],
    "one byte over": HEADER + LABELS.tobytes() + b"\0",
    "int8 type": bytes([0, 0, 9, 1]) + HEADER[4:] + LABELS.tobytes(),
    "int16 type": bytes([0, 0, 11, 1]) + HEADER[4:] + bytes(80),
    "nonzero first byte": bytes([1, 0, 8, 1]) + HEADER[4:] + LABELS.tobytes(),
    "two dimensions": bytes([0, 0, 8, 2]) + (4).to_bytes(4, "big") + (10).to_bytes(4, "big") + LABELS.tobytes(),
    "text": b"not an idx file at all",
}


@pytest.mark.parametrize("case", MALFORMED_LABEL_FILES)
def test_the_same_label_files_are_refused(tmp_path, case):
    raw = make_idx_folder(tmp_path)
    path = raw / "t10k-labels-idx1-ubyte"
    path.write_bytes(MALFORMED_LABEL_FILES[case])
    refused = _torchvision_refuses(path, read_label_file)
    assert refused == (case != "well formed")
    if refused:
        with pytest.raises(DataUnavailable) as err:
            read_idx_split(raw, "test", "mnist")
        assert (err.value.problem, err.value.facts["file"]) == ("unreadable", path.name)
    else:
        assert_bitwise_equal(read_idx_split(raw, "test", "mnist"), torchvision_split(raw, "test"))


@pytest.mark.parametrize(("shape", "problem"), [
    ((40, 28, 28), None), ((40, 784), "unreadable"), ((40, 1, 28, 28), "unreadable"), ((40, 28, 27), "wrong_shape")])
def test_the_same_image_files_are_refused(tmp_path, shape, problem):
    raw = make_idx_folder(tmp_path)
    path = raw / "t10k-images-idx3-ubyte"
    write_idx(path, np.arange(np.prod(shape)).reshape(shape))
    # torchvision's reader takes three dimensions only; a wrong image size is read, then refused
    assert _torchvision_refuses(path, read_image_file) == (problem == "unreadable")
    if problem is None:
        assert_bitwise_equal(read_idx_split(raw, "test", "mnist"), torchvision_split(raw, "test"))
        return
    with pytest.raises(DataUnavailable) as err:
        read_idx_split(raw, "test", "mnist")
    assert (err.value.problem, err.value.facts["file"]) == (problem, path.name)


def test_the_record_reads_torchvisions_version_without_importing_it():
    assert library_versions()["torchvision"] == importlib.metadata.version("torchvision")


def test_a_run_on_files_on_disk_never_imports_torchvision(tmp_path):
    make_idx_folder(tmp_path, n_train=120, n_test=40)
    program = textwrap.dedent(f"""
        import sys
        from bn_demo.config import PRESETS
        from bn_demo.data import load_dataset
        from bn_demo.engine import Experiment
        from bn_demo.record import library_versions

        ds = load_dataset("mnist", {str(tmp_path)!r}, download=True)  # all four files there: nothing to fetch
        exp = Experiment(PRESETS["tutorial"].config(steps=5), ds, "cpu")
        exp.begin()
        while not exp.done:
            exp.train_step()
        library_versions()
        assert exp.step == 5 and ds.partial is None
        assert "torchvision" not in sys.modules, sorted(m for m in sys.modules if m.startswith("torchvision"))
    """)
    done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
