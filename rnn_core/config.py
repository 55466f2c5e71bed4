"""Model configuration: the one object that fixes every array shape.

A model is either a *token* model (``vocab_size`` set)::

    ids (B, T) -> embedding (V, H) -> stacked cells -> logits (B, T, V) -> softmax

or a *series* model (``input_size`` and ``output_size`` set)::

    x (B, T, I) -> linear (I, H) -> stacked cells -> linear (H, O) -> y (B, T, O)

A *residual* series model adds its input to the output, y = x[..., :O] + linear(h): the
network predicts the change from the last value, and with the output layer initialized to
zero a fresh model is the persistence forecast y[t] = x[t]. Its base may instead be a
linear autoregression (the "highway" of LSTNet, Lai et al. 2018), fixed before training:
``ar`` holds, per output column o, the coefficients (c, a_1 .. a_p) of

    y[t, o] = c + Σ_{i=1..p} a_i x[t - i + 1, o] + linear(h[t])[o]

so a fresh model is that AR(p) forecast, and the network learns what it misses.
"""

import json
import math
from dataclasses import asdict, dataclass, fields

CELLS = ("rnn", "lstm", "gru")
DTYPES = ("float32", "float64")

# Number of H-wide blocks in the fused gate pre-activation of each cell.
GATES = {"rnn": 1, "lstm": 4, "gru": 3}


def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")


class DictConfig:
    """to_dict/from_dict and JSON for a config dataclass; from_dict rejects unknown keys."""

    def to_dict(self):
        return asdict(self)

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ValueError(f"expected a dict, got {type(d).__name__}")
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.__name__} keys: {sorted(unknown)}")
        return cls(**d)

    def to_json(self):
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_json(cls, s):
        try:
            d = json.loads(s)
        except (TypeError, json.JSONDecodeError) as e:
            raise ValueError(f"invalid {cls.__name__} JSON: {e}") from None
        return cls.from_dict(d)


def _check_ar(ar, output_size):
    """AR coefficients as a tuple of output_size tuples of p + 1 >= 2 finite floats."""
    try:
        rows = tuple(tuple(float(a) for a in row) for row in ar)
    except (TypeError, ValueError):
        raise ValueError(f"ar must be rows of numbers, got {ar!r}") from None
    if (len(rows) != output_size or len({len(r) for r in rows}) != 1 or len(rows[0]) < 2
            or not all(math.isfinite(a) for r in rows for a in r)):
        raise ValueError(f"ar must be {output_size} row(s) of p + 1 >= 2 finite numbers "
                         "(c, a_1 .. a_p), one per output column")
    return rows


@dataclass(frozen=True)
class ModelConfig(DictConfig):
    """Hyper-parameters of a stacked recurrent network.

    cell:        "rnn" (tanh), "lstm" or "gru".
    hidden:      H, width of every recurrent layer (and of the token embedding).
    layers:      number of stacked recurrent layers.
    vocab_size:  V, set for a token model (cross-entropy over V classes).
    input_size:  I, set (with output_size) for a series model.
    output_size: O, set (with input_size) for a series model (squared error).
    dtype:       "float32" or "float64"; all computation runs in this dtype.
    residual:    series only: y = x[..., :O] + the network's output (needs I >= O).
    ar:          with residual: the base is an AR(p) forecast instead of x[..., :O]:
                 coefficients (O, p + 1), row o = (c, a_1 .. a_p) of output column o over
                 input column o (a tuple of tuples of floats; lists are converted). None: the
                 last value.
    ar_inputs:   with ar: the base also weighs the inputs after the first O (a series
                 driven by inputs, whose row t holds the inputs of t + 1): an ARX base,
                 rows (c, a_1 .. a_p, b_1 .. b_k), k = input_size - output_size.
    """

    cell: str
    hidden: int
    layers: int = 1
    vocab_size: int = None
    input_size: int = None
    output_size: int = None
    dtype: str = "float64"
    residual: bool = False
    ar: tuple = None
    ar_inputs: bool = False

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {CELLS}, got {self.cell!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        _check_positive_int("hidden", self.hidden)
        _check_positive_int("layers", self.layers)
        series = (self.input_size, self.output_size)
        if self.vocab_size is not None:
            if series != (None, None):
                raise ValueError("set either vocab_size (tokens) or input_size and "
                                 "output_size (series), not both")
            _check_positive_int("vocab_size", self.vocab_size)
        else:
            if None in series:
                raise ValueError("set vocab_size (tokens) or both input_size and "
                                 f"output_size (series); got input_size={series[0]!r}, "
                                 f"output_size={series[1]!r}")
            _check_positive_int("input_size", self.input_size)
            _check_positive_int("output_size", self.output_size)
        if not isinstance(self.residual, bool):
            raise ValueError(f"residual must be a bool, got {self.residual!r}")
        if self.residual and (self.vocab_size is not None or self.input_size < self.output_size):
            raise ValueError("residual needs a series model with input_size >= output_size "
                             "(its first output_size inputs are the values predicted)")
        if self.ar is not None:
            object.__setattr__(self, "ar", _check_ar(self.ar, self.output_size))
            if not self.residual:
                raise ValueError("ar (the coefficients of an AR residual base) needs "
                                 "residual=True")
        if not isinstance(self.ar_inputs, bool):
            raise ValueError(f"ar_inputs must be a bool, got {self.ar_inputs!r}")
        if self.ar_inputs and (self.ar is None or len(self.ar[0]) < 2 + self.base_inputs):
            raise ValueError("ar_inputs needs ar rows of 1 + p + k numbers (c, a_1 .. a_p, "
                             f"b_1 .. b_k), p >= 1, k = input_size - output_size = "
                             f"{self.base_inputs if self.ar is not None else '?'}")

    def to_dict(self):
        d = asdict(self)
        if not self.ar_inputs:   # absent when False: the configs of AR bases read as before
            del d["ar_inputs"]
        return d

    @property
    def base_inputs(self):
        """k, the inputs an ARX base weighs (0 without ar_inputs)."""
        return self.input_size - self.output_size if self.ar_inputs else 0

    @property
    def ar_order(self):
        """p of the AR base, 0 without one."""
        return len(self.ar[0]) - 1 - self.base_inputs if self.ar is not None else 0

    @property
    def kind(self):
        """"tokens" or "series"."""
        return "tokens" if self.vocab_size is not None else "series"

    @property
    def out_size(self):
        """Width of the model output: V for tokens, O for series."""
        return self.vocab_size if self.kind == "tokens" else self.output_size
