"""The training engine: BN arithmetic, lockstep fairness, side-effect-free probes, metrics."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bn_demo import engine, probes
from bn_demo.config import RunConfig
from bn_demo.engine import Experiment
from bn_demo.model import MLP, batch_var, build_twins
from conftest import assert_plain_data, run_to_end


def small(**changes):
    base = dict(dataset="digits", hidden=(16, 16), steps=60, epochs=0, batch_size=32, probe_every=10,
                ics_every=20, eval_every=30, probe_size=128)
    return RunConfig(**{**base, **changes})


def test_bn_forward_matches_the_formula():
    torch.manual_seed(0)
    model = MLP(12, 3, RunConfig(hidden=(8,), activation="relu"), use_bn=True)
    with torch.no_grad():
        model.bns[0].weight.uniform_(0.5, 2.0)
        model.bns[0].bias.uniform_(-1.0, 1.0)
    x = torch.randn(32, 12)
    z = model.linears[0](x)
    mu, var = z.mean(0), z.var(0, unbiased=False)  # Algorithm 1: biased mini-batch variance
    gamma, beta, eps = model.bns[0].weight, model.bns[0].bias, model.bns[0].eps
    expected = gamma * (z - mu) / torch.sqrt(var + eps) + beta

    for mode in ("module", "batch"):
        rec = []
        model.train()
        model.run(x, bn_mode=mode, record=rec)
        torch.testing.assert_close(rec[0]["bn"], expected, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(rec[0]["act"], torch.relu(expected))

    # The training forward updated the running statistics exactly once, with the unbiased variance.
    bn = model.bns[0]
    torch.testing.assert_close(bn.running_mean, 0.1 * mu.detach())
    torch.testing.assert_close(bn.running_var, 0.9 * torch.ones(8) + 0.1 * z.var(0, unbiased=True).detach())
    # Eval mode normalises with the running statistics.
    rec = []
    model.run(x, bn_mode="running", record=rec)
    running = gamma * (z - bn.running_mean) / torch.sqrt(bn.running_var + eps) + beta
    torch.testing.assert_close(rec[0]["bn"], running, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,scale,offset", [((7, 256, 32), 1.0, 0.0), ((512, 512), 0.01, 3.0), ((3, 60, 24), 30.0, 1e3),
                                                ((1, 359, 40), 1e-3, 0.0), ((2, 7, 5), 1e4, 0.0), ((128, 16), 1.0, 100.0)])
def test_batch_var_is_torch_var_bitwise(shape, scale, offset):
    """The two-pass float64 variance gives torch.var's float32 values exactly, and under autograd torch.var
    itself runs (the ICS measurement's gradients keep its backward)."""
    g = torch.Generator().manual_seed(sum(shape))
    z = torch.randn(shape, generator=g) * scale + offset * torch.randn(shape[-1], generator=g)
    for unbiased in (False, True):
        with torch.no_grad():
            assert torch.equal(batch_var(z, unbiased), z.var(dim=-2, unbiased=unbiased, keepdim=True))
    w = z.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(batch_var(w).sum(), [w])
    v = z.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(v.var(dim=-2, unbiased=False, keepdim=True).sum(), [v])
    assert torch.equal(grad, want)


def test_bn_after_activation_normalises_the_activation():
    model = MLP(6, 2, RunConfig(hidden=(5,), bn_placement="after", activation="tanh"), use_bn=True)
    rec = []
    model.run(torch.randn(50, 6), bn_mode="batch", record=rec)
    out = rec[0]["bn"]
    torch.testing.assert_close(out.mean(0), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(rec[0]["act"], torch.tanh(rec[0]["linear"]))


def test_twins_start_identical_and_differ_only_by_bn():
    for init in ("default", "gaussian"):
        twins = build_twins(small(init=init, init_std=0.3), 64, 10, "cpu")
        bn, plain = twins["bn"], twins["plain"]
        for a, b in zip(bn.linears, plain.linears):
            assert torch.equal(a.weight, b.weight) and torch.equal(a.bias, b.bias)
        assert plain.bns is None and len(bn.bns) == 2
        extra = {k for k, _ in bn.named_parameters()} - {k for k, _ in plain.named_parameters()}
        assert extra == {"bns.0.weight", "bns.0.bias", "bns.1.weight", "bns.1.bias"}
    # Building twins does not move the global RNG stream.
    state = torch.get_rng_state()
    build_twins(small(), 64, 10, "cpu")
    assert torch.equal(state, torch.get_rng_state())


def test_twins_see_the_same_batches_in_the_same_order(digits_on, device):
    exp = Experiment(small(steps=25), digits_on, device, probes_on=False)
    seen = {"bn": [], "plain": []}
    for name, twin in exp.twins.items():
        # model(x) is the training call; probes and evaluation use model.run directly.
        twin.model.register_forward_pre_hook(lambda mod, args, name=name: seen[name].append(args[0].clone()))
    run_to_end(exp)
    assert len(seen["bn"]) == len(seen["plain"]) == 25
    assert all(torch.equal(a, b) for a, b in zip(seen["bn"], seen["plain"]))
    assert not torch.equal(seen["bn"][0], seen["bn"][1])


def test_twins_never_influence_each_other(digits_on, device):
    """Each twin trained alone gets bitwise the losses it gets in a lockstep run."""
    both = run_to_end(Experiment(small(steps=40), digits_on, device, probes_on=False))
    for name in ("bn", "plain"):
        alone = run_to_end(Experiment(small(steps=40, model=name), digits_on, device, probes_on=False))
        assert [r[1] for r in alone.twins[name].train.items()] == [r[1] for r in both.twins[name].train.items()]


def test_batch_stream_is_a_seeded_permutation_per_epoch(digits):
    exp = Experiment(small(), digits, "cpu", probes_on=False)
    per_epoch = exp.steps_per_epoch
    first = [exp.next_batch()[1] for _ in range(per_epoch)]
    labels = torch.cat(first)
    assert len(labels) == per_epoch * 32  # no example twice within an epoch (the tail is dropped)
    again = Experiment(small(), digits, "cpu", probes_on=False)
    assert all(torch.equal(a, again.next_batch()[1]) for a in first)
    other_seed = Experiment(small(seed=2), digits, "cpu", probes_on=False)
    assert not torch.equal(first[0], other_seed.next_batch()[1])


def _losses(exp):
    return {name: [r[1] for r in t.train.items()] for name, t in exp.twins.items()}


@pytest.mark.parametrize("activation,placement", [("relu", "before"), ("tanh", "after")])
def test_observation_does_not_change_the_experiment(digits_on, device, activation, placement):
    cfg = small(steps=60, activation=activation, bn_placement=placement, probe_every=5, ics_every=7,
                eval_every=9, optimizer="momentum", lr=0.05)
    observed = run_to_end(Experiment(cfg, digits_on, device, probes_on=True))
    blind = run_to_end(Experiment(cfg, digits_on, device, probes_on=False))
    assert len(observed.twins["bn"].probes) > 5 and len(observed.twins["bn"].ics) > 5
    assert _losses(observed) == _losses(blind)  # bitwise: Python floats compared exactly
    bn_seen, bn_blind = observed.twins["bn"].model.bns, blind.twins["bn"].model.bns
    for a, b in zip(bn_seen, bn_blind):
        assert torch.equal(a.running_mean, b.running_mean) and torch.equal(a.running_var, b.running_var)
        assert int(a.num_batches_tracked) == int(b.num_batches_tracked) == 60


def test_runs_are_deterministic(digits_on, device):
    """The same config on the same device gives bitwise the same losses, accuracies and probes."""
    cfg = small(steps=40, probe_every=10, ics_every=20)
    first, second = (run_to_end(Experiment(cfg, digits_on, device)) for _ in range(2))
    assert _losses(first) == _losses(second)
    for name in first.twins:
        assert first.twins[name].train.items() == second.twins[name].train.items()
        a, b = first.record_parts()["twins"][name]["probes"], second.record_parts()["twins"][name]["probes"]
        for layer_a, layer_b in zip(a["layers"], b["layers"]):
            for kind in layer_a:
                if isinstance(layer_a[kind], dict):
                    for key, value in layer_a[kind].items():
                        np.testing.assert_array_equal(value, layer_b[kind][key])


def test_histograms_and_percentiles(digits_on, device):
    exp = run_to_end(Experiment(small(steps=30), digits_on, device))
    snap = exp.record_parts()
    probe_size = snap["probe"]["size"]
    for name, twin in snap["twins"].items():
        for i, layer in enumerate(twin["probes"]["layers"]):
            width = exp.config.hidden[i]
            kinds = {"linear", "act"} | ({"bn"} if name == "bn" else set())
            assert kinds <= set(layer)
            for kind in kinds:
                h = layer[kind]
                assert len(h["edges"]) == probes.N_BINS + 1 and np.all(np.diff(h["edges"]) > 0)
                totals = h["counts"].sum(axis=1) + h["under"] + h["over"] + h["nonfinite"]
                assert np.all(totals == probe_size * width)
                # Same edges for both twins: histograms share an axis.
                if kind != "bn":
                    assert np.array_equal(h["edges"], snap["twins"]["plain"]["probes"]["layers"][i][kind]["edges"])
    # Percentiles equal numpy's (linear interpolation) on the very values the probe saw.
    rec = []
    model = exp.twins["plain"].model
    with torch.no_grad():
        model.run(exp.probe_x, bn_mode="batch", record=rec)
    values = rec[1]["linear"].cpu().numpy().ravel()
    summary = probes.summarize(rec[1]["linear"], exp.edges[(1, "linear")])
    np.testing.assert_allclose(summary["percentiles"], np.percentile(values, probes.TB_PERCENTILES), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(summary["paper_percentiles"], np.percentile(values, probes.PAPER_PERCENTILES), rtol=1e-5, atol=1e-6)
    counts, _ = np.histogram(values, bins=exp.edges[(1, "linear")])
    assert np.array_equal(summary["counts"], counts)


def test_histogram_counts_under_and_overflow():
    edges = np.linspace(-1, 1, probes.N_BINS + 1)
    values = torch.tensor([[-5.0, -1.0, 0.0, 1.0, 3.0, float("nan")]])
    s = probes.summarize(values, edges)
    assert s["under"] == 1 and s["over"] == 1 and s["nonfinite"] == 1 and s["counts"].sum() == 3
    assert s["counts"][0] == 1 and s["counts"][-1] == 1  # the last edge is inclusive, like numpy


def test_unit_percentiles_and_inactive_share():
    torch.manual_seed(0)
    values = torch.randn(200, 4)
    np.testing.assert_allclose(probes.unit_percentiles(values),
                               np.percentile(values.numpy(), [15, 50, 85], axis=0).T, rtol=1e-5, atol=1e-6)
    act = torch.relu(torch.tensor([[1.0, 0.0, -1.0], [2.0, 0.0, 0.5]]))
    assert probes.inactive_share("relu", act) == pytest.approx(1 / 3)  # only the middle unit is dead
    assert probes.inactive_share("sigmoid", torch.tensor([[0.5, 0.99], [0.01, 0.5]])) == 0.5


def test_ics_measures_have_the_right_form(digits):
    exp = run_to_end(Experiment(small(steps=60, ics_every=10), digits, "cpu"))
    snap = exp.record_parts()
    for twin in snap["twins"].values():
        ics = twin["ics"]
        assert list(ics["step"]) == [10, 20, 30, 40, 50, 60]
        assert ics["l2"].shape == ics["cos"].shape == (6, 2)
        assert np.all(np.isfinite(ics["l2"])) and np.all(ics["l2"] >= 0)
        assert np.all(ics["cos"] <= 1 + 1e-6) and np.all(ics["cos"] >= -1 - 1e-6)
        assert np.all(ics["l2"] > 0)  # earlier layers did move: G′ differs from G


def test_ics_first_layer_matches_gradient_definition(digits):
    """G′ for a layer whose predecessors are put back at their old values equals G: checks that the
    functional forward reproduces the training gradient exactly (the basis of the ICS measure)."""
    exp = Experiment(small(), digits, "cpu", probes_on=False)
    model = exp.twins["bn"].model
    x, y = exp.next_batch()
    model.train()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    g = model.linears[1].weight.grad.clone()
    params = {k: p.detach().clone() for k, p in model.named_parameters()}
    w = params["linears.1.weight"] = params["linears.1.weight"].requires_grad_(True)
    (g_functional,) = torch.autograd.grad(F.cross_entropy(model.run(x, bn_mode="batch", params=params), y), [w])
    torch.testing.assert_close(g, g_functional, rtol=1e-5, atol=1e-7)


def test_metrics_train_and_held_out(digits):
    exp = run_to_end(Experiment(small(steps=90, eval_every=30), digits, "cpu"))
    snap = exp.record_parts()
    bn = snap["twins"]["bn"]
    assert list(bn["train"]["step"]) == list(range(1, 91))
    assert np.all((bn["train"]["acc"] >= 0) & (bn["train"]["acc"] <= 1))
    # Evaluations at step 0, every eval_every steps, and at each epoch end (44 steps per epoch).
    assert set(bn["eval"]["step"]) == {0, 30, 44, 60, 88, 90}
    assert np.all(np.isfinite(bn["eval"]["acc_batch_stats"]))
    assert np.all(np.isnan(snap["twins"]["plain"]["eval"]["acc_batch_stats"]))
    assert bn["final"]["test_acc"] > 0.5 and bn["final"]["test_acc"] == bn["eval"]["acc"][-1]
    # Evaluation touches nothing: a second evaluation gives the same numbers and the model stays in train mode.
    exp.evaluate()
    again = exp.record_parts()["twins"]["bn"]["eval"]
    assert again["acc"][-1] == bn["eval"]["acc"][-1] and again["loss"][-1] == bn["eval"]["loss"][-1]
    assert exp.twins["bn"].model.training
    assert_plain_data(snap)


def _plain_evaluation(model, x, y, batch: int, chunk: int):
    """The evaluation written plainly: eval mode chunk by chunk (the loss summed per chunk, then in order),
    then batch statistics on each held-out mini-batch alone."""
    with torch.no_grad():
        model.eval()
        loss, correct = 0.0, 0
        for start in range(0, len(y), chunk):
            logits = model.run(x[start : start + chunk], bn_mode="running")
            loss += float(F.cross_entropy(logits, y[start : start + chunk], reduction="sum"))
            correct += int((logits.argmax(dim=1) == y[start : start + chunk]).sum())
        gallery = model.run(x[: engine.GALLERY_SIZE], bn_mode="running").argmax(dim=1).cpu().numpy()
        groups = len(y) // batch
        in_batches = sum(int((model.run(x[g * batch : (g + 1) * batch], bn_mode="batch").argmax(dim=1)
                              == y[g * batch : (g + 1) * batch]).sum()) for g in range(groups))
        model.train()
    return loss / len(y), correct / len(y), in_batches / (groups * batch) if model.use_bn else math.nan, gallery


@pytest.mark.parametrize("batch,chunk", [(32, 100), (50, 8192), (359, 64)])
def test_evaluation_equals_its_plain_definition(digits_on, device, monkeypatch, batch, chunk):
    """One first-Linear pass serves eval mode and batch statistics, held-out mini-batches run across chunk
    boundaries, sums reach the host once: the numbers are bitwise those of the plain definition."""
    monkeypatch.setattr(engine, "EVAL_CHUNK", chunk)
    cfg = small(steps=20, batch_size=batch, model="arms", arms=("bn", "plain", "layernorm", "noisy-bn"),
                eval_every=10**6)
    exp = Experiment(cfg, digits_on, device, probes_on=False)
    for _ in range(20):
        exp.train_step()
    exp.evaluate()
    x, y = digits_on.test_x, digits_on.test_y
    for twin in exp.twins.values():
        loss, acc, acc_batch, gallery = _plain_evaluation(twin.model, x, y, batch, chunk)
        assert twin.evals.items()[-1][2:] == pytest.approx((loss, acc, acc_batch), rel=0, abs=0, nan_ok=True)
        assert twin.gallery[0] == 20 and np.array_equal(twin.gallery[1], gallery)
        assert twin.model.training


def test_divergence_is_reported_not_raised(digits_on, device):
    cfg = small(steps=80, optimizer="sgd", lr=8.0, init="gaussian", init_std=0.5, hidden=(32, 32))
    exp = run_to_end(Experiment(cfg, digits_on, device))
    plain, bn = exp.twins["plain"], exp.twins["bn"]
    assert plain.status == "diverged" and plain.diverged_at_step is not None
    assert plain.reason in ("nan", "inf", "exploded")
    assert bn.status == "finished" and exp.step == 80  # the other twin carried on
    assert math.isfinite(exp.record_parts()["twins"]["bn"]["final"]["test_loss"])
    # The diverged twin's history stops at its divergence step.
    assert exp.record_parts()["twins"]["plain"]["train"]["step"][-1] == plain.diverged_at_step


def test_a_collapse_of_all_relus_is_stated_and_training_goes_on(digits):
    cfg = small(steps=120, hidden=(64, 64, 64), optimizer="sgd", lr=2.0)  # the high-lr preset's settings
    exp = run_to_end(Experiment(cfg, digits, "cpu"))
    plain, bn = exp.record_parts()["twins"]["plain"], exp.record_parts()["twins"]["bn"]
    assert plain["collapsed_at_step"] is not None and plain["collapsed_layers"]
    assert all(0 <= i < 3 for i in plain["collapsed_layers"])
    assert plain["status"] == "finished" and exp.step == 120  # stated, not enforced
    assert bn["collapsed_at_step"] is None and bn["final"]["test_acc"] > 0.8
    assert plain["final"]["test_acc"] < 0.3
