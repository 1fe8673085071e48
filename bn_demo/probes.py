"""Summaries of activations, gradients and BN internals, computed on a fixed probe batch.

Everything here is a pure function of tensors it is handed, under no_grad, consuming no random
numbers: observation never changes the experiment. Results are plain numpy/float data.
"""

from __future__ import annotations

import math

import numpy as np
import torch

TB_PERCENTILES = (0, 7, 16, 31, 50, 69, 84, 93, 100)  # TensorBoard's distribution bands
PAPER_PERCENTILES = (15, 50, 85)  # Ioffe & Szegedy Fig. 1
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
    bin counts are differences of binary-search positions — several times cheaper than torch's
    bucketize/quantile or numpy's histogram + percentile on a few thousand values."""
    flat = values.detach().reshape(-1).float().cpu().numpy()
    ordered = np.sort(flat[np.isfinite(flat)])
    n = ordered.size
    pos = np.searchsorted(ordered, edges, side="left")
    top = int(np.searchsorted(ordered, edges[-1], side="right"))
    counts = np.diff(pos)
    counts[-1] += top - pos[-1]  # the last bin includes its right edge, like numpy.histogram
    if n:
        pct = sorted_percentiles(ordered, TB_PERCENTILES + PAPER_PERCENTILES)
        mean, std = float(ordered.mean()), float(ordered.std())
    else:
        pct, mean, std = np.full(len(TB_PERCENTILES + PAPER_PERCENTILES), np.nan), math.nan, math.nan
    return {
        "counts": counts.astype(np.int64),
        "under": int(pos[0]),
        "over": n - top,
        "nonfinite": int(flat.size - n),
        "percentiles": pct[: len(TB_PERCENTILES)],
        "paper_percentiles": pct[len(TB_PERCENTILES) :],
        "mean": mean,
        "std": std,
    }


def sorted_percentiles(ordered: np.ndarray, percents) -> np.ndarray:
    """Percentiles of values already sorted along axis 0, with numpy's default linear interpolation."""
    rank = np.asarray(percents, dtype=np.float64) / 100 * (ordered.shape[0] - 1)
    lo = np.floor(rank).astype(np.int64)
    hi = np.minimum(lo + 1, ordered.shape[0] - 1)
    frac = (rank - lo).reshape(-1, *([1] * (ordered.ndim - 1)))
    low, high = ordered[lo].astype(np.float64), ordered[hi].astype(np.float64)
    return low + (high - low) * frac


def unit_percentiles(values: torch.Tensor) -> np.ndarray:
    """(units, 3): each unit's {15, 50, 85}th percentile over the probe batch (Fig. 1 b, c)."""
    ordered = np.sort(values.detach().float().cpu().numpy(), axis=0)
    return sorted_percentiles(ordered, PAPER_PERCENTILES).T


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
    batch_var = bn_input.var(dim=0, unbiased=True)  # running_var is tracked unbiased
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
