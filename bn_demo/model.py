"""The MLP and its arms (the networks a run trains in lockstep: config.ARMS).

One module serves three purposes: ordinary training (nn.BatchNorm1d in train mode, which updates
the running statistics), evaluation (running statistics), and observation. Observation runs the
same arithmetic functionally — batch statistics with no running-buffer update, optional parameter
overrides for the Santurkar ICS measure — so a probe can never move the experiment.

The arms differ only in what follows each hidden Linear (before or after the nonlinearity, as
`bn_placement` says): nothing (plain), nn.BatchNorm1d (bn), nn.LayerNorm (layernorm), or BatchNorm
followed by Santurkar et al.'s time-varying noise (noisy-bn, BatchNoise below).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .config import BATCH_STAT_ARMS, RunConfig

ACTIVATION_FUNCTIONS = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
# How a forward pass treats BatchNorm (LayerNorm computes the same in every mode):
#   "module"  — the nn.BatchNorm1d modules as they are (train mode: batch stats + running update)
#   "batch"   — batch statistics, running buffers untouched (probes, ICS, batch-stat accuracy)
#   "running" — running statistics (what eval mode computes)
BN_MODES = ("module", "batch", "running")
# The parameter groups an arm has (record: parameter_groups, weight_decay_on): Linear weights and biases,
# and the normalisation layer's γ ("norm_weight") and β ("norm_bias").
PARAMETER_GROUPS = ("linear_weight", "linear_bias", "norm_weight", "norm_bias")
NOISE_SEED_OFFSET = 104_729  # the noise's seeds differ from the batch and probe streams' for the same run seed
_MASK64 = (1 << 64) - 1


class BatchNoise:
    """Santurkar, Tsipras, Ilyas & Madry (2018), "How Does Batch Normalization Help Optimization?",
    §2.1 and Fig. 2 ("noisy" BatchNorm), recipe from Appendix A.2.1, Algorithm 1 (arXiv:1805.11604).
    After each BN layer, every batch-normalised activation a_ij (unit j, sample i) becomes

        a_ij ← s_ij · a_ij + m_ij,   m_ij ~ U(μ_j − r_μ, μ_j + r_μ),   s_ij ~ N(σ_j, r_σ)

    with the distribution's own parameters drawn anew for every unit at every training step:
    μ_j ~ U(−n_μ, n_μ), σ_j ~ U(1, n_σ), with n_μ = 0.5, n_σ = 1.25, r_μ = r_σ = 0.1 and r_σ taken as a
    standard deviation. These constants are as recalled from the paper's appendix: its text was not at hand
    where this was written (no network), so they are unchecked; the structure is §2.1's (non-zero mean,
    non-unit variance, parameters drawn anew every step). So each unit's input to the next
    layer gets a mean shifted by up to ±0.5 and a scale of 1 to 1.25 that change every step: the
    distribution is unstable by construction.

    Every draw comes from a torch.Generator of its own, seeded from (run seed, step, layer) and used once:
    the noise consumes nothing of the batch stream, the probe batch or another arm, and the noise of a
    step is the same whoever asks for it. The engine asks with the step's number: training step t uses
    key t; the Santurkar ICS of step t recomputes that step's forward with key t (so G and G′ differ by
    the parameters alone); a probe after step t uses key t + 1, the noise the next training step adds to
    this very network, so the probes show the noisy distribution the next layer sees in training (per-
    unit means and scales as at that step; per-sample draws for the probe batch's own size).

    Evaluation draws nothing: the noise is replaced by its mean, a ← E[s]·a + E[m] = 1.125·a (as dropout
    rescales at test time), so held-out numbers are deterministic and comparable with the BN arm's."""

    N_MU = 0.5
    N_SIGMA = 1.25
    R_MU = 0.1
    R_SIGMA = 0.1

    def __init__(self, seed: int):
        self.seed = int(seed)

    def generator(self, step: int, layer: int) -> torch.Generator:
        key = 0
        for value in (NOISE_SEED_OFFSET, self.seed, step, layer):
            key = _splitmix64(key ^ (int(value) & _MASK64))
        return torch.Generator().manual_seed(key)

    def sample(self, step: int, layer: int, shape) -> tuple[torch.Tensor, torch.Tensor]:
        """(s, m) for one hidden layer at one step, each of `shape` (…, units), float32 on the CPU."""
        g = self.generator(step, layer)
        units = shape[-1]
        mu = (torch.rand(units, generator=g) * 2 - 1) * self.N_MU  # μ_j ~ U(−n_μ, n_μ)
        sigma = 1 + torch.rand(units, generator=g) * (self.N_SIGMA - 1)  # σ_j ~ U(1, n_σ)
        m = mu + (torch.rand(shape, generator=g) * 2 - 1) * self.R_MU  # m_ij ~ U(μ_j − r_μ, μ_j + r_μ)
        s = sigma + torch.randn(shape, generator=g) * self.R_SIGMA  # s_ij ~ N(σ_j, r_σ)
        return s, m

    @classmethod
    def mean_scale(cls) -> float:
        """E[s] = E[σ_j] = (1 + n_σ) / 2 (E[m] = 0): what evaluation multiplies by instead of drawing."""
        return (1 + cls.N_SIGMA) / 2

    def apply(self, y: torch.Tensor, layer: int, step: int | None) -> torch.Tensor:
        if step is None:
            return y * self.mean_scale()
        s, m = self.sample(step, layer, tuple(y.shape))
        return s.to(device=y.device, dtype=y.dtype) * y + m.to(device=y.device, dtype=y.dtype)


def _splitmix64(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


class MLP(nn.Module):
    """One arm (config.ARMS): `arm`, or "bn" / "plain" by `use_bn` when no arm is named. BN arms keep their
    nn.BatchNorm1d layers in `bns`, the LayerNorm arm its nn.LayerNorm layers in `lns` (None otherwise);
    the noisy-BN arm also has `noise` (BatchNoise), which has no parameters."""

    def __init__(self, n_in: int, n_out: int, config: RunConfig, use_bn: bool = False, *, arm: str | None = None):
        super().__init__()
        self.arm = arm or ("bn" if use_bn else "plain")
        sizes = [n_in, *config.hidden, n_out]
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.bns = (
            nn.ModuleList(nn.BatchNorm1d(w, eps=config.bn_eps, momentum=config.bn_momentum) for w in config.hidden)
            if self.arm in BATCH_STAT_ARMS
            else None
        )
        # LayerNorm in BN's place: over each sample's units of the layer, with γ and β per unit (BN's ε).
        self.lns = (nn.ModuleList(nn.LayerNorm(w, eps=config.bn_eps) for w in config.hidden)
                    if self.arm == "layernorm" else None)
        self.noise = BatchNoise(config.seed) if self.arm == "noisy-bn" else None
        self.activation = config.activation
        self.bn_placement = config.bn_placement

    @property
    def use_bn(self) -> bool:
        """BatchNorm layers (bn, noisy-bn): batch statistics and running buffers."""
        return self.bns is not None

    @property
    def normalised(self) -> bool:
        """A normalisation layer after every hidden Linear (BatchNorm or LayerNorm): recorded as kind "bn"."""
        return self.bns is not None or self.lns is not None

    def forward(self, x, noise_step: int | None = None):
        return self.run(x, noise_step=noise_step)

    def run(self, x, *, bn_mode: str = "module", params: dict | None = None, record: list | None = None,
            noise_step: int | None = None, first: torch.Tensor | None = None):
        """Forward pass. `params` overrides parameters by name (e.g. "linears.0.weight");
        `record`, if given, receives per hidden layer {"linear", "bn", "act"} tensors ("bn": the
        normalisation layer's output, for noisy BN with its noise: what the next layer receives).
        x may carry a leading group axis (groups, batch, features): batch statistics are then
        taken per group, which evaluates many mini-batches in one call. `noise_step`: the noisy-BN
        arm's noise key (BatchNoise); None applies the noise's mean instead (evaluation).
        `first`: the first Linear's output when the caller already has it (x is then unused): evaluation
        computes it once for both running and batch statistics, since it is most of a small net's work."""
        act = ACTIVATION_FUNCTIONS[self.activation]
        # Without overrides the modules are called directly: the training hot path stays as lean
        # as a plain nn.Sequential.
        p = None if params is None else {**dict(self.named_parameters()), **params}
        h = x
        last = len(self.linears) - 1
        for i, linear in enumerate(self.linears):
            if i == 0 and first is not None:
                z = first
            else:
                z = linear(h) if p is None else F.linear(h, p[f"linears.{i}.weight"], p[f"linears.{i}.bias"])
            if i == last:
                return z
            layer = {"linear": z}
            if self.normalised and self.bn_placement == "before":
                z = layer["bn"] = self._norm(i, z, bn_mode, p, noise_step)
                h = layer["act"] = act(z)
            elif self.normalised:  # after the nonlinearity
                a = layer["act"] = act(z)
                h = layer["bn"] = self._norm(i, a, bn_mode, p, noise_step)
            else:
                h = layer["act"] = act(z)
            if record is not None:
                record.append(layer)
        return h

    def _norm(self, i: int, z, bn_mode: str, p: dict | None, noise_step: int | None):
        if self.lns is not None:
            module = self.lns[i]
            if p is None:
                return module(z)
            return F.layer_norm(z, module.normalized_shape, p[f"lns.{i}.weight"], p[f"lns.{i}.bias"], module.eps)
        y = self._bn(i, z, bn_mode, p)
        return y if self.noise is None else self.noise.apply(y, i, noise_step)

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
        var = batch_var(z)
        return (z - mean) / torch.sqrt(var + module.eps) * gamma + beta

    @property
    def layer_input_kind(self) -> str:
        """Which kind of a `record` layer is the input to its nonlinearity (what the BN paper's Fig. 1 tracks)."""
        return "bn" if self.normalised and self.bn_placement == "before" else "linear"

    def layer_input(self, record_layer: dict) -> torch.Tensor:
        return record_layer[self.layer_input_kind]


def batch_var(z: torch.Tensor, unbiased: bool = False) -> torch.Tensor:
    """z.var(dim=-2, unbiased=unbiased, keepdim=True), 3-7× faster on the CPU (docs/engine.md). On the CPU
    torch.var sums in float64 with Welford's update, one division per value; this is the two-pass sum in
    float64. Both are float64-accurate, so their float32 results agree (bitwise on every input
    tests/test_engine.py tries). Off the CPU torch.var itself runs: CUDA's accumulates float32 input in
    float32, so a float64 sum there would change the GPU's numbers. Under autograd (the ICS measurement)
    torch.var itself runs too, so gradients keep its backward arithmetic."""
    if z.device.type != "cpu" or (torch.is_grad_enabled() and z.requires_grad):
        return z.var(dim=-2, unbiased=unbiased, keepdim=True)
    centred = z - z.mean(dim=-2, keepdim=True, dtype=torch.float64)
    return (centred.square_().sum(dim=-2, keepdim=True) / (z.shape[-2] - unbiased)).to(z.dtype)


def build_twins(config: RunConfig, n_in: int, n_out: int, device) -> dict[str, MLP]:
    """The models a run trains, keyed by arm code (config.twins, in config.ARMS order). Their Linear layers
    are identical copies, initialised once from the run's seed without touching the global RNG stream."""
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
            model = MLP(n_in, n_out, config, arm=name)
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


def parameter_group(name: str) -> str:
    """A parameter's PARAMETER_GROUPS code from its name ("linears.0.bias" → "linear_bias")."""
    return ("linear_" if name.startswith("linears.") else "norm_") + name.rsplit(".", 1)[1]


def parameter_groups(model: nn.Module) -> dict[str, int]:
    """Trainable parameters per group, in PARAMETER_GROUPS order (groups the arm lacks left out)."""
    counts = dict.fromkeys(PARAMETER_GROUPS, 0)
    for name, p in model.named_parameters():
        if p.requires_grad:
            counts[parameter_group(name)] += p.numel()
    return {group: n for group, n in counts.items() if n}


def weight_decay_on(model: nn.Module, optimizer: torch.optim.Optimizer) -> list[str]:
    """The parameter groups the optimizer decays (a param group with weight_decay > 0), read off the
    optimizer itself. make_optimizer decays every parameter alike (L2 added to the gradient, Adam and SGD
    both), γ and β included, whenever the run's weight_decay is above 0."""
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = {parameter_group(names[id(p)]) for group in optimizer.param_groups
               if group.get("weight_decay", 0) > 0 for p in group["params"]}
    return [group for group in PARAMETER_GROUPS if group in decayed]


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
