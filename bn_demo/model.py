"""The MLP and its twins.

One module serves three purposes: ordinary training (nn.BatchNorm1d in train mode, which updates
the running statistics), evaluation (running statistics), and observation. Observation runs the
same arithmetic functionally — batch statistics with no running-buffer update, optional parameter
overrides for the Santurkar ICS measure — so a probe can never move the experiment.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .config import RunConfig

ACTIVATION_FUNCTIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
# How a forward pass treats BatchNorm:
#   "module"  — the nn.BatchNorm1d modules as they are (train mode: batch stats + running update)
#   "batch"   — batch statistics, running buffers untouched (probes, ICS, batch-stat accuracy)
#   "running" — running statistics (what eval mode computes)
BN_MODES = ("module", "batch", "running")


class MLP(nn.Module):
    def __init__(self, n_in: int, n_out: int, config: RunConfig, use_bn: bool):
        super().__init__()
        sizes = [n_in, *config.hidden, n_out]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.bns = (
            nn.ModuleList(nn.BatchNorm1d(w, eps=config.bn_eps, momentum=config.bn_momentum) for w in config.hidden)
            if use_bn
            else None
        )
        self.activation = config.activation
        self.bn_placement = config.bn_placement

    @property
    def use_bn(self) -> bool:
        return self.bns is not None

    def forward(self, x):
        return self.run(x)

    def run(self, x, *, bn_mode: str = "module", params: dict | None = None, record: list | None = None):
        """Forward pass. `params` overrides parameters by name (e.g. "linears.0.weight");
        `record`, if given, receives per hidden layer {"linear", "bn", "act"} tensors.
        x may carry a leading group axis (groups, batch, features): batch statistics are then
        taken per group, which evaluates many mini-batches in one call."""
        act = ACTIVATION_FUNCTIONS[self.activation]
        # Without overrides the modules are called directly: the training hot path stays as lean
        # as a plain nn.Sequential.
        p = None if params is None else {**dict(self.named_parameters()), **params}
        h = x
        last = len(self.linears) - 1
        for i, linear in enumerate(self.linears):
            z = linear(h) if p is None else F.linear(h, p[f"linears.{i}.weight"], p[f"linears.{i}.bias"])
            if i == last:
                return z
            layer = {"linear": z}
            if self.use_bn and self.bn_placement == "before":
                z = layer["bn"] = self._bn(i, z, bn_mode, p)
                h = layer["act"] = act(z)
            elif self.use_bn:  # after the nonlinearity
                a = layer["act"] = act(z)
                h = layer["bn"] = self._bn(i, a, bn_mode, p)
            else:
                h = layer["act"] = act(z)
            if record is not None:
                record.append(layer)
        return h

    def _bn(self, i: int, z, bn_mode: str, p: dict | None):
        module = self.bns[i]
        gamma, beta = (module.weight, module.bias) if p is None else (p[f"bns.{i}.weight"], p[f"bns.{i}.bias"])
        if bn_mode == "module":
            return module(z)
        if bn_mode == "running":
            return F.batch_norm(z, module.running_mean, module.running_var, gamma, beta, False, 0.0, module.eps)
        # Batch statistics, exactly BatchNorm1d's training arithmetic (biased variance), but the
        # running buffers are never read or written.
        mean = z.mean(dim=-2, keepdim=True)
        var = z.var(dim=-2, unbiased=False, keepdim=True)
        return (z - mean) / torch.sqrt(var + module.eps) * gamma + beta

    def layer_input(self, record_layer: dict) -> torch.Tensor:
        """The input to a hidden layer's nonlinearity (what the BN paper's Fig. 1 tracks)."""
        if self.use_bn and self.bn_placement == "before":
            return record_layer["bn"]
        return record_layer["linear"]


def build_twins(config: RunConfig, n_in: int, n_out: int, device) -> dict[str, MLP]:
    """The models a run trains, keyed "bn" / "plain". Their Linear layers are identical copies,
    initialised once from the run's seed without touching the global RNG stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        template = MLP(n_in, n_out, config, use_bn=False)
        if config.init == "gaussian":
            generator = torch.Generator().manual_seed(config.seed)
            with torch.no_grad():
                for linear in template.linears:
                    linear.weight.normal_(0.0, config.init_std, generator=generator)
                    linear.bias.zero_()
        twins = {}
        for name in config.twins:
            model = MLP(n_in, n_out, config, use_bn=(name == "bn"))
            model.linears = copy.deepcopy(template.linears)
            twins[name] = model.to(device)
    return twins


def make_optimizer(config: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    params, lr, wd = model.parameters(), config.lr, config.weight_decay
    if config.optimizer == "adam":
        # The fused kernel does the same arithmetic in one call instead of ~10 small ops per tensor:
        # on these tiny networks that is a quarter of the step time.
        fused = next(iter(model.parameters())).device.type in ("cpu", "cuda")
        return torch.optim.Adam(params, lr=lr, weight_decay=wd, fused=fused or None)
    momentum = 0.9 if config.optimizer == "momentum" else 0.0
    return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd)


def pick_device(requested: str = "auto") -> torch.device:
    """auto: CUDA, then Apple MPS, then CPU. An explicit device that is absent is an error."""
    cuda = torch.cuda.is_available()
    mps = getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    if requested == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    if (requested == "cuda" and not cuda) or (requested == "mps" and not mps):
        from .config import ConfigError

        raise ConfigError("device", requested, "device_absent", devices=tuple(available_devices()))
    return torch.device(requested)


def available_devices() -> list[str]:
    found = ["cpu"]
    if torch.cuda.is_available():
        found.insert(0, "cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        found.insert(0, "mps")
    return found
