"""Summaries of activations, gradients and BN internals, computed on a fixed probe batch.

Everything here is a pure function of tensors it is handed, under no_grad, consuming no random
numbers: observation never changes the experiment. Results are plain numpy/float data.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from . import model

TB_PERCENTILES = (0, 7, 16, 31, 50, 69, 84, 93, 100)  # TensorBoard's distribution bands
PAPER_PERCENTILES = (15, 50, 85)  # Ioffe & Szegedy Fig. 1
ALL_PERCENTILES = TB_PERCENTILES + PAPER_PERCENTILES
N_BINS = 60
SATURATION = 0.98  # sigmoid outside [0.02, 0.98] (σ′ < 0.0196) or |tanh| > 0.98 (tanh′ < 0.0396)
KINDS = ("linear", "bn", "act")


def choose_edges(kind: str, activation: str, samples: list[torch.Tensor]) -> np.ndarray:
    """Fixed bin edges for one layer and kind, chosen once (at step 0, from every twin's values)
    and kept for the whole run, so histograms at different steps and of different twins share
    one axis. Values that later leave the range are counted as under/overflow, never re-binned."""
    if kind == "act" and activation == "sigmoid":
        lo, hi = 0.0, 1.0
    elif kind == "act" and activation == "tanh":
        lo, hi = -1.0, 1.0
    else:
        peak = max(float(s.abs().max()) for s in samples) if samples else 1.0
        half = _nice_ceiling(max(2.0 * peak, 1.0 if kind != "bn" else 4.0))
        lo, hi = (0.0, half) if kind == "act" and activation == "relu" else (-half, half)
    return np.linspace(lo, hi, N_BINS + 1)


def _nice_ceiling(x: float) -> float:
    """Round up to 1, 2 or 5 × a power of ten, so axes read well."""
    if not math.isfinite(x) or x <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(x))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= x)


def summarize(values: torch.Tensor, edges: np.ndarray) -> dict:
    """Histogram on fixed edges (with under/overflow), mean, std and percentiles of all values.
    One sort serves both: percentiles are read off the sorted values (numpy's "linear" method) and
    bin counts are differences of binary-search positions. On the CPU that is NumPy (its sort is
    2–3× faster than torch's with one thread, measured in docs/engine.md); on any other device the
    same arithmetic runs in torch on the tensor's own device, with one small host transfer."""
    if values.device.type == "cpu":
        return _summarize_numpy(values, edges)
    return _summarize_torch(values, edges)


def summarize_layer(layer: dict, edges: dict, activation: str, input_kind: str) -> dict:
    """summarize() of each kind in one hidden layer's probe record ({"linear", "bn", "act"} tensors; edges
    by kind), in KINDS order. A ReLU's output needs no sort of its own on the CPU: ReLU is monotone and
    exact, so applied to the sorted values of its input (layer[input_kind], which the record holds before
    "act") it gives the output's sorted values. That is a third of a probe's sorts, the bulk of a wide
    net's probe time (docs/engine.md)."""
    summaries, sorted_input = {}, None
    for kind, values in layer.items():
        if values.device.type != "cpu":
            summaries[kind] = summarize(values, edges[kind])
            continue
        # Only from an all-finite input: a ReLU turns −inf into a finite 0.
        if kind == "act" and activation == "relu" and sorted_input and sorted_input[0].size == sorted_input[1]:
            ordered, size = torch.relu(torch.from_numpy(sorted_input[0])).numpy(), sorted_input[1]
        else:
            ordered, size = _sorted_finite(values)
        if kind == input_kind:
            sorted_input = (ordered, size)
        summaries[kind] = _summarize_sorted(ordered, size, edges[kind])
    return {kind: summaries[kind] for kind in KINDS if kind in summaries}


def _sorted_finite(values: torch.Tensor) -> tuple[np.ndarray, int]:
    """(the finite values sorted, float32 NumPy; how many values there were, non-finite ones included)."""
    flat = values.detach().reshape(-1).float().cpu().numpy()
    finite = np.isfinite(flat)
    return np.sort(flat if finite.all() else flat[finite]), flat.size


def _summarize_numpy(values: torch.Tensor, edges: np.ndarray) -> dict:
    return _summarize_sorted(*_sorted_finite(values), edges)


def _summarize_sorted(ordered: np.ndarray, size: int, edges: np.ndarray) -> dict:
    n = ordered.size
    pos = np.searchsorted(ordered, edges, side="left")
    top = int(np.searchsorted(ordered, edges[-1], side="right"))
    counts = np.diff(pos)
    counts[-1] += top - pos[-1]  # the last bin includes its right edge, like numpy.histogram
    if n:
        pct = sorted_percentiles(ordered, ALL_PERCENTILES)
        mean, std = float(ordered.mean()), float(ordered.std())
    else:
        pct, mean, std = np.full(len(ALL_PERCENTILES), np.nan), math.nan, math.nan
    return _summary(counts, int(pos[0]), n - top, int(size - n), pct, mean, std)


def _summary(counts, under, over, nonfinite, pct, mean, std) -> dict:
    return {
        "counts": np.asarray(counts).astype(np.int64),
        "under": int(under),
        "over": int(over),
        "nonfinite": int(nonfinite),
        "percentiles": np.asarray(pct[: len(TB_PERCENTILES)], dtype=np.float64),
        "paper_percentiles": np.asarray(pct[len(TB_PERCENTILES) :], dtype=np.float64),
        "mean": float(mean),
        "std": float(std),
    }


_EDGE_CACHE: dict = {}  # (edges' bytes, device) -> float32 search keys on that device


def float32_search_edges(edges: np.ndarray) -> np.ndarray:
    """float32 keys that classify float32 values exactly as the float64 edges do: for a float32 v,
    v < e  ⇔  v < (smallest float32 ≥ e), and v ≤ e  ⇔  v ≤ (largest float32 ≤ e). Returns the
    former for every edge, then the latter for the last edge (the last bin's inclusive right end)."""
    e = np.asarray(edges, dtype=np.float64)
    up = e.astype(np.float32)
    up = np.where(up.astype(np.float64) < e, np.nextafter(up, np.float32(np.inf)), up)
    down = e[-1:].astype(np.float32)
    down = np.where(down.astype(np.float64) > e[-1:], np.nextafter(down, np.float32(-np.inf)), down)
    return np.concatenate([up, down]).astype(np.float32)


def _device_edges(edges: np.ndarray, device: torch.device) -> torch.Tensor:
    key = (np.asarray(edges, dtype=np.float64).tobytes(), str(device))
    found = _EDGE_CACHE.get(key)
    if found is None:
        if len(_EDGE_CACHE) > 1024:
            _EDGE_CACHE.clear()
        found = _EDGE_CACHE[key] = torch.from_numpy(float32_search_edges(edges)).to(device)
    return found


def _summarize_torch(values: torch.Tensor, edges: np.ndarray) -> dict:
    """summarize() in torch ops on the tensor's device, without a host sync until the one transfer:
    non-finite values are sorted to the end as +inf, so the first n sorted values are the finite ones
    and every count and percentile position is computed from n as a device tensor."""
    flat = values.detach().reshape(-1).float()
    size = flat.numel()
    if size == 0:
        return _summarize_numpy(values.detach().cpu(), edges)
    device = flat.device
    keys = _device_edges(edges, device)
    finite = torch.isfinite(flat)
    ordered = torch.sort(torch.where(finite, flat, torch.inf)).values
    n = finite.sum()
    pos = torch.searchsorted(ordered, keys[:-1], side="left")
    top = torch.searchsorted(ordered, keys[-1:], side="right")
    counts = torch.diff(pos)
    counts[-1:] += top - pos[-1:]  # the last bin includes its right edge, like numpy.histogram
    n64 = n.to(torch.float64)
    ranks = torch.tensor(ALL_PERCENTILES, dtype=torch.float64, device=device) / 100 * (n64 - 1).clamp(min=0)
    lo = ranks.floor().long()
    hi = torch.minimum(lo + 1, (n - 1).clamp(min=0))
    low, high = ordered[lo].double(), ordered[hi].double()
    pct = low + (high - low) * (ranks - lo)
    kept = torch.where(finite, flat, 0.0).double()
    mean = kept.sum() / n64
    var = torch.where(finite, kept - mean, 0.0).square().sum() / n64
    packed = torch.cat([counts.double(), pos[:1].double(), (n - top).double(), (size - n64).reshape(1), pct,
                        mean.reshape(1), var.sqrt().reshape(1)]).cpu().numpy()  # the one host transfer
    bins = len(edges) - 1
    under, over, nonfinite = packed[bins : bins + 3]
    pct, (mean, std) = packed[bins + 3 : -2], packed[-2:]
    if nonfinite == size:  # no finite value: NaN statistics, as the NumPy path
        pct, mean, std = np.full(len(ALL_PERCENTILES), np.nan), math.nan, math.nan
    return _summary(packed[:bins], under, over, nonfinite, pct, mean, std)


def sorted_percentiles(ordered: np.ndarray, percents) -> np.ndarray:
    """Percentiles of values already sorted along axis 0, with numpy's default linear interpolation."""
    rank = np.asarray(percents, dtype=np.float64) / 100 * (ordered.shape[0] - 1)
    lo = np.floor(rank).astype(np.int64)
    hi = np.minimum(lo + 1, ordered.shape[0] - 1)
    frac = (rank - lo).reshape(-1, *([1] * (ordered.ndim - 1)))
    low, high = ordered[lo].astype(np.float64), ordered[hi].astype(np.float64)
    return low + (high - low) * frac


def sort_units(values: torch.Tensor) -> torch.Tensor:
    """values (examples, units) sorted along axis 0: each unit's values in order. CPU: NumPy sorts each
    unit as a contiguous row, 20-30× faster than torch.sort along dim 0 with one thread (a 512 × 512 probe:
    0.9 vs 19 ms); elsewhere torch sorts on the device. Sorting is exact: both give the same values."""
    values = values.detach().float()
    if values.device.type == "cpu":
        return torch.from_numpy(np.sort(np.ascontiguousarray(values.numpy().T), axis=1).T)
    return torch.sort(values, dim=0).values


def unit_percentiles(values: torch.Tensor, *, presorted: bool = False) -> np.ndarray:
    """(units, 3): each unit's {15, 50, 85}th percentile over the probe batch (Fig. 1 b, c).
    Off the CPU only the three rows per unit cross to the host. presorted: `values` is sort_units' result."""
    ordered = values if presorted else sort_units(values)
    if ordered.device.type == "cpu":
        return sorted_percentiles(ordered.numpy(), PAPER_PERCENTILES).T
    rank = torch.tensor(PAPER_PERCENTILES, dtype=torch.float64) / 100 * (ordered.shape[0] - 1)
    lo = rank.floor().long()
    hi = torch.clamp(lo + 1, max=ordered.shape[0] - 1)
    low, high = ordered[lo.to(ordered.device)].double(), ordered[hi.to(ordered.device)].double()
    frac = (rank - lo).to(ordered.device).reshape(-1, 1)
    return (low + (high - low) * frac).cpu().numpy().T


UNIT_QUANTILES = 64  # quantile levels per unit kept for the per-unit W1 (unit_w1)


def unit_quantiles(values: torch.Tensor, levels: int = UNIT_QUANTILES, *, presorted: bool = False) -> torch.Tensor:
    """(levels, units): each unit's empirical quantiles over the probe batch at the midpoints
    (k + ½) / levels: the k-th of `levels` equal slices of its sorted values. presorted: `values` is
    sort_units' result."""
    ordered = values if presorted else sort_units(values)
    n = ordered.shape[0]
    index = ((torch.arange(levels, dtype=torch.float64) + 0.5) * n / levels).floor().long().clamp(max=n - 1)
    return ordered[index.to(ordered.device)].contiguous()  # unit_w1 reduces it: one memory layout, one sum


def unit_w1(quantiles: torch.Tensor, reference: torch.Tensor) -> float:
    """The typical unit's Wasserstein-1 distance from its reference: W1 = ∫₀¹ |Q(u) − Q₀(u)| du per unit
    (midpoint rule on unit_quantiles' levels), averaged over the layer's units. Per unit, so a shift of
    each unit's distribution counts even where the layer's pooled histogram, mixing the units, hides it."""
    return float((quantiles - reference).abs().mean())


def inactive_share(activation: str, act: torch.Tensor) -> float:
    """ReLU: share of units that output 0 for every probe example (dead units).
    Sigmoid/tanh: share of unit outputs in the flat, saturated part of the curve."""
    if activation == "relu":
        return float((act <= 0).all(dim=0).float().mean())
    if activation == "sigmoid":
        return float(((act < 1 - SATURATION) | (act > SATURATION)).float().mean())
    return float((act.abs() > SATURATION).float().mean())


def bn_internals(bn: torch.nn.BatchNorm1d, bn_input: torch.Tensor) -> dict:
    """γ, β and running statistics vs the probe batch's own statistics, summarised per layer."""
    batch_mean = bn_input.mean(dim=0)
    batch_var = model.batch_var(bn_input, unbiased=True).squeeze(0)  # running_var is tracked unbiased
    gamma, beta = bn.weight.detach(), bn.bias.detach()
    return {
        "gamma_mean": float(gamma.mean()),
        "gamma_std": float(gamma.std(unbiased=False)),
        "beta_mean": float(beta.mean()),
        "beta_std": float(beta.std(unbiased=False)),
        "running_mean": float(bn.running_mean.mean()),
        "batch_mean": float(batch_mean.mean()),
        "running_var": float(bn.running_var.mean()),
        "batch_var": float(batch_var.mean()),
        # mean |running − batch| over units: how far eval mode's statistics lag the batch's
        "mean_gap": float((bn.running_mean - batch_mean).abs().mean()),
        "var_gap": float((bn.running_var - batch_var).abs().mean()),
    }


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    na, nb = float(a.norm()), float(b.norm())
    if na == 0 or nb == 0:
        return math.nan
    return float(torch.dot(a.reshape(-1), b.reshape(-1)) / (na * nb))
