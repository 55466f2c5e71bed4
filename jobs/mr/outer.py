"""The outer optimizer of ``--mode average``: block momentum on the tasks' average change.

In average mode every map task trains its own copy of θ over its split, starting from the
same θ; the reducer gets G, the count-weighted mean of the tasks' changes θ_task - θ. The
plain average (θ += G) moves θ about as far as ONE task's training on 1/N of the data,
so N tasks learn little more per sync than one task does. Block momentum (BMUF: Chen & Huo,
ICASSP 2016) treats G as a pseudo-gradient step and filters it over the syncs::

    Δ(t) = η·Δ(t-1) + ζ·G(t)
    θ(t) = θ(t-1) + Δ(t)                  (classic block momentum)
    θ(t) = θ(t-1) + η·Δ(t) + ζ·G(t)       (Nesterov: the look-ahead, as DiLoCo's outer SGD)

η (``momentum``) is the block momentum, ζ (``lr``) the block learning rate. In steady state
θ moves by ζ·G/(1-η) per sync; with η = 1 - 1/N (``"auto"``, N the map tasks that scored
something) that is N times the average change: the sum of the tasks' changes rather than
their mean, each task having seen 1/N of the data. With N = 1 (or η = 0, ζ = 1) both
forms reduce to θ += G exactly, bit for bit: today's parameter averaging.

(A step of ζ = N at once, without the momentum's ramp, diverged on character LSTMs: see
docs/scaling.md.)

The tasks' inner optimizer states (Adam's moments and step counter) are combined as
``inner_state`` says: ``"mean"``, their count-weighted mean (the average mode before the
outer optimizer), ``"reset"``, a fresh state (zeros, step 0) after every sync, so each
task's optimizer starts over, with Adam's bias correction, from each new θ, or ``"auto"``:
the mean of one task (its own state: N = 1 stays the plain average bit for bit), a reset
after several (measured: much better from N = 8 on, within 1 % either way at N = 2 and 4,
slightly worse with N = 1; docs/scaling.md).

Δ is the outer optimizer's state. It is carried in the checkpoint as ``outer.delta`` (shape
(n,), θ's dtype; see :data:`jobs.run.state.OUTER_PREFIX`), sliced like θ over the reducers:
the step is elementwise, so every slice is computed alone and the result does not depend
on R.
"""
from dataclasses import dataclass

import numpy as np

AUTO = "auto"  # η = 1 - 1/N, N the number of map tasks that scored steps
INNER_STATES = (AUTO, "mean", "reset")  # how the tasks' optimizer states are combined
LR_SCALINGS = ("sqrt", "none")  # the tasks' (inner) learning rate against N: × √N, or as given


def inner_lr_scale(scaling, tasks):
    """The factor on the tasks' learning rate of a run on ``tasks`` map tasks (>= 1): √N
    with ``scaling`` "sqrt" (docs/scaling.md: the N tasks' average moves θ about as far as
    one task on 1/N of the data; a larger inner step buys back part of the steps lost), 1
    with "none"."""
    if scaling not in LR_SCALINGS:
        raise ValueError(f"lr_scaling must be one of {', '.join(LR_SCALINGS)}, got {scaling!r}")
    if isinstance(tasks, bool) or not isinstance(tasks, int) or tasks < 1:
        raise ValueError(f"tasks must be an integer >= 1, got {tasks!r}")
    return tasks ** 0.5 if scaling == "sqrt" else 1.0


@dataclass(frozen=True)
class OuterConfig:
    """The outer optimizer's settings: ``momentum`` η in [0, 1) or ``"auto"``, ``lr`` ζ > 0,
    ``nesterov`` the look-ahead form, ``inner_state`` one of :data:`INNER_STATES`. The
    defaults are plain averaging: η 0, ζ 1, the mean inner state."""

    momentum: object = 0.0
    lr: float = 1.0
    nesterov: bool = False
    inner_state: str = "mean"

    @classmethod
    def from_settings(cls, settings):
        """The config in a run's :class:`jobs.run.state.RunSettings`."""
        return cls(momentum=settings.outer_momentum, lr=settings.outer_lr,
                   nesterov=settings.outer_nesterov, inner_state=settings.inner_state)

    def momentum_for(self, tasks):
        """η for a sync of ``tasks`` map tasks (>= 1)."""
        return 1.0 - 1.0 / tasks if self.momentum == AUTO else float(self.momentum)

    def resets_inner_state(self, tasks):
        """Whether a sync of ``tasks`` map tasks (>= 1) starts the optimizer state afresh."""
        return self.inner_state == "reset" or (self.inner_state == AUTO and tasks > 1)


def init_outer_state(theta):
    """The outer state before the first sync: {"delta": zeros like θ}."""
    return {"delta": np.zeros_like(theta)}


def outer_step(config, theta, change, delta, tasks):
    """One outer step on a slice: (new θ, new Δ), both in θ's dtype.

    theta: (m,) the slice of θ the tasks started from; change: (m,) float64, the tasks'
    count-weighted mean change G; delta: (m,) Δ(t-1) (unused when η = 0); tasks: N, the
    map tasks averaged.
    Computed in float64, elementwise (the same bits for any slicing).
    """
    eta, zeta = config.momentum_for(tasks), float(config.lr)
    if eta == 0:  # no momentum terms at all: N = 1 is plain averaging bit for bit (-0.0 too)
        new_delta = step = zeta * change
    else:
        new_delta = eta * np.asarray(delta, np.float64) + zeta * change
        step = eta * new_delta + zeta * change if config.nesterov else new_delta
    return theta + step.astype(theta.dtype), new_delta.astype(theta.dtype)
