"""A run's settings: what defines it, its defaults (some chosen from the data), and the
check that a resumed run is the same run.

:class:`RunSpec` is what the user asks for; :func:`run_configs` turns it into the model,
optimizer and settings of a new run, and :func:`check_resumable` compares it with a
checkpoint's. Every value is checked before anything is written.
"""
from dataclasses import dataclass, fields, replace

import numpy as np

from jobs.data.covariates import target_count
from jobs.mr.outer import AUTO, INNER_STATES, LR_SCALINGS, inner_lr_scale, init_outer_state
from jobs.run.state import RunSettings, TrainingState
from rnn_core import ModelConfig, init_params
from rnn_core.optimizers import OptimizerConfig, init_state


DEFAULT_MODE = "average"  # average mode with the outer optimizer: docs/scaling.md
DEFAULT_LR_SCALING = "none"  # average mode's inner lr against N: docs/scaling.md
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adagrad": 0.1, "rmsprop": 0.002, "adam": 0.002}


class TrainingError(RuntimeError):
    """An epoch could not be committed; the message says why and what to do."""


@dataclass(frozen=True)
class RunSpec:
    """The settings that define a run and are fixed for its life.

    Every field left None takes the default below for a new run (some depend on the data:
    :func:`data_defaults`), and the checkpoint's value when the run resumes; a field that is
    given must match the checkpoint. ``lr`` None means the optimizer's default
    (:data:`DEFAULT_LR`, the same for both kinds: Adam at 0.005 won on sunspots but lost to
    persistence on CO2, see README); ``clip`` 0 turns clipping off.
    """

    # the model
    cell: str = None         # "rnn", "lstm" or "gru"; default "lstm"
    hidden: int = None       # hidden units per layer; default 128
    layers: int = None       # stacked layers; default 1
    dtype: str = None        # "float32" or "float64"; default "float32"
    residual: str = None     # series: the base the network's output is added to, one of
                             # RESIDUALS: "ar" (the dataset's AR(p) forecast), "last" (the
                             # last value), "none"; default "ar" for series, "none" (the only
                             # choice) for text. True and False mean "last" and "none".
    target_inputs: bool = None  # series: the network reads its targets' past values; False:
                                # a system driven by its inputs alone; default True
    # the optimizer (rnn_core.optimizers)
    optimizer: str = None    # default "adam"
    lr: float = None
    momentum: float = None   # default 0.9
    nesterov: bool = None    # default False
    clip: float = None       # global L2 norm; default 5.0
    clip_value: float = None
    schedule: str = None     # "constant" or "step"; default "constant"
    decay_every: int = None  # default 10
    decay_rate: float = None  # default 0.5
    weight_decay: float = None  # decoupled (AdamW-style) decay per step; default 0
    # the epoch job
    mode: str = None         # "gradient" or "average"; default DEFAULT_MODE
    batch: int = None        # chunks per minibatch; default 32 for text, from the data
                             # size for series
    bptt: int = None         # truncated BPTT window, 0 = whole chunk; default 0
    seed: int = None         # seed of θ's initialization; default 0
    # average mode: the outer optimizer (jobs.mr.outer) and the syncs per epoch
    outer_momentum: object = None  # block momentum η in [0, 1) or "auto" (1 - 1/N); default "auto"
    outer_lr: float = None         # block learning rate ζ > 0; default 1.0
    outer_nesterov: bool = None    # Nesterov block momentum; default True
    inner_state: str = None        # the tasks' optimizer states after a sync: "mean",
                                   # "reset" or "auto" (mean of one task, reset after
                                   # several); default "auto"
    syncs_per_epoch: int = None    # jobs (averaging points) per epoch; default 1
    lr_scaling: str = None         # the tasks' lr against the map tasks N the run starts
                                   # with (the runner's): "sqrt" (lr × √N) or "none";
                                   # default DEFAULT_LR_SCALING
    start_map_tasks: int = None    # the first start_epochs epochs on about this many map
    start_epochs: int = None       # tasks, then the runner's; default 0, 0: none
    # validation
    valid_horizon: int = None      # series: steps ahead of the validation loss; default 1

    def given(self, names):
        """{name: value} of the fields among ``names`` that are set."""
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}


# The RunSpec fields of each group, with their defaults for a new run.
MODEL_DEFAULTS = {"cell": "lstm", "hidden": 128, "layers": 1, "dtype": "float32",
                  "residual": None, "target_inputs": True}


OPTIMIZER_DEFAULTS = {"optimizer": "adam", "lr": None, "momentum": 0.9, "nesterov": False,
                      "clip": 5.0, "clip_value": None, "schedule": "constant",
                      "decay_every": 10, "decay_rate": 0.5, "weight_decay": 0.0}


SETTINGS_DEFAULTS = {"mode": DEFAULT_MODE, "batch": 32, "bptt": 0, "seed": 0,
                     "outer_momentum": AUTO, "outer_lr": 1.0, "outer_nesterov": True,
                     "inner_state": AUTO, "syncs_per_epoch": 1, "valid_horizon": 1,
                     "lr_scaling": DEFAULT_LR_SCALING, "start_map_tasks": 0,
                     "start_epochs": 0}


assert {f.name for f in fields(RunSpec)} == {**MODEL_DEFAULTS, **OPTIMIZER_DEFAULTS,
                                             **SETTINGS_DEFAULTS}.keys()


# The residual bases of a series model (rnn_core.config: residual, ar).
RESIDUALS = ("ar", "last", "none")


def residual_name(value):
    """"ar", "last" or "none" of a RunSpec's residual (True: "last", False: "none")."""
    if value is True or value is False:
        return "last" if value else "none"
    if value not in RESIDUALS:
        raise ValueError(f"residual must be one of {', '.join(RESIDUALS)}, got {value!r}")
    return value


def model_residual(model):
    """The residual base of a ModelConfig by name."""
    return "ar" if model.ar is not None else "last" if model.residual else "none"


def residual_config(name, dataset):
    """The ModelConfig fields (residual, ar, ar_inputs) of the residual base ``name`` on
    ``dataset``: "ar" is the AR(p) base ``prepare`` fitted, or for a series driven by inputs
    its ARX(p) (:mod:`rnn_core.arx`)."""
    name = residual_name(name)
    if name != "none" and dataset.kind == "text":
        raise ValueError(f"--residual {name} needs a series dataset; {dataset.store.uri()} is "
                         "a text dataset")
    if name != "ar":
        return {"residual": name == "last"}
    if "ar" not in dataset.meta:
        raise ValueError("residual 'ar' needs the AR(p) fit of the training part in the "
                         "dataset's meta.json: prepare the data again with this version")
    if "arx" in dataset.meta:   # a series driven by inputs: its base weighs them too
        return {"residual": True, "ar": dataset.meta["arx"]["coef"], "ar_inputs": True}
    return {"residual": True, "ar": dataset.meta["ar"]["coef"]}


# Series defaults that depend on the data (text keeps the fixed ones above).
SERIES_HIDDEN = 32          # a series of a few hundred points cannot feed 128 units


SERIES_RESIDUAL = "ar"      # the network corrects the AR(p) forecast (README: the bench)


STEPS_PER_TASK = 32         # the default batch leaves at least this many steps per task and epoch


SERIES_STEPS = 2000         # the default epochs of a series run take about this many steps


SERIES_EPOCHS = (10, 100)   # ... within these bounds


TEXT_EPOCHS = 10


def task_count(dataset, map_tasks=None):
    """``map_tasks``, or without it one per training shard."""
    return map_tasks or max(len(dataset.shard_uris("train")), 1)


def records_per_task(dataset, map_tasks=None):
    """Training records a map task reads per epoch, on average, of :func:`task_count` tasks."""
    return dataset.meta["counts"]["train"]["records"] / task_count(dataset, map_tasks)


def data_defaults(spec, dataset, map_tasks=None):
    """({field: value}, why): the defaults of a new run's fields that depend on the data.

    Only fields the spec leaves None are chosen. Series: ``hidden`` 32, ``residual``
    :data:`SERIES_RESIDUAL` ("last" for a dataset prepared without an AR fit),
    ``batch`` so that every one of the epoch's ``map_tasks`` map tasks (None: one per
    training shard; :func:`jobs.training.epoch_job.expected_map_tasks` counts the runner's)
    takes at least :data:`STEPS_PER_TASK` optimizer steps per epoch (1 to 32 chunks). Text:
    ``residual`` "none".
    """
    if dataset.kind == "text":
        return ({"residual": "none"} if spec.residual is None else {}), "text"
    records = dataset.meta["counts"]["train"]["records"]
    per_task = records_per_task(dataset, map_tasks)
    residual = SERIES_RESIDUAL if "ar" in dataset.meta else "last"   # (data before the AR fit)
    if spec.target_inputs is False:          # a base is of the targets, which it does not read
        residual = "none"
    chosen = {"hidden": SERIES_HIDDEN, "residual": residual,
              "batch": int(np.clip(per_task // STEPS_PER_TASK, 1, 32))}
    chosen = {k: v for k, v in chosen.items() if getattr(spec, k) is None}
    return chosen, (f"a series of {records:,} training chunks in "
                    f"{task_count(dataset, map_tasks)} map task(s), "
                    f"{per_task:,.0f} per task")


def default_epochs(state, dataset, map_tasks=None):
    """The epochs a run trains to when none are asked for: the run's own if it chose them
    when it started (``settings.default_epochs``), else :func:`chosen_epochs`."""
    return state.settings.default_epochs or chosen_epochs(dataset, state.settings.batch,
                                                          map_tasks)


def chosen_epochs(dataset, batch, map_tasks=None):
    """10 epochs for text; for a series about :data:`SERIES_STEPS` optimizer steps per map
    task (of ``map_tasks``, as for :func:`data_defaults`) of ``batch`` chunks, 10 to 100."""
    if dataset.kind == "text":
        return TEXT_EPOCHS
    steps = max(1, -(-int(records_per_task(dataset, map_tasks)) // batch))
    return int(np.clip(-(-SERIES_STEPS // steps), *SERIES_EPOCHS))


def check_range(name, value, low, high=None, low_open=False, integer=False):
    """Raise ValueError unless ``value`` is a finite number (an int if ``integer``) in range.

    The range is [low, high], or (low, high] with ``low_open``; ``high`` None: no bound.
    """
    ok = isinstance(value, int if integer else (int, float)) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (value > low if low_open else value >= low)
    if not (ok and (high is None or value <= high)):
        kind = "an integer" if integer else "a number"
        bound = (f"> {low:g}" if low_open else f">= {low:g}") + (
            f" and <= {high:g}" if high is not None else "")
        raise ValueError(f"{name} must be {kind} {bound}, got {value!r}")


def defaults_line(spec, dataset, epochs=None, map_tasks=None):
    """The line a new series run logs: the defaults chosen from the data and why ("" if none).

    epochs: the number of epochs if it was chosen too (:func:`default_epochs`); map_tasks:
    as for :func:`data_defaults`.
    """
    chosen, why = data_defaults(spec, dataset, map_tasks)
    if dataset.kind == "text":
        return ""
    if epochs is not None:
        chosen["epochs"] = epochs
    if not chosen:
        return ""
    return (f"defaults for {why}: " + ", ".join(f"{k} {v}" for k, v in chosen.items())
            + f" (batch: at least {STEPS_PER_TASK} steps per task and epoch where the data "
            f"allows; epochs: about {SERIES_STEPS:,} steps per task, {SERIES_EPOCHS[0]} to "
            f"{SERIES_EPOCHS[1]}; flags override)")


def run_configs(spec, dataset, map_tasks=None):
    """(model, optimizer, settings) of a new run of ``spec`` on ``dataset``.

    Fields the spec leaves None take the defaults, some chosen from the data and the
    ``map_tasks`` of an epoch (:func:`data_defaults`); ``inner_state`` is "mean" with a step schedule, whose step
    counter a reset would restart. Raises ValueError if a value of the spec is out of range
    (before anything is written).
    """
    chosen, _ = data_defaults(spec, dataset, map_tasks)

    def group(defaults):
        return {**defaults, **{k: v for k, v in chosen.items() if k in defaults},
                **spec.given(defaults)}

    model_flags, opt_flags = group(MODEL_DEFAULTS), group(OPTIMIZER_DEFAULTS)
    settings = group(SETTINGS_DEFAULTS)
    check_range("batch", settings["batch"], 1, integer=True)
    check_range("bptt", settings["bptt"], 0, integer=True)
    check_range("seed", settings["seed"], 0, integer=True)
    momentum = settings["outer_momentum"]
    if momentum != AUTO and not (isinstance(momentum, (int, float)) and 0 <= momentum < 1):
        raise ValueError(f"outer_momentum must be {AUTO!r} or a number >= 0 and < 1, "
                         f"got {momentum!r}")
    check_range("outer_lr", settings["outer_lr"], 0, low_open=True)
    if settings["inner_state"] not in INNER_STATES:
        raise ValueError(f"inner_state must be one of {', '.join(INNER_STATES)}, got "
                         f"{settings['inner_state']!r}")
    if opt_flags["schedule"] != "constant" and settings["inner_state"] != "mean":
        # a reset restarts the step counter t, which the schedule counts
        if spec.inner_state is not None:
            raise ValueError(f"inner_state {settings['inner_state']!r} restarts the step "
                             "counter that the step schedule counts: use inner_state 'mean'")
        settings["inner_state"] = "mean"
    check_range("syncs_per_epoch", settings["syncs_per_epoch"], 1, integer=True)
    if settings["lr_scaling"] not in LR_SCALINGS:
        raise ValueError(f"lr_scaling must be one of {', '.join(LR_SCALINGS)}, got "
                         f"{settings['lr_scaling']!r}")
    check_start_phase(settings)
    check_range("valid_horizon", settings["valid_horizon"], 1, integer=True)
    if settings["valid_horizon"] > 1 and dataset.kind != "series":
        raise ValueError("--valid-horizon is for series: a text model's validation loss is "
                         "of the next character")
    if not model_flags["target_inputs"] and residual_name(model_flags["residual"]) != "none":
        raise ValueError(f"--residual {residual_name(model_flags['residual'])} adds the "
                         "network's output to a base of the targets' past values, which "
                         "--no-target-inputs does not read: use --residual none")
    if not model_flags["target_inputs"] and dataset.kind == "series" and \
            target_count(dataset.meta) == len(dataset.meta["columns"]):
        raise ValueError("--no-target-inputs needs a series driven by inputs (prepare "
                         "--inputs or --calendar): this dataset has only its targets")
    model_flags.update(residual_config(model_flags["residual"], dataset))
    model = ModelConfig(**model_flags, **dataset.model_sizes())
    name = opt_flags["optimizer"]
    if name not in DEFAULT_LR:
        raise ValueError(f"optimizer must be one of {', '.join(DEFAULT_LR)}, got {name!r}")
    optimizer = OptimizerConfig(
        name=name, lr=DEFAULT_LR[name] if opt_flags["lr"] is None else opt_flags["lr"],
        momentum=opt_flags["momentum"], nesterov=opt_flags["nesterov"],
        clip_norm=opt_flags["clip"] or None, clip_value=opt_flags["clip_value"],
        schedule=opt_flags["schedule"], decay_every=opt_flags["decay_every"],
        decay_rate=opt_flags["decay_rate"], weight_decay=opt_flags["weight_decay"])
    return model, optimizer, RunSettings(**settings)


def check_start_phase(settings):
    """Raise ValueError unless the settings' start phase (``start_map_tasks`` for the first
    ``start_epochs`` epochs) is none (0, 0) or both numbers >= 1 in average mode."""
    tasks, epochs = settings["start_map_tasks"], settings["start_epochs"]
    check_range("start_map_tasks", tasks, 0, integer=True)
    check_range("start_epochs", epochs, 0, integer=True)
    if bool(tasks) != bool(epochs):
        raise ValueError("--start-map-tasks M and --start-epochs E go together: the first E "
                         "epochs run on about M map tasks")
    if tasks and settings["mode"] != "average":
        raise ValueError("--start-map-tasks is for --mode average: a gradient-mode epoch is "
                         "one exact step whatever the map tasks")


def new_state(spec, dataset, data_uri, map_tasks=None):
    """The training state of a fresh run: initial θ and optimizer state.

    The settings record the dataset (``data``), what the model depends on in it
    (``data_schema``: the vocabulary, or the columns and normalization) and the epochs it
    trains to by default (:func:`default_epochs` of ``map_tasks``, as for
    :func:`data_defaults`), so that every later invocation aims at the same.
    """
    model, optimizer, settings = run_configs(spec, dataset, map_tasks)
    settings = replace(settings, data=data_uri, data_schema=dataset.schema())
    scale = inner_lr_scale(settings.lr_scaling, map_tasks or 1)
    if settings.mode == "average" and scale != 1:  # fixed for the run, like the lr itself
        settings = replace(settings, base_lr=optimizer.lr)
        optimizer = replace(optimizer, lr=optimizer.lr * scale)
    settings = replace(settings, default_epochs=chosen_epochs(dataset, settings.batch, map_tasks))
    theta = init_params(model, seed=settings.seed)
    outer_state = init_outer_state(theta) if settings.mode == "average" else {}
    return TrainingState(model=model, optimizer=optimizer, settings=settings, theta=theta,
                         opt_state=init_state(optimizer, theta), data_version=dataset.fingerprint,
                         outer_state=outer_state)


def check_resumable(state, spec, dataset):
    """Raise TrainingError if the spec's given fields (or the data's sizes) contradict ``state``."""
    have = {**state.model.to_dict(), **state.settings.to_dict(), **state.optimizer.to_dict()}
    have.update(optimizer=state.optimizer.name, clip=state.optimizer.clip_norm or 0.0,
                residual=model_residual(state.model), target_inputs=state.model.target_inputs)
    if state.settings.base_lr is not None:  # --lr asks for the lr before the factor of N
        have["lr"] = state.settings.base_lr
    model_kind = "text" if state.model.vocab_size else "series"
    sizes = {k: v for k, v in dataset.model_sizes().items() if have.get(k) != v}
    if model_kind != dataset.kind or sizes:
        differ = (f"it is a {dataset.kind} dataset, the run's model a {model_kind} model"
                  if model_kind != dataset.kind else
                  ", ".join(f"its {k} is {v}, the run's model has {have.get(k)}"
                            for k, v in sorted(sizes.items())))
        raise TrainingError(f"{dataset.store.uri()} is not the data the run was trained on: "
                            f"{differ}. Use the run's own dataset, or a new --run directory "
                            "for this one.")
    wanted = {**spec.given(MODEL_DEFAULTS), **spec.given(OPTIMIZER_DEFAULTS),
              **spec.given(SETTINGS_DEFAULTS)}
    if "clip" in wanted:
        wanted["clip"] = wanted["clip"] or 0.0
    if "residual" in wanted:
        wanted["residual"] = residual_name(wanted["residual"])
    differ = [f"{k}: checkpoint has {have.get(k)!r}, asked for {v!r}"
              for k, v in sorted(wanted.items()) if have.get(k) != v]
    if differ:
        raise TrainingError("the run directory holds a checkpoint of a different configuration ("
                            + "; ".join(differ) + "). Use a new --run directory, or drop the "
                            "conflicting flags to continue the existing run.")

