"""Downloads: metrics as JSON/CSV and histograms as JSON, each carrying the configuration, the
dataset splits, the measurement modes and library versions, so a file explains itself later."""

from __future__ import annotations

import csv
import io
import json
import math
from importlib import metadata

import numpy as np

from ..cli import result_document, versions


def library_versions() -> dict:
    found = versions()
    for package in ("numpy", "plotly", "streamlit", "scikit-learn"):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def clean(obj):
    """JSON-ready copy: numpy to lists, NaN/inf to null (strict JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (np.integer, int)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        return float(obj) if math.isfinite(obj) else None
    return obj


def dumps(document: dict) -> str:
    return json.dumps(clean(document), indent=1, allow_nan=False)


def metrics_json(snap: dict) -> str:
    document = result_document(snap)
    document["versions"] = library_versions()
    return dumps(document)


def metrics_csv(snap: dict) -> str:
    """Long format, one row per (network, series, step); '#' lines first say what the run was
    (pandas: read_csv(path, comment='#'))."""
    out = io.StringIO()
    ds = snap.get("dataset") or {}
    out.write(f"# BatchNorm Lab run {snap.get('run_id')}: config {json.dumps(snap['config'])}\n")
    out.write(f"# versions {json.dumps(library_versions())}; device {snap.get('device')}\n")
    out.write(f"# train split: {ds.get('train_split')}; held-out split: {ds.get('test_split')}\n")
    modes = snap.get("modes") or {}
    out.write(f"# train_batch rows: {modes.get('train')}; held_out rows: {modes.get('eval')}; "
              f"held_out_batch_stats rows: {modes.get('eval_batch_stats')}\n")
    writer = csv.writer(out)
    writer.writerow(["network", "series", "split", "step", "loss", "accuracy"])
    for name, twin in snap["twins"].items():
        train, held = twin["train"], twin["eval"]
        for i, step in enumerate(train["step"]):
            writer.writerow([name, "train_batch", "train", int(step), _cell(train["loss"][i]), _cell(train["acc"][i])])
        for i, step in enumerate(held["step"]):
            writer.writerow([name, "held_out", "held-out", int(step), _cell(held["loss"][i]), _cell(held["acc"][i])])
            if name == "bn":
                writer.writerow([name, "held_out_batch_stats", "held-out", int(step), "",
                                 _cell(held["acc_batch_stats"][i])])
    return out.getvalue()


def _cell(value) -> str:
    value = float(value)
    return f"{value:.6g}" if math.isfinite(value) else "nan"


def histograms_json(snap: dict) -> str:
    """Every probe histogram on the engine's fixed edges (with under/overflow) and its percentiles."""
    networks = {}
    for name, twin in snap["twins"].items():
        probes = twin["probes"]
        layers = []
        for i, layer in enumerate(probes["layers"]):
            kinds = {kind: {k: layer[kind][k] for k in ("edges", "counts", "under", "over", "nonfinite",
                                                         "percentiles", "mean", "std")}
                     for kind in ("linear", "bn", "act") if kind in layer}
            layers.append({"layer": snap["layer_names"][i], **kinds})
        networks[name] = {"step": probes["step"], "layers": layers}
    document = {
        "config": snap["config"],
        "versions": library_versions(),
        "dataset": snap.get("dataset"),
        "probe": {"mode": snap["modes"]["probe"], "size": next(iter(snap["twins"].values()))["probes"]["probe_size"],
                  "percentiles": list(next(iter(snap["twins"].values()))["probes"]["percentiles"])},
        "kinds": {"linear": "linear layer output (pre-BN)", "bn": "BatchNorm output", "act": "activation output"},
        "networks": networks,
    }
    return dumps(document)


def file_stem(snap: dict) -> str:
    cfg = snap["config"]
    return f"bn-lab-run{snap.get('run_id')}-{cfg['dataset']}-{cfg['activation']}-lr{cfg['lr']:g}-seed{cfg['seed']}"
