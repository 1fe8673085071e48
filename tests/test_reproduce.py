"""Reproductions: Fig. 1's drift contrast, Santurkar's ICS and landscape measures, the commands' files.

The short run trains on the offline digits with the preset's optimizer (plain SGD) at lr 0.5 and init
σ 0.3. Digits have 64 inputs instead of 784, so σ 0.3 gives the first layer about the pre-activation
scale that σ 0.1 gives on MNIST; at the preset's σ 0.1 and lr 0.1 the plain twin does not learn in a
few hundred steps, and a stalled net's band proves nothing. Here both twins learn.
"""

import copy
import json
import math
import statistics
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bn_demo import reproduce as R
from bn_demo.cli import main as cli_main
from bn_demo.config import PRESETS, RunConfig
from bn_demo.engine import Experiment
from conftest import CLI_WRAPPER, REPO

STEPS = 300
SHORT = dict(lr=0.5, init_std=0.3)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """As the reproduce command does: on two shared cores, two torch threads spin against each other
    and these small twins train about 20× slower than on one."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def short_run(digits, one_thread):
    config = R.paper_config(steps=STEPS, dataset="digits", **SHORT)
    return R.run_twins(config, digits, probe_points=30, eval_points=10, ics_points=10,
                       landscape_at=R.landscape_steps(STEPS))


def test_preset_is_the_papers_setup():
    p = PRESETS["ioffe2015"].config()
    assert (p.hidden, p.activation, p.bn_placement, p.init, p.batch_size, p.steps) == (
        (100, 100, 100), "sigmoid", "before", "gaussian", 60, 50_000)
    assert (p.optimizer, p.lr, p.init_std) == ("sgd", 0.1, 0.1)
    config = R.paper_config(steps=500, dataset="digits")
    assert (config.steps, config.epochs, config.optimizer) == (500, 0, "sgd")


def test_plain_band_drifts_more_than_bn(short_run):
    """Drift from step 0 (no settling window, no twin as the reference): the plain net's last hidden layer
    moves its median about 20× as far as BN's, its units' bands widen about 5× while BN's stay within
    1.5×, and its histogram ends about 3× as far from where it started (W1). Measured at seed 1:
    layer shift −0.74 vs −0.04, unit median |shift| 1.09 vs 0.10, unit spread ratio 5.2 vs 1.3, W1 0.71 vs 0.23."""
    m = R.fig1_measures(short_run)
    bn, plain = m["twins"]["bn"], m["twins"]["plain"]
    # Both nets learned, so the contrast is between two working nets, not a stalled one.
    assert bn["final_accuracy"] > 0.85 and plain["final_accuracy"] > 0.85
    assert (bn["kind"], plain["kind"], m["layer"]) == ("bn", "linear", 2)
    assert bn["from_step"] == plain["from_step"] == 0
    b, p = bn["layer_drift"][-1], plain["layer_drift"][-1]
    assert b["step"] == p["step"] == STEPS
    assert abs(p["median_shift"]) > 5 * abs(b["median_shift"])
    assert p["w1"] > 2 * b["w1"] > 0
    assert b["outside"] == p["outside"] == 0  # W1 saw every value inside the bins: not a clipped lower bound
    assert plain["median_over_units"]["abs_median_shift"] > 5 * bn["median_over_units"]["abs_median_shift"]
    assert plain["median_over_units"]["spread_ratio"] > 3 > 1.5 > bn["median_over_units"]["spread_ratio"] > 0.7
    # The layer numbers are the record's own (record.drift at the last probe).
    assert b == {"step": STEPS, **{k: v for k, v in R.rec.drift(short_run["record"], "bn", 2).items()
                                   if k in (*R.rec.DRIFT_METRICS, "outside")}}
    # BN's band is γx̂+β: it starts near the standard normal's 15–85 spread (≈ 2.07) and stays near it.
    unit = bn["unit_drift"]
    assert 1.5 < unit["spread_start"] < 2.7 and 1.5 < unit["spread_end"] < 3.5
    assert unit["spread_ratio"] == pytest.approx(unit["spread_end"] / unit["spread_start"])
    band = plain["series"]["band"]
    assert band.shape == (len(plain["series"]["probe_step"]), 3)
    assert np.all(band[:, 0] <= band[:, 1]) and np.all(band[:, 1] <= band[:, 2])
    assert len(plain["series"]["w1"]) == len(plain["series"]["probe_step"]) and plain["series"]["w1"][0] == 0


def test_santurkar_measures_are_finite_and_of_the_right_form(short_run):
    m = R.santurkar_measures(short_run)
    assert m["layers"] == ["hidden 2", "hidden 3", "output"]
    marks = R.landscape_steps(STEPS)
    assert marks == [0, 6, 30, 75, 150, 300]
    for twin in m["twins"].values():
        l2, cos, rel = (np.asarray(twin["ics"][k]) for k in ("l2", "cos", "rel"))
        assert l2.shape == cos.shape == rel.shape == (10, 3)
        assert np.all(np.isfinite(rel)) and np.all(rel > 0)
        assert len(twin["ics_median"]["rel"]) == 3
        assert np.all(np.isfinite(l2)) and np.all(l2 >= 0)
        assert np.all(np.isfinite(cos)) and np.all(np.abs(cos) <= 1 + 1e-6)
        assert [rec["step"] for rec in twin["landscape"]] == marks
        for rec in twin["landscape"]:
            assert rec["eta"] == pytest.approx([0.5 * k for k in R.ETA_MULTIPLES])
            assert all(math.isfinite(v) for v in [rec["loss0"], *rec["loss"]])
            assert all(math.isfinite(v) and v >= 0 for v in rec["grad_change"])
            assert rec["grad_norm"] > 0 and rec["beta_smoothness"] >= 0 and rec["loss_variation"] >= 0
    c = m["comparison"]
    assert c["ratio"] == pytest.approx(c["bn"] / c["plain"]) and c["rel"]["ratio"] > 0
    assert set(c["phases"]) == set(R.rec.PHASES)
    table = R.santurkar_table(short_run, m)
    assert "‖G−G′‖ / ‖G‖" in table and "| learning |" in table and "| memorised |" in table
    # The untrained twins share their Linear weights but not their landscape: BN reparametrises it.
    first = {n: t["landscape"][0] for n, t in m["twins"].items()}
    assert first["bn"]["grad_norm"] != pytest.approx(first["plain"]["grad_norm"], rel=0.01)


def test_engine_ics_matches_the_definition():
    """Def. 2.1 recomputed independently: deep copies of the nets before and after one step, a hybrid
    with layers < i updated, ordinary nn.Module forward/backward on the same batch; ‖G − G′‖, the cosine
    and the relative ICS ‖G − G′‖ / ‖G‖ (G: the gradient before the update), also in the record's columns."""
    config = RunConfig(dataset="digits", hidden=(16, 16, 16), activation="sigmoid", optimizer="momentum",
                       lr=0.3, batch_size=32, steps=3, epochs=0, ics_every=1, probe_every=1, eval_every=3)
    from bn_demo.data import load_digits

    exp = Experiment(config, load_digits(), "cpu")
    exp.begin()
    for _ in range(2):  # momentum state is nonzero from the second step on
        exp.train_step()
    batches = []
    draw = exp.next_batch
    exp.next_batch = lambda: batches.append(draw()) or batches[-1]
    before = {n: copy.deepcopy(t.model) for n, t in exp.twins.items()}
    exp.train_step()
    x, y = batches[0]
    parts = exp.record_parts()
    for name, twin in exp.twins.items():
        step, l2, cos, rel = twin.ics.latest
        assert step == 3
        after = dict(twin.model.named_parameters())
        for i in range(1, len(config.hidden) + 1):
            grads = []
            for hybrid_of in ("G", "G'"):
                net = copy.deepcopy(before[name])
                if hybrid_of == "G'":
                    with torch.no_grad():
                        for pname, p in net.named_parameters():
                            if int(pname.split(".")[1]) < i:
                                p.copy_(after[pname])
                net.train()
                F.cross_entropy(net(x), y).backward()
                grads.append(net.linears[i].weight.grad)
            g, g_prime = grads
            assert l2[i - 1] == pytest.approx(float((g - g_prime).norm()), rel=1e-4, abs=1e-7), (name, i)
            expected_cos = float(F.cosine_similarity(g.reshape(1, -1), g_prime.reshape(1, -1)))
            assert cos[i - 1] == pytest.approx(expected_cos, abs=1e-5), (name, i)
            assert rel[i - 1] == pytest.approx(float((g - g_prime).norm() / g.norm()), rel=1e-4), (name, i)
            assert 0 < rel[i - 1] < 1  # one small step: G′ is near G, but not equal
        assert max(l2) > 0  # the step changed something: the test compares real differences
        columns = parts["twins"][name]["ics"]
        assert columns["rel"].shape == columns["l2"].shape == (3, 3)
        assert np.array_equal(columns["rel"][-1], rel) and columns["step"][-1] == step == 3


def test_landscape_is_pure_and_first_order_correct(digits):
    config = R.paper_config(steps=10, dataset="digits")
    model = Experiment(config, digits, "cpu").twins["bn"].model
    x, y = R.landscape_batch(digits, config)
    assert x.shape == (R.LANDSCAPE_GROUPS, 60, 64)
    state = copy.deepcopy(model.state_dict())  # weights and BN running statistics
    rec = R.landscape(model, x, y, [1e-4, 1e-3, 0.1])
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    assert all(p.grad is None for p in model.parameters())
    # L(w − ηg) ≈ L(w) − η‖g‖² for small η: the gradient is the gradient of the loss that is measured.
    predicted = rec["loss0"] - 1e-3 * rec["grad_norm"] ** 2
    assert rec["loss"][1] == pytest.approx(predicted, abs=0.05 * 1e-3 * rec["grad_norm"] ** 2)
    assert rec["grad_change"][0] < rec["grad_change"][1] < rec["grad_change"][2]


def test_band_drift_on_a_known_band():
    median = np.array([5.0, 0.0, 1.0, 0.0, 0.5])
    half = np.array([9.0, 1.0, 1.5, 2.0, 2.0])  # spread = 2·half
    band = np.stack([median - half, median, median + half], axis=1)
    d = R.band_drift(band)
    assert d["median_shift"] == pytest.approx([0, -5, -4, -5, -4.5])  # from step 0, the first probe
    assert d["spread_ratio"] == pytest.approx([1, 1 / 9, 1 / 6, 2 / 9, 2 / 9])
    # Sampling every other probe changes no value at the probes it keeps (Σ|Δp50| would: 11.5 vs 10.5).
    sparse = R.band_drift(band[::2])
    assert np.array_equal(sparse["median_shift"], d["median_shift"][::2])
    assert np.array_equal(sparse["spread_ratio"], d["spread_ratio"][::2])
    per_unit = R.band_drift(np.stack([band, band * 2], axis=1))
    assert per_unit["median_shift"][-1] == pytest.approx([-4.5, -9.0])
    assert per_unit["spread_ratio"][-1] == pytest.approx([2 / 9, 2 / 9])


def test_typical_unit_is_typical_in_both_twins():
    def bands(shifts):  # one probe at step 0 (medians 0), one at the end (medians = shifts)
        end = np.asarray(shifts, dtype=np.float64)
        return np.stack([np.stack([-np.ones(len(end)), np.zeros(len(end)), np.ones(len(end))], axis=1),
                         np.stack([end - 1, end, end + 1], axis=1)])

    assert R.typical_unit({"bn": bands([0.1, 1, 3]), "plain": bands([3, -1, 0.1])}) == 1
    # Ranks by |shift|: bn 0 1 2 3 4, plain 1 2 3 4 0: unit 1 and 2 are one rank off the middle at
    # worst; the lower index wins.
    assert R.typical_unit({"bn": bands([1, 2, 3, 4, 5]), "plain": bands([2, 3, 4, 5, 1])}) == 1
    assert R.typical_unit({"plain": bands([5, np.nan, 1])}) == 0  # NaN ranks last


def _files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_reproduce_fig1_writes_its_files(tmp_path, capsys):
    out = tmp_path / "fig1"
    assert cli_main(["reproduce", "fig1", "--steps", "20", "--dataset", "digits", "--out", str(out),
                     "--no-png", "--quiet"]) == 0
    assert _files(out) == ["fig1.html", "fig1.json", "fig1.md"]
    doc = json.loads((out / "fig1.json").read_text())
    assert doc["config"]["steps"] == 20 and doc["dataset"]["name"] == "digits"
    assert set(doc["measures"]["twins"]) == {"bn", "plain"}
    assert "plotly" in (out / "fig1.html").read_text().lower()
    printed = capsys.readouterr().out
    assert "held-out accuracy" in printed and "digits (offline) training part (1,438" in printed
    assert "| W1 to step 0 |" in printed and "travel" not in printed
    assert [d["step"] for d in doc["measures"]["twins"]["plain"]["layer_drift"]] == [20]


def test_reproduce_gives_mean_and_sd_over_its_seeds(tmp_path, capsys):
    """Three seeds by default; the over-seeds numbers are the mean and sample sd of each seed's own."""
    out = tmp_path / "seeds"
    assert cli_main(["reproduce", "fig1", "--steps", "20", "--dataset", "digits", "--out", str(out),
                     "--no-png", "--quiet"]) == 0
    doc = json.loads((out / "fig1.json").read_text())
    assert doc["seeds"] == [1, 2, 3] and doc["measures"]["twins"]["bn"]["from_step"] == 0
    alone = []
    for seed in (1, 2, 3):
        assert cli_main(["reproduce", "fig1", "--steps", "20", "--dataset", "digits", "--seeds", str(seed),
                         "--out", str(tmp_path / str(seed)), "--no-png", "--quiet"]) == 0
        alone.append(json.loads((tmp_path / str(seed) / "fig1.json").read_text())["measures"]["twins"])
    for twin in ("bn", "plain"):
        summary = doc["over_seeds"][twin]
        finals = [a[twin]["final_accuracy"] for a in alone]
        assert summary["final_accuracy"]["mean"] == pytest.approx(statistics.mean(finals), abs=1e-12)
        assert summary["final_accuracy"]["sd"] == pytest.approx(statistics.stdev(finals), abs=1e-12)
        w1 = [a[twin]["layer_drift"][-1]["w1"] for a in alone]
        assert summary["layer_drift_end"]["w1"]["mean"] == pytest.approx(statistics.mean(w1), abs=1e-12)
    assert "## Over seeds 1–3: mean ± sd" in capsys.readouterr().out


def test_reproduce_all_writes_both_figures(tmp_path):
    out = tmp_path / "all"
    assert cli_main(["reproduce", "all", "--steps", "20", "--dataset", "digits", "--out", str(out),
                     "--no-png", "--quiet"]) == 0
    assert _files(out) == [f"{name}.{ext}" for name in ("fig1", "santurkar") for ext in ("html", "json", "md")]
    doc = json.loads((out / "santurkar.json").read_text())
    assert [r["step"] for r in doc["measures"]["twins"]["bn"]["landscape"]] == [0, 2, 5, 10, 20]
    assert "‖G−G′‖" in (out / "santurkar.md").read_text()


def test_reproduce_without_ray_says_so_in_one_line(tmp_path):
    """`reproduce --backend ray` where Ray cannot be imported: the one line `train --backend ray` prints,
    a non-zero exit, no traceback, nothing written."""
    no_ray = "import sys\nsys.modules['ray'] = None  # `import ray` raises ImportError\n" + CLI_WRAPPER
    out = tmp_path / "fig1"
    said = {}
    for command in (["reproduce", "fig1", "--steps", "20", "--dataset", "digits", "--out", str(out), "--no-png",
                     "--quiet"], ["train", "--dataset", "digits", "--steps", "5", "--quiet"]):
        proc = subprocess.run([sys.executable, "-c", no_ray, *command, "--backend", "ray"], cwd=REPO,
                              capture_output=True, text=True, timeout=120)
        result = json.loads(proc.stdout.splitlines()[-1])
        assert result["code"] not in (0, None) and "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1 and "requirements-ray.txt" in proc.stderr
        said[command[0]] = proc.stderr
    assert said["reproduce"] == said["train"]
    assert not out.exists()


def test_a_bad_seeds_spec_is_refused_as_train_refuses_it(capsys):
    with pytest.raises(SystemExit) as info:
        cli_main(["reproduce", "fig1", "--dataset", "digits", "--seeds", "3-1"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and "expected seeds such as 1, 1-5 or 1,3,5" in err and "Traceback" not in err


def test_png_export(tmp_path):
    pytest.importorskip("kaleido")
    import shutil

    if not (shutil.which("chromium") or shutil.which("google-chrome")):
        pytest.skip("no Chromium for kaleido")
    import plotly.graph_objects as go

    written = R.write_figure(go.Figure(go.Scatter(x=[0, 1], y=[1, 0])), tmp_path, "tiny")
    assert [p.name for p in written] == ["tiny.html", "tiny.png"]
    assert (tmp_path / "tiny.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
