"""Every chart is a pure function run record → Plotly figure: check traces, axes, labels, sizes. The
records are saved files (tests/data/make_records.py), so these tests train nothing."""

from __future__ import annotations

import base64
import copy
import json

import numpy as np
import plotly.graph_objects as go
import pytest

from bn_demo.ui import figures as F
from bn_demo.ui.strings import t
from conftest import saved_record


@pytest.fixture(scope="module")
def snap() -> dict:
    return saved_record("run-compare.json")


@pytest.fixture(scope="module")
def plain_snap() -> dict:
    return saved_record("run-plain.json")


def values(trace_array) -> np.ndarray:
    """Plotly ≥ 6 serialises numpy arrays as base64 typed arrays; decode either form."""
    if isinstance(trace_array, dict) and "bdata" in trace_array:
        data = np.frombuffer(base64.b64decode(trace_array["bdata"]), dtype=np.dtype(trace_array["dtype"]))
        shape = trace_array.get("shape")
        return data.reshape([int(n) for n in str(shape).split(",")]) if shape else data
    return np.asarray(trace_array)


def spec(fig: go.Figure) -> dict:
    return json.loads(fig.to_json())


def names(fig: go.Figure) -> list[str]:
    return [tr.name for tr in fig.data if tr.name]


@pytest.mark.parametrize("metric", ["loss", "acc"])
def test_curves_overlay_both_twins_train_and_held_out(snap, metric):
    fig = F.curves_figure(snap, metric)
    labels = names(fig)
    for net in ("BN", "plain"):
        assert t("series_train", net=net) in labels
        assert t("series_heldout", net=net) in labels
    held = next(tr for tr in fig.data if tr.name == t("series_heldout", net="BN"))
    assert list(values(spec(fig)["data"][labels.index(held.name)]["x"])) == list(snap["twins"]["bn"]["eval"]["step"])
    assert fig.layout.xaxis.title.text == t("ax_step")
    assert fig.layout.uirevision == f"curves-{metric}:{snap['run_id']}"
    if metric == "acc":
        assert fig.layout.yaxis.tickformat == ".0%"
    else:
        assert fig.layout.yaxis.type == "log"


def test_curves_overlay_past_runs(snap):
    past = [{"run_id": 99, "twins": {"bn": {"step": np.array([0, 10]), "loss": np.array([2.0, 1.0]),
                                            "acc": np.array([0.1, 0.5])}}}]
    fig = F.curves_figure(snap, "acc", past=past)
    assert t("series_past", run=99, net="BN") in names(fig)


def test_curves_wait_for_data_without_a_run():
    fig = F.curves_figure({"twins": {}, "run_id": 1}, "loss")
    assert not fig.data
    assert fig.layout.annotations[0].text == t("waiting_data")


def test_bands_are_tonexty_scatter_pairs(snap):
    fig = F.bands_figure(snap, 0, "linear")
    fills = [tr for tr in fig.data if tr.fill == "tonexty"]
    assert all(isinstance(tr, go.Scatter) for tr in fig.data)  # not Scattergl: fills do not render there
    assert len(fills) == 2 * 4  # four nested bands (min–max, 7–93, 16–84, 31–69) per twin
    medians = [tr for tr in fig.data if tr.name and "median" in tr.name]
    assert len(medians) == 2
    steps = snap["twins"]["bn"]["probes"]["step"]
    assert list(values(spec(fig)["data"][0]["x"])) == list(steps)
    assert "hidden 1" in fig.layout.title.text


def test_post_bn_view_has_no_plain_panel(snap):
    fig = F.bands_figure(snap, 1, "bn")
    assert [tr.name for tr in fig.data if tr.name] == [t("series_median", net="BN")]
    assert t("no_bn_in_plain") in fig.layout.title.text


def test_heatmap_uses_fixed_bins_and_log_counts(snap):
    fig = F.heatmap_figure(snap, 0, "act")
    heatmaps = [tr for tr in fig.data if isinstance(tr, go.Heatmap)]
    assert len(heatmaps) == 2
    entry = snap["twins"]["plain"]["probes"]["layers"][0]["act"]
    data = spec(fig)["data"][1]
    np.testing.assert_allclose(values(data["y"]), F.bin_centres(entry["edges"]), rtol=1e-6)
    z = values(data["z"])
    np.testing.assert_allclose(z, np.log1p(entry["counts"]).T, rtol=1e-5)
    assert list(values(data["x"])) == list(snap["twins"]["plain"]["probes"]["step"])
    assert fig.layout.coloraxis.colorbar.title.text == t("heatmap_colour")


def test_histograms_at_chosen_steps_share_axes(snap):
    fig = F.histogram_figure(snap, 0, "linear", (0.0, 1.0))
    assert len(fig.data) == 4  # two twins × two steps
    first, last = snap["twins"]["bn"]["probes"]["step"][[0, -1]]
    assert t("series_step", net="BN", step=f"{first:,}") in names(fig)
    assert t("series_step", net="plain", step=f"{last:,}") in names(fig)
    edges = snap["twins"]["bn"]["probes"]["layers"][0]["linear"]["edges"]
    for trace in spec(fig)["data"]:
        np.testing.assert_allclose(values(trace["x"]), edges, rtol=1e-6)
        assert values(trace["y"]).sum() <= 1.0 + 1e-3  # shares of all probe values, last bin drawn twice
    assert fig.layout.yaxis.tickformat == ".0%"


def test_probe_index_at_picks_nearest():
    steps = np.array([0, 5, 10, 20])
    assert F.probe_index_at(steps, 0.0) == 0
    assert F.probe_index_at(steps, 1.0) == 3
    assert F.probe_index_at(steps, 0.5) == 2


def test_paper_figure_shows_three_percentiles_per_twin(snap):
    fig = F.paper_figure(snap, 3)
    assert len(fig.data) == 6
    per_unit = snap["twins"]["bn"]["probes"]["unit_percentiles"][:, 3]
    data = spec(fig)["data"]
    np.testing.assert_allclose(values(data[0]["y"]), per_unit[:, 0], rtol=1e-5)  # 15th
    np.testing.assert_allclose(values(data[2]["y"]), per_unit[:, 1], rtol=1e-5)  # median
    assert "hidden 2" in fig.layout.title.text and "15" in fig.layout.title.text


def test_gradient_norms_per_layer_on_log_axis(snap):
    fig = F.grad_figure(snap)
    assert fig.layout.yaxis.type == "log"
    assert len(fig.data) == 2 * 3  # hidden 1, hidden 2, output for each twin
    assert t("series_layer", net="plain", layer="output") in names(fig)
    dashes = {tr.legendgroup: tr.line.dash for tr in fig.data}
    assert dashes == {"bn": "solid", "plain": "dash"}


def test_inactive_share_is_a_percentage(snap):
    fig = F.inactive_figure(snap)
    assert fig.layout.yaxis.tickformat == ".0%"
    assert t("inactive_relu") in fig.layout.title.text


def test_bn_internals(snap):
    gb = F.gamma_beta_figure(snap)
    assert {tr.name for tr in gb.data if tr.showlegend} == {"hidden 1", "hidden 2"}
    stats = F.bn_stats_figure(snap)
    assert t("series_running", layer="hidden 1") in names(stats)
    assert t("series_batch", layer="hidden 2") in names(stats)
    acc = F.bn_accuracy_figure(snap)
    assert t("series_batchstats", net="BN") in names(acc)
    assert t("series_heldout", net="plain") in names(acc)


def test_bn_internals_explain_absence_for_plain_only(plain_snap):
    fig = F.gamma_beta_figure(plain_snap)
    assert not fig.data
    assert fig.layout.annotations[-1].text == t("no_bn_in_plain")


def test_ics_measure_per_layer(snap):
    fig = F.ics_figure(snap)
    ics = snap["twins"]["bn"]["ics"]
    assert len(ics["step"]) > 0
    # ‖G−G′‖ and cos for layers 2…output, per twin
    assert len(fig.data) == 2 * 2 * snap["n_layers"]
    assert fig.layout.yaxis.type == "log"
    assert list(fig.layout.yaxis2.range) == [-1.05, 1.05]


def test_drift_uses_the_input_to_the_nonlinearity(snap):
    fig = F.drift_figure(snap)
    bn_mean = snap["twins"]["bn"]["probes"]["layers"][0]["bn"]["mean"]
    data = spec(fig)["data"]
    np.testing.assert_allclose(values(data[0]["y"]), bn_mean, rtol=1e-5, atol=1e-6)
    assert F.nonlinearity_input_kind(snap, "plain") == "linear"


def test_gallery_marks_mistakes(snap):
    snap = dict(snap, twins={k: dict(v) for k, v in snap["twins"].items()})
    labels = snap["gallery"]["labels"]
    wrong = (labels + 1) % 10
    snap["twins"]["plain"]["gallery"] = {"step": 60, "predictions": wrong}
    fig = F.gallery_figure(snap)
    texts = [a.text for a in fig.layout.annotations]
    assert len(texts) == len(labels) == 24
    assert all(t("gallery_wrong") in text and "#dc2626" in text for text in texts)
    heat = spec(fig)["data"][0]
    assert values(heat["z"]).dtype == np.uint8  # pixels travel as bytes
    assert "60" in fig.layout.title.text


def test_every_figure_is_small_and_keeps_zoom(snap):
    figs = [F.curves_figure(snap, "loss"), F.bands_figure(snap, 0, "bn"), F.heatmap_figure(snap, 0, "linear"),
            F.histogram_figure(snap, 0, "act", (0, 1)), F.paper_figure(snap, 0), F.grad_figure(snap),
            F.inactive_figure(snap), F.gamma_beta_figure(snap), F.bn_stats_figure(snap), F.bn_accuracy_figure(snap),
            F.ics_figure(snap), F.drift_figure(snap), F.gallery_figure(snap), F.intro_figure()]
    for fig in figs:
        assert fig.layout.uirevision, fig.layout.meta
        assert len(fig.to_json()) < 100_000, fig.layout.meta


def test_thinning_keeps_first_and_last():
    idx = F.thin_index(10_000, 500)
    assert idx[0] == 0 and idx[-1] == 9_999 and len(idx) <= 500


def test_korean_labels(snap):
    fig = F.curves_figure(snap, "acc", lang="ko")
    assert fig.layout.xaxis.title.text == t("ax_step", "ko") == "학습 스텝"
    assert t("series_heldout", "ko", net="BN") in names(fig)
    assert "은닉층 1" in F.bands_figure(snap, 0, "linear", lang="ko").layout.title.text


def test_a_zero_gradient_norm_is_drawn_on_a_floor_not_dropped(snap):
    snap = copy.deepcopy(snap)
    snap["twins"]["plain"]["probes"]["layers"][0]["grad_norm"][:] = 0.0  # a dead layer
    fig = F.grad_figure(snap)
    dead = next(tr for tr in fig.data if tr.name == t("series_layer", net="plain", layer="hidden 1"))
    ys = np.asarray(dead.y, dtype=np.float64)
    assert np.all(np.isfinite(ys)) and np.all(ys == ys[0]) and ys[0] > 0  # a visible line on the floor
    assert any(t("zero_floor") == a.text for a in fig.layout.annotations)


def test_a_layer_has_one_colour_in_every_chart(snap):
    ics, drift = F.ics_figure(snap), F.drift_figure(snap)
    label = t("series_layer", net="BN", layer="hidden 2")
    colour = {tr.line.color for tr in ics.data if tr.name == label} | {tr.line.color for tr in drift.data if tr.name == label}
    assert len(colour) == 1


def test_the_input_to_the_nonlinearity_is_each_twins_own_quantity(snap):
    """kind "input": BN's output for the BN twin, the Linear output for the plain one, in both panels."""
    fig = spec(F.bands_figure(snap, 1, "input"))
    medians = [tr for tr in fig["data"] if tr.get("name", "").endswith(t("series_median", net="").split(" ")[-1])]
    assert {tr.get("xaxis", "x") for tr in medians} == {"x", "x2"}
    for twin, axis in (("bn", "x"), ("plain", "x2")):
        own = snap["twins"][twin]["probes"]["layers"][1]["bn" if twin == "bn" else "linear"]["percentiles"]
        median = next(tr for tr in medians if tr.get("xaxis", "x") == axis)
        assert np.allclose(values(median["y"])[-1], own[-1, own.shape[1] // 2], rtol=1e-6)
    titles = [a["text"] for a in fig["layout"]["annotations"]]
    assert any(F.kind_label("bn", "en") in title for title in titles)
    assert any(F.kind_label("linear", "en", "plain") in title for title in titles)


def test_all_layers_grid_has_a_panel_per_layer_and_twin(snap):
    fig = spec(F.bands_grid_figure(snap, "input"))
    axes = {tr.get("xaxis", "x") for tr in fig["data"]}
    assert len(axes) == snap["n_layers"] * 2


def test_a_learning_rate_change_is_marked_on_every_time_axis(snap):
    changed = {**snap, "events": [{"step": 40, "kind": "lr", "lr": 0.1, "previous": 0.01}]}
    for fig in (F.curves_figure(changed, "loss"), F.bands_figure(changed, 0, "input"), F.grad_figure(changed),
                F.ics_figure(changed), F.gamma_beta_figure(changed)):
        lines = [s for s in spec(fig)["layout"].get("shapes", []) if s.get("x0") == 40 and s.get("x1") == 40]
        assert lines, fig.layout.meta
        assert any(t("marker_lr", lr="0.1") == a["text"] for a in spec(fig)["layout"]["annotations"])
    assert not spec(F.histogram_figure(changed, 0, "input", (0.0, 1.0)))["layout"].get("shapes")  # x is a value


def test_projector_size_makes_every_text_at_least_16px(snap):
    fig = spec(F.enlarge(F.curves_figure(snap, "acc")))
    layout = fig["layout"]
    assert layout["font"]["size"] >= 16 and layout["legend"]["font"]["size"] >= 16
    assert all(a["font"]["size"] >= 16 for a in layout.get("annotations", []))
    assert layout["xaxis"]["tickfont"]["size"] >= 16 and layout["yaxis"]["title"]["font"]["size"] >= 16
