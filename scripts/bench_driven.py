#!/usr/bin/env python
"""Series driven by inputs: the model with its inputs, the same model without them, and ARX,
on a test part.

Systems (R's fpp2, converted once by ``scripts/benchmark_series.py``):

* ``elecdemand``: half-hourly electricity demand of Victoria in 2014, driven by the
  temperature and a working-day flag, with the hour of day and day of week as calendar
  features; scored one step and a day (48 steps) ahead;
* ``uschange``: quarterly change of US consumption, driven by income, production, savings
  and unemployment; one step ahead;
* ``insurance``: monthly insurance quotes, driven by TV advertising; one step ahead.

Each is prepared twice from the same file with the same parts (``--valid 0.2 --test 0.2``,
``--time date``): with its inputs, and with the target alone. Both are trained with no flag
but ``--data`` and ``--run`` (inline runner) and scored on the test part, on which nothing
was chosen: the model at the epoch chosen on validation (its classical fallback where the
network did not beat its base there), the network at that epoch whatever the fallback
(``network``), beside ARX (the targets' own p lags and the inputs, fitted on train + valid),
AR, ETS, seasonal naive and persistence, all on the same steps.

Prints one JSON line per system and horizon: normalized test MSE of each, the ratios of the
model with inputs to ARX and to the model without them (< 1: it wins), and the share of the
test steps inside the model's 80 % and 95 % intervals.

    python scripts/bench_driven.py [--systems elecdemand,insurance] [--work DIR]
"""
import os
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from jobs.preparing import prepare  # noqa: E402
from jobs.scoring import evaluate  # noqa: E402
from jobs.training import train  # noqa: E402
from workdir import run_benches  # noqa: E402

DATA = os.path.join(os.path.expanduser("~"), ".cache", "hadoop-rnn", "series")
# target, inputs, calendar features, horizons scored (the day ahead of half-hourly data)
SYSTEMS = {"elecdemand": ("Demand", ["Temperature", "WorkDay"], ["hour", "dow"], (1, 48)),
           "uschange": ("Consumption", ["Income", "Production", "Savings", "Unemployment"],
                        [], (1,)),
           "insurance": ("Quotes", ["TV_advert"], [], (1,))}


def quiet(line):
    """Drop the progress lines: the JSON lines are the output."""


def table(name):
    """The CSV of a system, converted once."""
    path = os.path.join(DATA, f"{name}.csv")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "benchmark_series.py"),
                        "--out", DATA], check=True, stdout=subprocess.DEVNULL)
    return path


def trained(path, work, name, target, inputs, calendar):
    """(run directory, training result) of a model prepared and trained with default flags."""
    data, run = os.path.join(work, f"{name}-data"), os.path.join(work, f"{name}-run")
    prepare([path], data, "series", valid=0.2, test=0.2, force=True, log=quiet,
            columns=[target], time_column="date", input_columns=inputs, calendar=calendar)
    return run, train(data, run, log=quiet)


def bench(name, work):
    """The JSON-able results of one system, one per horizon, as they come."""
    target, inputs, calendar, horizons = SYSTEMS[name]
    path = table(name)
    started = time.time()
    driven, result = trained(path, work, f"{name}-inputs", target, inputs, calendar)
    alone, alone_result = trained(path, work, f"{name}-alone", target, [], [])
    season = 336 if name == "elecdemand" else None   # the weekly season of half-hourly data
    for horizon in horizons:
        with_inputs = evaluate(driven, horizon=horizon, season=season)
        network = evaluate(driven, horizon=horizon, season=season, network=True)
        without = evaluate(alone, horizon=horizon, season=season)
        base = with_inputs["baselines"]
        out = {"system": name, "horizon": horizon, "epochs": result.epoch,
               "best_epoch": with_inputs["epoch"],
               "uses_base": bool(with_inputs["base_choice"]
                                 and with_inputs["base_choice"]["uses_base"]),
               "model": round(with_inputs["mse_normalized"], 5),
               "network": round(network["mse_normalized"], 5),
               "model_without_inputs": round(without["mse_normalized"], 5),
               "without_best_epoch": without["epoch"],
               "without_uses_base": bool(without["base_choice"]
                                         and without["base_choice"]["uses_base"]),
               **{f: round(b["mse_normalized"], 5) for f, b in base.items()},
               "ar_order": with_inputs["ar_order"], "arx_order": with_inputs.get("arx_order"),
               "season": with_inputs["season"],
               "coverage": {level: round(share, 3)
                            for level, share in with_inputs.get("coverage", {}).items()},
               "ratio_to_arx": round(with_inputs["mse_normalized"]
                                     / base["arx"]["mse_normalized"], 3),
               "ratio_to_without_inputs": round(with_inputs["mse_normalized"]
                                                / without["mse_normalized"], 3),
               "seconds": round(time.time() - started, 1)}
        yield out


def main():
    run_benches(__doc__.splitlines()[0], "systems", list(SYSTEMS), "bench-driven-", bench)


if __name__ == "__main__":
    main()
