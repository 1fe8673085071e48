"""Downloads: the run record itself (JSON, which the page can replay), its metrics as CSV and its
histograms as JSON. All three are written by bn_demo/record.py's writers; this module only picks
what goes in and adds the page's own library versions."""

from __future__ import annotations

from importlib import metadata

from .. import record as rec

PAGE_PACKAGES = ("plotly", "streamlit")


def with_page_versions(record: dict) -> dict:
    versions = dict(record.get("versions") or {})
    for package in PAGE_PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {**record, "versions": versions}


def record_json(record: dict) -> str:
    """The whole run record: every tab can be redrawn from it (Replay)."""
    return rec.dumps(with_page_versions(record))


def metrics_csv(record: dict) -> str:
    return rec.to_csv(record)


def histograms_json(record: dict) -> str:
    """Every probe histogram on the engine's fixed edges (with under/overflow) and its percentiles;
    field meanings as documented in bn_demo/record.py."""
    keep = ("edges", "counts", "under", "over", "nonfinite", "percentiles", "mean", "std")
    twins = {}
    for name, twin in record["twins"].items():
        probes = twin["probes"]
        layers = [{kind: {k: layer[kind][k] for k in keep} for kind in rec.KINDS if kind in layer}
                  for layer in probes["layers"]]
        twins[name] = {"step": probes["step"], "layers": layers}
    document = {key: record[key] for key in ("format", "version", "run_id", "config", "dataset", "probe")}
    document["versions"] = with_page_versions(record)["versions"]
    document["mode"] = "probe"
    document["twins"] = twins
    return rec.dumps(document, indent=1)


def file_stem(record: dict) -> str:
    cfg = record["config"]
    return f"bn-lab-run{record['run_id']}-{cfg['dataset']}-{cfg['activation']}-lr{cfg['lr']:g}-seed{cfg['seed']}"
