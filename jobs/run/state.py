"""Everything a training run carries from one epoch to the next, as a dict of arrays.

The same arrays are the checkpoint file (``ckpt-NNNNNN.npz``, ``latest.npz``) and the state
file shipped to every map task through the distributed cache, so what the tasks compute
against is exactly what was checkpointed. Configs and history are JSON strings stored as
0-d unicode arrays: readable with ``allow_pickle=False``.
"""
import json
import zipfile
from dataclasses import asdict, dataclass, field, fields

import numpy as np

from rnn_core import ModelConfig, num_params
from rnn_core.optimizers import OptimizerConfig
from rnn_core.serialization import load_arrays

FORMAT = "hadoop-rnn-checkpoint/2"
# the formats still read: /1 (before the settings were complete, see RunSettings)
READABLE_FORMATS = ("hadoop-rnn-checkpoint/1", FORMAT)
MODES = ("gradient", "average")  # how an epoch's map tasks train (jobs.mr.train_epoch)
OPT_PREFIX = "opt."  # optimizer slots are stored as "opt.<slot>" next to "theta"
OUTER_PREFIX = "outer."  # the outer optimizer's state (jobs.mr.outer): "outer.delta"


def prefix_opt(opt_state):
    """{slot: array} -> {"opt.<slot>": array}, the names optimizer slots have in a file."""
    return {OPT_PREFIX + name: value for name, value in opt_state.items()}


def unprefix_opt(arrays):
    """The optimizer slots among named arrays: {"opt.<slot>": a, ...} -> {slot: a}."""
    return {name[len(OPT_PREFIX):]: value for name, value in arrays.items()
            if name.startswith(OPT_PREFIX)}


def prefix_outer(outer_state):
    """{name: array} -> {"outer.<name>": array}, the names the outer state has in a file."""
    return {OUTER_PREFIX + name: value for name, value in outer_state.items()}


def unprefix_outer(arrays):
    """The outer optimizer's state among named arrays: {"outer.<name>": a, ...} -> {name: a}."""
    return {name[len(OUTER_PREFIX):]: value for name, value in arrays.items()
            if name.startswith(OUTER_PREFIX)}


class NotACheckpoint(ValueError):
    """The arrays (or file) are not a hadoop-rnn checkpoint."""


@dataclass(frozen=True)
class RunSettings:
    """A run's training settings, fixed for its life (with its model and optimizer configs).

    ``mode``: "gradient" or "average" (:mod:`jobs.mr.train_epoch`); ``batch``: chunks per
    minibatch; ``bptt``: truncated BPTT window (0: the whole chunk); ``seed``: θ's
    initialization. Average mode's outer optimizer (:mod:`jobs.mr.outer`): ``outer_momentum``
    η in [0, 1) or "auto", ``outer_lr`` ζ, ``outer_nesterov``, ``inner_state``; and
    ``syncs_per_epoch``, the jobs of an epoch. ``data``: the dataset's URI; ``data_schema``:
    what the model depends on in it (the vocabulary, or the columns and normalization).
    ``default_epochs``: the epochs the run trains to when an invocation asks for none,
    chosen from the data and the map tasks when the run started (None: chosen again on
    every invocation, as before it was kept). ``valid_horizon``: H, the steps ahead the
    validation loss forecasts, each prediction fed back (series; 1: one step).
    ``lr_scaling``: average mode's inner learning rate against the map tasks N the run
    started with, the runner's ("sqrt": the optimizer's lr is ``base_lr`` × √N; "none": as
    given);
    ``base_lr``: the lr asked for, before that factor (None: no factor was applied).
    ``start_map_tasks``, ``start_epochs``: average mode's first ``start_epochs`` epochs run on
    about ``start_map_tasks`` map tasks, the later ones on the runner's (0, 0: no such start).

    A field's default is what a checkpoint without it means: it was written before the field
    existed (plain averaging, one sync per epoch). A new run's defaults are
    :data:`jobs.training.spec.SETTINGS_DEFAULTS`.
    """

    mode: str = "gradient"
    batch: int = 32
    bptt: int = 0
    seed: int = 0
    outer_momentum: object = 0.0
    outer_lr: float = 1.0
    outer_nesterov: bool = False
    inner_state: str = "mean"
    syncs_per_epoch: int = 1
    lr_scaling: str = "none"
    base_lr: float = None
    data: str = None
    data_schema: dict = None
    default_epochs: int = None
    valid_horizon: int = 1
    start_map_tasks: int = 0
    start_epochs: int = 0

    def __post_init__(self):
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")

    @classmethod
    def from_dict(cls, values):
        """The settings of a checkpoint's ``settings`` dict; a missing key takes its default.
        Raises NotACheckpoint on a key no version wrote."""
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise NotACheckpoint(f"unknown settings {sorted(unknown)}")
        return cls(**values)

    def to_dict(self):
        return asdict(self)


@dataclass
class TrainingState:
    """θ, optimizer state and the configuration that produced them.

    ``settings`` (:class:`RunSettings`) holds the run's training settings: together with the
    model and optimizer configs they must match for a run to resume from this state.
    ``history`` is the list of per-epoch metrics dicts, so metrics.jsonl can always be
    rewritten from the newest checkpoint. ``outer_state`` is the outer optimizer's state of
    average mode ({"delta": (n,)}, :mod:`jobs.mr.outer`, zeros before the first sync; {} in
    gradient mode). ``rounds`` holds one dict per sync round of epoch ``epoch + 1`` already
    done (``syncs_per_epoch`` > 1: each round is committed, so an epoch resumes mid-way);
    [] at an epoch boundary.

    The random state is ``settings.seed`` with ``epoch``: training draws random numbers
    only in ``init_params(cfg, seed)``; after that, minibatches are the records in split order
    and the reducer adds in a fixed order, so there is no generator state to carry and an
    epoch's result depends on nothing but this state and the data.
    """

    model: ModelConfig
    optimizer: OptimizerConfig
    settings: RunSettings
    theta: np.ndarray
    opt_state: dict
    epoch: int = 0
    history: list = field(default_factory=list)
    data_version: str = ""
    outer_state: dict = field(default_factory=dict)
    rounds: list = field(default_factory=list)

    def __post_init__(self):
        if self.settings.mode == "average" and not self.outer_state:
            # the outer optimizer's Δ before its first sync, also of a format-1 checkpoint
            # (before the outer optimizer: with its plain-averaging settings the steps are
            # θ's bit for bit as then)
            self.outer_state = {"delta": np.zeros_like(self.theta)}

    def best_epoch(self):
        """The epoch with the lowest validation loss in ``history`` (the earliest of equals);
        the newest epoch if none has a validation loss; 0 before the first epoch."""
        scored = [(m["valid_loss"], m["epoch"]) for m in self.history
                  if m.get("valid_loss") is not None]
        return min(scored)[1] if scored else self.epoch

    def identity(self):
        """The configuration a resumed run must share, as a JSON-able dict."""
        return {"model": self.model.to_dict(), "optimizer": self.optimizer.to_dict(),
                "settings": self.settings.to_dict()}

    def to_arrays(self):
        arrays = {
            "format": np.array(FORMAT),
            "theta": self.theta,
            "epoch": np.array(self.epoch, dtype=np.int64),
            "model_config": np.array(self.model.to_json()),
            "optimizer_config": np.array(json.dumps(self.optimizer.to_dict(), sort_keys=True)),
            "settings": np.array(json.dumps(self.settings.to_dict(), sort_keys=True)),
            "history": np.array(json.dumps(self.history)),
            "data_version": np.array(self.data_version),
            "rounds": np.array(json.dumps(self.rounds)),
        }
        arrays.update(prefix_opt(self.opt_state))
        arrays.update(prefix_outer(self.outer_state))
        return arrays

    @classmethod
    def from_arrays(cls, arrays):
        """The state in a checkpoint's arrays, of this format or an older one (migrated here,
        the one place that knows the formats' history)."""
        check_format(arrays.get("format"))
        settings = RunSettings.from_dict(json.loads(str(arrays["settings"])))
        state = cls(
            model=ModelConfig.from_json(str(arrays["model_config"])),
            optimizer=OptimizerConfig.from_dict(json.loads(str(arrays["optimizer_config"]))),
            settings=settings,
            theta=arrays["theta"],
            opt_state=unprefix_opt(arrays),
            epoch=int(arrays["epoch"]),
            history=json.loads(str(arrays["history"])),
            data_version=str(arrays["data_version"]),
            outer_state=unprefix_outer(arrays),
            # format 1: written before sync rounds
            rounds=json.loads(str(arrays["rounds"])) if "rounds" in arrays else [],
        )
        if state.theta.shape != (num_params(state.model),):
            raise NotACheckpoint(f"theta has shape {state.theta.shape}, the model config needs "
                                 f"({num_params(state.model)},)")
        return state


def check_format(format_entry, source="the arrays"):
    """Raise NotACheckpoint unless the ``format`` entry of a checkpoint (None: it has none)
    names a readable format. ``source``: what the message calls the checkpoint."""
    if format_entry is None or str(format_entry) not in READABLE_FORMATS:
        raise NotACheckpoint(f"{source} is not a hadoop-rnn checkpoint (no 'format' entry "
                             f"saying one of {', '.join(READABLE_FORMATS)})")


def read_state_file(path):
    """The TrainingState in a local .npz file (a checkpoint or a job's shipped state)."""
    return TrainingState.from_arrays(load_arrays(path))


def read_state_configs(path):
    """(model, optimizer, settings) of a state file, without loading θ or the optimizer slots."""
    with np.load(path, allow_pickle=False) as npz:
        check_format(npz["format"] if "format" in npz.files else None, path)
        return (ModelConfig.from_json(str(npz["model_config"])),
                OptimizerConfig.from_dict(json.loads(str(npz["optimizer_config"]))),
                RunSettings.from_dict(json.loads(str(npz["settings"]))))


def read_state_range(path, lo, hi):
    """Elements [lo, hi) of θ, of each optimizer slot and of the outer state in a state file,
    read without loading the whole arrays: {"theta": (hi-lo,), "opt.<slot>": (hi-lo,) ...,
    "opt.t": (), "outer.delta": (hi-lo,)}.

    The file is an uncompressed npz (:func:`rnn_core.serialization.save_arrays`), so each
    range is a seek and a read in its zip entry.
    """
    out = {}
    with zipfile.ZipFile(path) as archive:
        for entry in archive.namelist():
            name = entry[:-len(".npy")]
            if name != "theta" and not name.startswith((OPT_PREFIX, OUTER_PREFIX)):
                continue
            with archive.open(entry) as f:
                shape, fortran, dtype = _read_npy_header(f)
                if dtype.hasobject or fortran or len(shape) > 1:
                    raise NotACheckpoint(f"{path}: {name} is not a flat array")
                if shape == ():
                    out[name] = np.frombuffer(f.read(dtype.itemsize), dtype).reshape(())
                    continue
                f.seek(f.tell() + lo * dtype.itemsize)
                out[name] = np.frombuffer(f.read((hi - lo) * dtype.itemsize), dtype).copy()
    return out


def _read_npy_header(f):
    """(shape, fortran_order, dtype) of the .npy stream ``f``, left at the array's data."""
    major, _ = np.lib.format.read_magic(f)
    read = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    return read(f)
