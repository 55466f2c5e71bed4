"""A trained run and the dataset it was trained on: what evaluate, sample, forecast and plot load.

The checkpoint records the data directory the run was trained on (``settings["data"]``);
``--data`` overrides it, e.g. after the dataset moved or to evaluate on other data of the
same shape.
"""
import sys

from jobs.data.dataset import Dataset
from jobs.run.checkpoint import load_latest
from jobs.storage import open_store


class RunError(ValueError):
    """The run directory has no checkpoint, or it does not fit the dataset."""


def load_trained_state(run_uri):
    """The newest TrainingState in the run directory."""
    state = load_latest(open_store(run_uri))
    if state is None:
        raise RunError(f"{open_store(run_uri).uri()} holds no checkpoint: train first "
                       "(hadoop-rnn train --data DATA --run RUN)")
    return state


# the command that fits each kind of model, for the error when the other one is asked for
COMMAND_FOR = {"text": "hadoop-rnn sample", "series": "hadoop-rnn forecast"}


def load_run(run_uri, data_uri=None, warn=None, kind=None):
    """(state, dataset) of a run; the dataset is ``data_uri`` or the one the run recorded.

    ``kind`` ("text" or "series"), if given, is the kind of model the caller needs.
    """
    state = load_trained_state(run_uri)
    data_uri = data_uri or state.settings.get("data")
    if not data_uri:
        raise RunError(f"{run_uri}: the checkpoint does not name its dataset: pass --data DATA_DIR")
    dataset = Dataset(data_uri)
    if kind is not None and dataset.kind != kind:
        raise RunError(f"{run_uri} is a {dataset.kind} model: use {COMMAND_FOR[dataset.kind]}")
    if dataset.model_sizes() != {k: getattr(state.model, k) for k in dataset.model_sizes()}:
        raise RunError(f"the model in {run_uri} does not fit {data_uri} (model "
                       f"{state.model.to_dict()}, data {dataset.model_sizes()})")
    if state.data_version and state.data_version != dataset.fingerprint:
        (warn or _stderr)(f"note: {data_uri} changed since the run was trained on it "
                          f"(version {state.data_version[:12]} -> {dataset.fingerprint[:12]})")
    return state, dataset


def _stderr(message):
    print(message, file=sys.stderr)
