"""``hadoop-rnn forecast``: the next values of a series, in original units.

The model reads the last ``--context`` steps of the series (default: the dataset's chunk
length, the longest context it was trained on), then predicts ``--horizon`` steps, each
prediction fed back as the next input. The series is the dataset's last sequence (training
then validation part, i.e. up to the end of the file it was prepared from), or ``--input``: a
CSV or Parquet file with the same columns, read with the dataset's missing-value policy and
normalization.
"""
import json

from jobs import series_io
from jobs.prepare import join_chunks
from jobs.trained import load_run
from rnn_core.generate import forecast


def add_arguments(parser):
    parser.add_argument("--run", required=True, help="run directory (local or hdfs://)")
    parser.add_argument("--data", help="dataset directory (default: the one the run was trained on)")
    parser.add_argument("--horizon", type=int, required=True, help="steps to forecast")
    parser.add_argument("--input", help="CSV or Parquet file whose end to forecast from")
    parser.add_argument("--context", type=int,
                        help="steps of history to condition on (default: the chunk length)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def dataset_series(dataset):
    """The last sequence of the dataset, normalized: (L, F)."""
    chunks = {}
    for split in ("train", "valid"):
        chunks.update(dataset.iter_records(split))
    last = max(key.split("/")[0] for key in chunks)
    return join_chunks([chunks[k] for k in sorted(chunks) if k.split("/")[0] == last])


def input_series(path, meta):
    """The file's columns, missing values filled as at prepare time, normalized: (L, F)."""
    values, _ = series_io.fill_missing(series_io.read_series(path, meta["columns"]),
                                       meta["missing"]["policy"], meta["columns"], path)
    return series_io.normalize(values, meta["normalization"])


def run_forecast(args):
    """A JSON-able dict: columns, and the forecast (horizon, F) in original units."""
    state, dataset = load_run(args.run, args.data, kind="series")
    if args.horizon < 1:
        raise ValueError(f"--horizon must be at least 1, got {args.horizon}")
    meta = dataset.meta
    history = input_series(args.input, meta) if args.input else dataset_series(dataset)
    context = args.context or meta["chunk"]
    if context < 1:
        raise ValueError(f"--context must be at least 1, got {context}")
    predicted = forecast(state.theta, state.model, history[-context:], args.horizon)
    values = series_io.denormalize(predicted.astype(float), meta["normalization"])
    return {"columns": meta["columns"], "horizon": args.horizon,
            "context": int(min(context, len(history))),
            "last": series_io.denormalize(history[-1:], meta["normalization"])[0].tolist(),
            "forecast": values.tolist()}


def main(args):
    result = run_forecast(args)
    if args.json:
        print(json.dumps(result))
        return 0
    columns = result["columns"]
    print("step " + " ".join(f"{name:>14}" for name in columns))
    print(f"{0:>4} " + " ".join(f"{v:14.6g}" for v in result["last"]) + "   (last observed)")
    for step, row in enumerate(result["forecast"], 1):
        print(f"{step:>4} " + " ".join(f"{v:14.6g}" for v in row))
    return 0
