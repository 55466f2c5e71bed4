"""First-order optimizers as pure functions of flat arrays.

    state = init_state(opt_cfg, theta)
    theta, state = apply(opt_cfg, theta, grad, state)

Each apply() clips the gradient (first element-wise by clip_value, then to global L2
norm clip_norm), takes the learning rate from the schedule for the number of steps
already taken, t, and updates (g is the clipped gradient, lr the scheduled rate):

    sgd:       θ -= lr g
    momentum:  v = μ v + g;   θ -= lr v              (PyTorch's convention)
               nesterov=True: θ -= lr (g + μ v)
    adagrad:   s += g²;       θ -= lr g / (√s + eps)
    rmsprop:   s = ρ s + (1-ρ) g²;   θ -= lr g / (√s + eps)
    adam:      m = β1 m + (1-β1) g;  v = β2 v + (1-β2) g²
               θ -= lr m̂ / (√v̂ + eps),  m̂ = m / (1-β1^(t+1)),  v̂ = v / (1-β2^(t+1))

Nesterov momentum is the "momentum" optimizer with nesterov=True. With weight_decay = λ > 0
every optimizer also shrinks θ decoupled from the gradient, as AdamW does:
θ -= lr λ θ (with the θ before the step), so the decay does not pass through Adam's scaling.
"""

from dataclasses import dataclass

import numpy as np

from .config import DictConfig

NAMES = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
SCHEDULES = ("constant", "step")

# Per-parameter state arrays of each optimizer (besides the step counter "t").
SLOTS = {"sgd": (), "momentum": ("velocity",), "adagrad": ("sum_sq",),
         "rmsprop": ("mean_sq",), "adam": ("m", "v")}


@dataclass(frozen=True)
class OptimizerConfig(DictConfig):
    name: str
    lr: float
    momentum: float = 0.9
    nesterov: bool = False
    beta1: float = 0.9
    beta2: float = 0.999
    rho: float = 0.9
    eps: float = 1e-8
    clip_norm: float = None
    clip_value: float = None
    schedule: str = "constant"
    decay_every: int = 1
    decay_rate: float = 0.5
    weight_decay: float = 0.0

    def __post_init__(self):
        if self.name not in NAMES:
            raise ValueError(f"name must be one of {NAMES}, got {self.name!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")
        if self.nesterov and self.name != "momentum":
            raise ValueError("nesterov=True needs name='momentum'")
        if not isinstance(self.nesterov, bool):
            raise ValueError(f"nesterov must be a bool, got {self.nesterov!r}")
        for key in ("lr", "eps", "decay_rate"):
            _check_number(key, getattr(self, key), low=0.0, low_open=True)
        _check_number("weight_decay", self.weight_decay, low=0.0)
        for key in ("momentum", "beta1", "beta2", "rho"):
            _check_number(key, getattr(self, key), low=0.0, high=1.0)
        for key in ("clip_norm", "clip_value"):
            if getattr(self, key) is not None:
                _check_number(key, getattr(self, key), low=0.0, low_open=True)
        if (isinstance(self.decay_every, bool) or not isinstance(self.decay_every, int)
                or self.decay_every < 1):
            raise ValueError(f"decay_every must be a positive int, got {self.decay_every!r}")


def _check_number(key, value, low, high=None, low_open=False):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (high is None or value < high)
    if not ok:
        bounds = f"{'(' if low_open else '['}{low}, {high if high is not None else 'inf'})"
        raise ValueError(f"{key} must be a number in {bounds}, got {value!r}")


def clip_by_value(grad, v):
    """Each element clipped to [-v, v]."""
    return np.clip(grad, -v, v)


def clip_by_global_norm(grad, max_norm):
    """grad scaled down so that its L2 norm is at most max_norm (unchanged if it is)."""
    norm = float(np.sqrt(np.sum(np.square(grad, dtype=np.float64))))
    if norm <= max_norm:
        return grad
    return grad * (max_norm / norm)


def learning_rate(opt_cfg, t):
    """Learning rate for the step taken after t steps: lr, or with schedule="step"
    lr * decay_rate ** (t // decay_every)."""
    if opt_cfg.schedule == "step":
        return opt_cfg.lr * opt_cfg.decay_rate ** (int(t) // opt_cfg.decay_every)
    return opt_cfg.lr


def init_state(opt_cfg, theta):
    """{"t": 0-d int64 step counter, plus zero arrays like θ for the optimizer}."""
    theta = _check_flat(theta, "theta")
    state = {"t": np.array(0, dtype=np.int64)}
    for slot in SLOTS[opt_cfg.name]:
        state[slot] = np.zeros_like(theta)
    return state


def _check_flat(a, name):
    a = np.asarray(a)
    if a.ndim != 1 or a.dtype.kind != "f":
        raise ValueError(f"{name} must be a 1-D float array, got {a.dtype} {a.shape}")
    return a


def apply(opt_cfg, theta, grad, state):
    """One update. Returns (new_theta, new_state); the inputs are not modified."""
    theta, grad = _check_flat(theta, "theta"), _check_flat(grad, "grad")
    if grad.shape != theta.shape:
        raise ValueError(f"grad shape {grad.shape} differs from theta shape {theta.shape}")
    expected = {"t", *SLOTS[opt_cfg.name]}
    if set(state) != expected:
        raise ValueError(f"state for {opt_cfg.name} must have keys {sorted(expected)}, "
                         f"got {sorted(state)}")
    g = grad.astype(theta.dtype, copy=False)
    if opt_cfg.clip_value is not None:
        g = clip_by_value(g, opt_cfg.clip_value)
    if opt_cfg.clip_norm is not None:
        g = clip_by_global_norm(g, opt_cfg.clip_norm)
    t = int(state["t"])
    lr = learning_rate(opt_cfg, t)
    new = {"t": np.array(t + 1, dtype=np.int64)}
    name = opt_cfg.name
    if name == "sgd":
        update = g
    elif name == "momentum":
        new["velocity"] = opt_cfg.momentum * state["velocity"] + g
        update = g + opt_cfg.momentum * new["velocity"] if opt_cfg.nesterov else new["velocity"]
    elif name == "adagrad":
        new["sum_sq"] = state["sum_sq"] + g * g
        update = g / (np.sqrt(new["sum_sq"]) + opt_cfg.eps)
    elif name == "rmsprop":
        new["mean_sq"] = opt_cfg.rho * state["mean_sq"] + (1 - opt_cfg.rho) * g * g
        update = g / (np.sqrt(new["mean_sq"]) + opt_cfg.eps)
    else:  # adam
        b1, b2 = opt_cfg.beta1, opt_cfg.beta2
        new["m"] = b1 * state["m"] + (1 - b1) * g
        new["v"] = b2 * state["v"] + (1 - b2) * g * g
        m_hat = new["m"] / (1 - b1 ** (t + 1))
        v_hat = new["v"] / (1 - b2 ** (t + 1))
        update = m_hat / (np.sqrt(v_hat) + opt_cfg.eps)
    if opt_cfg.weight_decay:
        return theta - lr * (update + opt_cfg.weight_decay * theta), new
    return theta - lr * update, new
