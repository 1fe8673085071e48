"""The engine on every device present: summaries computed on the training device agree with NumPy,
per-step losses reach the host in fetch windows without changing the record, and a diverged twin
stops within one window. CPU cases always run; CUDA cases (marker `cuda`) when CUDA is present."""

import math

import numpy as np
import pytest
import torch

from bn_demo import engine, probes
from bn_demo.config import RunConfig
from bn_demo.engine import Experiment
from bn_demo.model import MLP, batch_var
from conftest import run_to_end

EDGES = np.linspace(-1, 1, probes.N_BINS + 1)


def small(**changes):
    base = dict(dataset="digits", hidden=(16, 16), steps=60, epochs=0, batch_size=32, probe_every=10,
                ics_every=20, eval_every=30, probe_size=128)
    return RunConfig(**{**base, **changes})


def _assert_same_summary(got: dict, want: dict) -> None:
    assert set(got) == set(want)
    for key in ("under", "over", "nonfinite"):
        assert got[key] == want[key], key
    np.testing.assert_array_equal(got["counts"], want["counts"])
    for key in ("percentiles", "paper_percentiles", "mean", "std"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=key)


def _numpy_reference(values: np.ndarray, edges: np.ndarray) -> dict:
    """The contract in plain NumPy: np.histogram on the finite values, np.percentile (linear)."""
    flat = values.ravel()
    finite = flat[np.isfinite(flat)]
    counts, _ = np.histogram(finite, bins=edges)
    empty = finite.size == 0
    pct = np.full(12, np.nan) if empty else np.percentile(finite.astype(np.float64), probes.ALL_PERCENTILES)
    return {"counts": counts, "under": int((finite < edges[0]).sum()), "over": int((finite > edges[-1]).sum()),
            "nonfinite": int(flat.size - finite.size), "percentiles": pct[:9], "paper_percentiles": pct[9:],
            "mean": math.nan if empty else float(finite.astype(np.float64).mean()),
            "std": math.nan if empty else float(finite.astype(np.float64).std())}


CASES = {
    "normal": lambda: torch.randn(512, 32),
    "wide": lambda: 0.4 * torch.randn(512, 512),
    "on_the_edges": lambda: torch.from_numpy(EDGES.astype(np.float32)).repeat(3),  # float32 values at float64 edges
    "nonfinite": lambda: torch.tensor([[-5.0, -1.0, 0.0, 1.0, 3.0, float("nan"), float("inf"), float("-inf")]]),
    "all_nan": lambda: torch.full((4, 2), float("nan")),
    "ties": lambda: torch.tensor([0.0] * 50 + [0.5] * 7),
}


@pytest.mark.parametrize("case", CASES)
def test_summaries_on_the_device_match_numpy(device, case):
    torch.manual_seed(0)
    values = CASES[case]().to(device)
    reference = _numpy_reference(values.cpu().numpy(), EDGES)
    _assert_same_summary(probes.summarize(values, EDGES), reference)
    # Both implementations, whichever one summarize() picks for this device.
    _assert_same_summary(probes._summarize_torch(values, EDGES), reference)
    _assert_same_summary(probes._summarize_numpy(values.cpu(), EDGES), reference)


def test_float32_search_edges_classify_like_the_float64_edges():
    edges = np.linspace(-1 / 3, 7 / 3, probes.N_BINS + 1)
    keys = probes.float32_search_edges(edges)
    near = np.concatenate([np.nextafter(edges.astype(np.float32), np.float32(s)) for s in (-np.inf, np.inf)]
                          + [edges.astype(np.float32)])
    for v in near:
        assert np.array_equal(v < keys[:-1], v.astype(np.float64) < edges)
        assert (v <= keys[-1]) == (v.astype(np.float64) <= edges[-1])


def test_unit_percentiles_on_the_device_match_numpy(device):
    torch.manual_seed(0)
    values = torch.randn(512, 48)
    np.testing.assert_allclose(probes.unit_percentiles(values.to(device)),
                               np.percentile(values.numpy(), probes.PAPER_PERCENTILES, axis=0).T, rtol=1e-5, atol=1e-6)


def test_units_sort_like_torch(device):
    values = torch.randn(512, 48, generator=torch.Generator().manual_seed(1))
    values[3, 5], values[7, 5] = float("nan"), float("-inf")
    values = values.to(device)
    want = torch.sort(values, dim=0).values
    assert torch.equal(probes.sort_units(values).nan_to_num(), want.nan_to_num())
    index = ((torch.arange(probes.UNIT_QUANTILES, dtype=torch.float64) + 0.5) * 512 / probes.UNIT_QUANTILES).long()
    assert torch.equal(probes.unit_quantiles(values).nan_to_num(), want[index.to(device)].nan_to_num())


def test_presorted_units_give_the_same_quantiles_and_percentiles(device):
    """The engine sorts a layer's units once for both: presorted values give exactly the unsorted call's."""
    values = torch.randn(300, 24, generator=torch.Generator().manual_seed(3)).to(device)
    ordered = probes.sort_units(values)
    assert torch.equal(probes.unit_quantiles(ordered, presorted=True), probes.unit_quantiles(values))
    assert np.array_equal(probes.unit_percentiles(ordered, presorted=True), probes.unit_percentiles(values))


def test_batch_var_is_the_devices_own_var(device):
    """model.batch_var gives torch.var's values bitwise on every device (off the CPU it is torch.var)."""
    g = torch.Generator().manual_seed(4)
    z = (torch.randn(3, 256, 40, generator=g) * 30 + 1e3 * torch.randn(40, generator=g)).to(device)
    with torch.no_grad():
        for unbiased in (False, True):
            assert torch.equal(batch_var(z, unbiased), z.var(dim=-2, unbiased=unbiased, keepdim=True))


def _assert_identical_summary(got: dict, want: dict) -> None:
    assert list(got) == list(want)
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value, err_msg=key)


@pytest.mark.parametrize("activation,placement,arm", [("relu", "before", "bn"), ("relu", "before", "plain"),
                                                      ("relu", "after", "bn"), ("tanh", "before", "bn")])
def test_a_layers_summaries_equal_one_summary_per_kind(device, activation, placement, arm):
    """summarize_layer reads a ReLU's sorted output off its input's sorted values: the same summaries."""
    cfg = RunConfig(hidden=(40, 40), activation=activation, bn_placement=placement)
    model = MLP(30, 10, cfg, arm=arm).to(device)
    x = torch.randn(256, 30, generator=torch.Generator().manual_seed(2)).to(device)
    edges = {"linear": EDGES * 3, "bn": EDGES * 4, "act": np.linspace(0, 3, probes.N_BINS + 1)}
    rec = []
    with torch.no_grad():
        model.run(x, bn_mode="batch", record=rec)
    rec[1]["linear"][0, :3] = torch.tensor([float("nan"), float("inf"), float("-inf")])  # finite ones only
    for layer in rec:
        got = probes.summarize_layer(layer, edges, activation, model.layer_input_kind)
        assert list(got) == [kind for kind in probes.KINDS if kind in layer]
        for kind, summary in got.items():
            _assert_identical_summary(summary, probes.summarize(layer[kind], edges[kind]))
    # A ReLU turns −inf into 0: with a non-finite input the output is summarised from its own values.
    layer = {"linear": torch.tensor([[float("-inf"), 1.0, -2.0]]).to(device)}
    layer["act"] = torch.relu(layer["linear"])
    got = probes.summarize_layer(layer, {"linear": EDGES, "act": EDGES}, "relu", "linear")
    assert got["act"]["nonfinite"] == 0 and got["act"]["counts"].sum() + got["act"]["over"] == 3


def test_the_cpu_fetches_every_step_an_accelerator_in_windows(digits_on, device):
    expected = 1 if device == "cpu" else engine.FETCH_STEPS
    assert Experiment(small(), digits_on, device).fetch_every == expected
    assert engine.FETCH_STEPS > 1 and 0 < engine.FETCH_SECONDS <= 0.25


def _train_rows(exp) -> dict:
    return {name: t.train.items() for name, t in exp.twins.items()}


@pytest.mark.parametrize("window", [1, 7, 1000])
def test_fetch_windows_leave_the_record_unchanged(digits_on, device, window):
    cfg = small(steps=50, probe_every=9, ics_every=18, eval_every=25)
    per_step = Experiment(cfg, digits_on, device)
    per_step.fetch_every = 1
    windowed = Experiment(cfg, digits_on, device)
    windowed.fetch_every = window
    run_to_end(per_step)
    run_to_end(windowed)
    assert _train_rows(per_step) == _train_rows(windowed)
    for name in per_step.twins:
        assert list(per_step.twins[name].recent) == list(windowed.twins[name].recent)
        assert per_step.twins[name].evals.items() == windowed.twins[name].evals.items()
    assert not windowed._pending


def test_losses_stay_on_the_device_between_fetches(digits_on, device):
    exp = Experiment(small(steps=50, probe_every=100, ics_every=100, eval_every=100), digits_on, device,
                     probes_on=False)
    exp.fetch_every = 10
    exp.begin()
    exp.train_step()
    exp.train_step()
    # Two steps of two twins wait on the device (unless the 0.25 s clock ran out on a slow machine).
    if exp._pending:
        assert len(exp._pending) == 4 and all(pair.device.type == torch.device(device).type
                                              for _, _, pair in exp._pending)
        assert len(exp.twins["bn"].train) == 0
    exp.fetch()
    assert not exp._pending and [r[0] for r in exp.twins["bn"].train.items()] == [1, 2]


@pytest.mark.parametrize("window", [1, 16])
def test_a_diverged_twin_stops_within_one_fetch_window(digits_on, device, window):
    cfg = small(steps=80, optimizer="sgd", lr=8.0, init="gaussian", init_std=0.5, hidden=(32, 32))
    reference = run_to_end(Experiment(cfg, digits_on, device))  # fetched every step on the CPU
    reference_step = reference.twins["plain"].diverged_at_step
    exp = Experiment(cfg, digits_on, device)
    exp.fetch_every = window
    forwards = []
    exp.twins["plain"].model.register_forward_pre_hook(lambda mod, args: forwards.append(exp.step))
    run_to_end(exp)
    plain, bn = exp.twins["plain"], exp.twins["bn"]
    assert plain.status == "diverged" and plain.diverged_at_step == reference_step  # the exact step
    assert plain.reason == reference.twins["plain"].reason
    assert plain.train.items() == reference.twins["plain"].train.items()  # later steps not counted
    assert plain.train.items()[-1][0] == reference_step
    assert max(forwards) - reference_step < window  # it stopped within the window
    assert bn.status == "finished" and bn.train.items() == reference.twins["bn"].train.items()
    record = exp.record_parts()["twins"]["plain"]
    assert record["diverged_at_step"] == reference_step and record["train"]["step"][-1] == reference_step
