"""A trained run and the dataset it was trained on: what evaluate, sample, forecast and plot load.

The checkpoint records the data directory the run was trained on (``settings.data``);
``--data`` overrides it, e.g. after the dataset moved or to evaluate on other data of the
same shape. The dataset must be encoded like the run's own (same vocabulary, or same columns
and normalization: :func:`check_same_schema`), else the model would read it wrongly.
Evaluate, sample and forecast use the best epoch's checkpoint by default
(``--checkpoint latest|best|N``, see :func:`jobs.run.checkpoint.load_checkpoint`).

A series network corrects a base (the AR(p) forecast or the last value). Where, on the
validation part, the checkpoint's network does not beat its base alone clearly, evaluate
and forecast use the base (:func:`base_choice`, :func:`forecasting_state`): model
selection on data nothing was fitted on, not hope; ``--network`` keeps the network.
"""
import sys
from dataclasses import replace

from jobs.data.dataset import Dataset, DatasetError, schema_differences
from jobs.run.checkpoint import load_checkpoint
from jobs.storage import open_store


class RunError(ValueError):
    """The run directory has no checkpoint, or it does not fit the dataset."""


CHECKPOINTS = ("best", "latest")  # or an epoch number


def load_trained_state(run_uri, checkpoint="latest"):
    """The TrainingState of the run directory's ``checkpoint``: "best", "latest" or N."""
    state = load_checkpoint(open_store(run_uri), checkpoint)
    if state is None:
        raise RunError(f"{open_store(run_uri).uri()} holds no checkpoint: train first "
                       "(hadoop-rnn train --data DATA --run RUN)")
    return state


# the command that fits each kind of model, for the error when the other one is asked for
COMMAND_FOR = {"text": "hadoop-rnn sample", "series": "hadoop-rnn forecast"}


def load_run(run_uri, data_uri=None, warn=None, kind=None, checkpoint="best"):
    """(state, dataset) of a run; the dataset is ``data_uri`` or the one the run recorded.

    ``kind`` ("text" or "series"), if given, is the kind of model the caller needs;
    ``checkpoint``: "best", "latest" or an epoch number.
    """
    state = load_trained_state(run_uri, checkpoint)
    recorded = state.settings.data
    if not (data_uri or recorded):
        raise RunError(f"{run_uri}: the checkpoint does not name its dataset: pass --data DATA_DIR")
    try:
        dataset = Dataset(data_uri or recorded)
    except DatasetError as e:
        if data_uri:
            raise
        raise RunError(f"the dataset the run was trained on is gone ({e}); pass --data "
                       "DATA_DIR if it moved") from None
    model_kind = "text" if state.model.kind == "tokens" else "series"
    if kind is not None and model_kind != kind:
        raise RunError(f"{run_uri} is a {model_kind} model: use {COMMAND_FOR[model_kind]}")
    if dataset.kind != model_kind:
        raise RunError(f"{dataset.store.uri()} is a {dataset.kind} dataset, the model in "
                       f"{run_uri} a {model_kind} model: pass the run's own dataset")
    sizes = {k: v for k, v in dataset.model_sizes().items() if getattr(state.model, k) != v}
    if sizes:
        raise RunError(f"the model in {run_uri} does not fit {dataset.store.uri()}: "
                       + ", ".join(f"the data's {k} is {v}, the model's {getattr(state.model, k)}"
                                   for k, v in sorted(sizes.items())))
    check_same_schema(state, dataset, "read")
    if state.data_version and state.data_version != dataset.fingerprint:
        (warn or _stderr)(f"note: {dataset.store.uri()} changed since the run was trained on it "
                          f"(version {state.data_version[:12]} -> {dataset.fingerprint[:12]})")
    return state, dataset


def check_same_schema(state, dataset, what):
    """Raise RunError if ``dataset`` is not encoded like the data ``state`` was trained on.

    ``what``: how the caller is using the dataset, for the message. A checkpoint written
    before the schema was recorded is only checked by its sizes.
    """
    trained = state.settings.data_schema
    differ = schema_differences(trained, dataset.schema()) if trained else []
    if differ:
        raise RunError(f"{dataset.store.uri()} differs from the data the run was trained on "
                       f"in {'; and in '.join(differ)}: the model cannot {what} it. Use the "
                       "run's own dataset (or new data prepared to match it), or start a new "
                       "--run on this one.")


def _stderr(message):
    print(message, file=sys.stderr)


MIN_GAIN_T = 2.0   # the network's gain over its base must be this many standard errors: the
                   # best epoch is the lowest of many validation losses, so a small win is
                   # likely luck (one-sided, about 2 % for independent steps)


def base_choice(state, epoch=None):
    """{"epoch", "valid_loss", "valid_base_loss", "uses_base"} of ``epoch`` (default: the
    checkpoint's) in ``state``'s history: whether its
    network did not beat its base alone on the validation part by :data:`MIN_GAIN_T`
    standard errors of the step-by-step gain; None when the history does not say (a model
    without a base, an epoch not scored, a run trained before it was recorded)."""
    epoch = state.epoch if epoch is None else epoch
    record = next((m for m in reversed(state.history) if m["epoch"] == epoch), {})
    loss, base = record.get("valid_loss"), record.get("valid_base_loss")
    if loss is None or base is None:
        return None
    t = record.get("valid_gain_t")
    return {"epoch": epoch, "valid_loss": loss, "valid_base_loss": base, "gain_t": t,
            "uses_base": loss >= base or (t is not None and t < MIN_GAIN_T)}


def forecasting_state(state, network=False):
    """(the state whose θ forecasts, :func:`base_choice`): the base alone (output layer zero,
    :func:`rnn_core.network.base_only`) where the network did not beat it on the validation
    part, unless ``network``."""
    from rnn_core.network import base_only

    choice = base_choice(state)
    if choice is not None and choice["uses_base"] and network:
        return state, {**choice, "network_asked": True}
    if choice is None or not choice["uses_base"]:
        return state, choice
    return replace(state, theta=base_only(state.theta, state.model)), choice


def beaten_by_classical(state, choice, forecaster, valid_mse):
    """(the state whose θ forecasts, choice) of a run whose network beat its base on the
    validation part but not ``forecaster``, whose validation MSE was ``valid_mse``: the base
    alone, as where the network does not beat its base (:func:`forecasting_state`)."""
    from rnn_core.network import base_only

    return (replace(state, theta=base_only(state.theta, state.model)),
            {**choice, "uses_base": True, "beaten_by": forecaster,
             "beaten_by_mse": valid_mse})


FORECASTER_NAMES = {"ar": "its AR base, refitted", "persistence": "the last value",
                    "arx": "ARX (its inputs and its own lags), which forecast the validation "
                           "part best",
                    "ets": "ETS, which forecast the validation part best",
                    "ar_ets": "the mean of AR and ETS, which forecast the validation part best"}


SHORT_NAMES = {"ar": "AR", "persistence": "last value", "arx": "ARX", "ets": "ETS",
               "ar_ets": "mean"}


def base_name(cfg):
    """The base of a series model ``cfg`` in words."""
    if cfg.ar is not None:
        return f"{'ARX' if cfg.ar_inputs else 'AR'}(p={cfg.ar_order}) base"
    return "last-value base"


def base_line(state, choice, weighed=True):
    """What the network of ``state`` does against its base on the validation part, one line
    (None if not known: ``choice`` None). weighed: ``choice`` has been through
    :func:`jobs.scoring.classical_choice` (else a network that beats its base is yet to be
    weighed against the classical forecasters, and the line says so)."""
    if choice is None:
        return None
    base_name_ = base_name(state.model)
    losses = f"{choice['valid_loss']:.4g} against {choice['valid_base_loss']:.4g}" + (
        f", gain {choice['gain_t']:.1f} standard errors" if choice.get("gain_t") is not None
        else "")
    if choice.get("network_asked"):
        return (f"epoch {choice['epoch']}'s network does not clearly beat its {base_name_} on "
                f"the validation part ({losses}); the network anyway, as --network asks")
    if choice.get("beaten_by"):
        return (f"epoch {choice['epoch']}'s network beats its {base_name_} on the validation "
                f"part ({losses}) but not {SHORT_NAMES[choice['beaten_by']]} "
                f"({choice['beaten_by_mse']:.4g}): evaluate and forecast use "
                f"{classical_choice_text(choice)} (--network: the network)")
    if choice["uses_base"]:
        return (f"epoch {choice['epoch']}'s network does not clearly beat its {base_name_} on the "
                f"validation part ({losses}): evaluate and forecast use "
                f"{classical_choice_text(choice)} (--network: the network)")
    return (f"epoch {choice['epoch']}'s network beats its {base_name_} on the validation part "
            f"({losses})" + ("" if weighed else "; evaluate and forecast weigh it against the "
                             "classical forecasters there too"))


def classical_choice_text(choice):
    """The classical forecaster(s) a run uses, in words (``choice``: :func:`base_line`'s)."""
    if choice.get("by_series"):
        counts = ", ".join(f"{SHORT_NAMES[name]} {n}" for name, n in choice["by_series"].items())
        return ("for each series the one of its classical forecasters that forecast its "
                f"validation part best ({counts} series)")
    return FORECASTER_NAMES.get(choice.get("forecaster"), "its base, ARX, ETS or the mean of "
                                "AR and ETS, whichever forecast it best")


def with_base_coefficients(state, ar):
    """``state`` whose AR base is ``ar`` (an :class:`rnn_core.autoregression.AR`), e.g. the
    base refitted on more data once it was chosen over the network; a model without an AR
    base comes back as it is."""
    if state.model.ar is None:
        return state
    return replace(state, model=replace(state.model, ar=ar.coef.tolist()))
