#!/usr/bin/env python
"""Forecasters trained with the default flags against the classical ones, on a test part.

Series: statsmodels' data sets (yearly sunspots, monthly El Niño sea surface temperature,
weekly CO2 at Mauna Loa, yearly Nile flow, quarterly US unemployment; no timestamps) and
R's fpp2 monthly/quarterly series with their dates (a10, h02, elecequip, qcement, usmelec,
auscafe; ``scripts/benchmark_series.py`` converts them once), and the panels fpp2
``visnights`` (20 quarterly series) and fpp3 ``us_employment`` (148 monthly series).

Each is prepared with the last 20 % of every series held out for the test and the 20 %
before it for validation (``--valid 0.2 --test 0.2``, ``--time date`` where there are
dates, every other flag default), trained with no flags but ``--data`` and ``--run``
(inline runner), and scored one step ahead on the test part, on which nothing was chosen:

* ``model``: at the epoch chosen on the validation part, as ``evaluate`` reports it (the
  base alone where the network did not beat it on validation);
* ``network_last``: the network at the last epoch (no selection at all);
* persistence, seasonal naive, AR(p by AIC) and ETS (form by AICc), all fitted on
  train + valid, on the same test steps.

Prints one JSON line per series: test MSE (normalized) and MASE of each (and of ``ar_ets``,
the mean of the AR and ETS forecasts), the best baseline by MSE and the ratios to it, and
``ratio_to_best_classical``, the model's MSE over the best of persistence, seasonal naive,
AR and ETS (< 1: the model wins); for a panel, mean MASE, the share of series where the
model's MASE is at most (and below) the best single classical forecaster's, and the worst
five.

    python scripts/bench_forecast.py [--series a10,visnights] [--work DIR]
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


DATA = os.path.join(os.path.expanduser("~"), ".cache", "hadoop-rnn", "series")
STATSMODELS = {"sunspots": sunspots, "elnino": elnino, "co2": co2, "nile": nile,
               "unemployment": unemployment}
DATED = ("a10", "h02", "elecequip", "qcement", "usmelec", "auscafe")
PANELS = ("visnights", "us_employment")
SERIES = tuple(STATSMODELS) + DATED + PANELS
CLASSICAL = ("persistence", "seasonal_naive", "ar", "ets")   # the bar: not their mean


def quiet(line):
    """Drop the progress lines: the JSON lines are the output."""


def inputs(name, work):
    """(csv path, prepare keyword arguments) of a benchmark series."""
    if name in STATSMODELS:
        frame = STATSMODELS[name]()
        path = os.path.join(work, f"{name}.csv")
        frame.to_csv(path, index=False)
        return path, {"columns": [frame.columns[0]]}
    path = os.path.join(DATA, f"{name}.csv")
    if not os.path.exists(path):
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "benchmark_series.py"),
                        "--out", DATA], check=True, stdout=subprocess.DEVNULL)
    return path, {"columns": ["value"], "time_column": "date",
                  **({"id_column": "id"} if name in PANELS else {})}


def figures(metrics, prefix=""):
    """{name: normalized MSE, name_mase: MASE} of the model and every baseline."""
    out = {f"{prefix}model": round(metrics["mse_normalized"], 5),
           f"{prefix}model_mase": round(metrics["mase"], 4)}
    if not prefix:
        for base, b in metrics["baselines"].items():
            out[base] = round(b["mse_normalized"], 5)
            out[f"{base}_mase"] = round(b["mase"], 4)
    return out


def bench(name, work):
    """Prepare, train and evaluate one series with default flags; its JSON-able result."""
    path, kwargs = inputs(name, work)
    data, run = os.path.join(work, f"{name}-data"), os.path.join(work, f"{name}-run")
    started = time.time()
    prepare([path], data, "series", valid=0.2, test=0.2, force=True, log=quiet, **kwargs)
    result = train(data, run, log=quiet)
    chosen = evaluate(run)
    last = evaluate(run, checkpoint="latest", network=True)
    best = chosen["best_baseline"]
    classical = {name: chosen["baselines"][name]["mse_normalized"] for name in CLASSICAL
                 if name in chosen["baselines"]}
    best_classical = min(classical, key=classical.get)
    out = {"series": name, "epochs": result.epoch, "best_epoch": chosen["epoch"],
           "uses_base": bool(chosen["base_choice"] and chosen["base_choice"]["uses_base"]),
           **figures(chosen), "network_last": round(last["mse_normalized"], 5),
           "season": chosen["season"], "ar_order": chosen["ar_order"], "ets_form": chosen["ets"],
           "best_baseline": best,
           "ratio_to_best_baseline": round(chosen["ratio_to_best_baseline"], 3),
           "ratio_network_last": round(last["mse_normalized"]
                                       / chosen["baselines"][best]["mse_normalized"], 3),
           "best_classical": best_classical,
           "ratio_to_best_classical": round(chosen["mse_normalized"]
                                            / classical[best_classical], 3)}
    if "series" in chosen:
        panel = chosen["series"]
        out.update(panel_series=panel["count"], mase_best_baseline=panel["best_baseline"],
                   share_model_at_most_best=round(panel["share_model_at_most_best"], 3),
                   share_model_below_best=round(panel["share_model_below_best"], 3),
                   worst=[[w["id"], round(w["ratio"], 3)] for w in panel["worst"]],
                   share_network_last_at_most_best=round(
                       last["series"]["share_model_at_most_best"], 3))
    out["seconds"] = round(time.time() - started, 1)
    return out


def main():
    run_benches(__doc__.splitlines()[0], "series", list(SERIES), "bench-forecast-",
                lambda name, work: [bench(name, work)])


if __name__ == "__main__":
    main()
