#!/usr/bin/env python
"""Forecasters trained with the default flags against the classical baselines.

For each series of statsmodels' data sets (yearly sunspots, monthly El Niño sea surface
temperature, weekly CO2 at Mauna Loa, yearly Nile flow, quarterly US unemployment) this
prepares the series with the last 20 % held out (``--valid 0.2``, every other flag
default), trains with no flags but ``--data`` and ``--run`` (inline runner), and evaluates
one-step forecasts of the held-out part.

Prints one JSON line per series: the model's normalized MSE at its best epoch (what
``evaluate`` reports by default) and at its last epoch, each baseline's (persistence,
seasonal naive, AR(p) fitted on the training part), the best baseline and the model's ratio
to it (< 1: the model wins), the epochs trained and the seconds taken. The best epoch is
chosen on the same held-out part it is scored on (there is no third split), so the
last-epoch figure is the one free of that selection.

    python scripts/bench_forecast.py [--series sunspots,co2] [--work DIR]
"""
import argparse
import json
import os
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from jobs.preparing import prepare  # noqa: E402
from jobs.scoring import evaluate  # noqa: E402
from jobs.training import train  # noqa: E402


def sunspots():
    import statsmodels.datasets as d
    return d.sunspots.load_pandas().data[["SUNACTIVITY"]]


def elnino():
    import pandas as pd
    import statsmodels.datasets as d
    months = d.elnino.load_pandas().data.drop(columns="YEAR")
    return pd.DataFrame({"temperature": months.to_numpy().ravel()})  # year by year, in order


def co2():
    import statsmodels.datasets as d
    return d.co2.load_pandas().data[["co2"]]      # 59 missing weeks: interpolated by prepare


def nile():
    import statsmodels.datasets as d
    return d.nile.load_pandas().data[["volume"]]


def unemployment():
    import statsmodels.datasets as d
    return d.macrodata.load_pandas().data[["unemp"]]


SERIES = {"sunspots": sunspots, "elnino": elnino, "co2": co2, "nile": nile,
          "unemployment": unemployment}


def quiet(line):
    """Drop the progress lines: the JSON lines are the output."""


def bench(name, work):
    """Prepare, train and evaluate one series with default flags; its JSON-able result."""
    frame = SERIES[name]()
    column = frame.columns[0]
    path = os.path.join(work, f"{name}.csv")
    frame.to_csv(path, index=False)
    data, run = os.path.join(work, f"{name}-data"), os.path.join(work, f"{name}-run")
    started = time.time()
    prepare([path], data, "series", valid=0.2, columns=[column], force=True, log=quiet)
    result = train(data, run, log=quiet)
    best = evaluate(run)
    last = evaluate(run, checkpoint="latest")
    out = {"series": name, "steps": len(frame), "epochs": result.epoch,
           "best_epoch": best["epoch"], "model": round(best["mse_normalized"], 5),
           "model_last_epoch": round(last["mse_normalized"], 5)}
    out.update({base: round(b["mse_normalized"], 5) for base, b in best["baselines"].items()})
    out.update(season=best["season"], ar_order=best["ar_order"],
               best_baseline=best["best_baseline"],
               ratio_to_best_baseline=round(best["ratio_to_best_baseline"], 3),
               ratio_last_epoch=round(last["ratio_to_best_baseline"], 3),
               seconds=round(time.time() - started, 1))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default=",".join(SERIES),
                        help=f"comma-separated, of {', '.join(SERIES)}")
    parser.add_argument("--work", help="directory for data and runs (default: a temp dir)")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="bench-forecast-")
    os.makedirs(work, exist_ok=True)
    for name in args.series.split(","):
        print(json.dumps(bench(name, work)), flush=True)


if __name__ == "__main__":
    main()
