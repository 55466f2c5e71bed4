#!/usr/bin/env python
"""Coverage on the test part of the forecast intervals calibrated on the validation part.

Each series of ``scripts/bench_forecast.py`` is prepared with ``--valid 0.2 --test 0.2``,
trained (``--epochs``, default 30), and scored by ``evaluate`` one step and ``--horizon``
H steps ahead: the share of its test steps inside the 80 % and 95 % intervals of the
forecaster the run uses (:mod:`rnn_core.intervals`), adapted to the misses before each
step (the default), with fixed levels (split conformal), and with fixed symmetric |e|
quantiles, for comparison. One JSON line per series and H.

    python scripts/bench_intervals.py [--series sunspots:5,co2:13] [--epochs 30] [--work DIR]
"""
import argparse
import functools
import json
import os
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "scripts"))

from bench_forecast import inputs, quiet  # noqa: E402
from jobs.preparing import prepare  # noqa: E402
from jobs.scoring import evaluate  # noqa: E402
from jobs.training import RunSpec, train  # noqa: E402
from rnn_core import intervals  # noqa: E402
from workdir import add_work_flag, work_dir  # noqa: E402

SERIES = ("sunspots:5,elnino:12,co2:13,a10:12,visnights:4,nile:5,unemployment:4,h02:12,elecequip:12,"
          "qcement:4,usmelec:12,auscafe:12")


VARIANTS = {"adaptive": {}, "fixed": {"gamma": 0}, "symmetric": {"gamma": 0, "symmetric": True}}


def coverage(run, horizon, variant):
    """evaluate's coverage of the run's test part with the intervals of ``variant``."""
    counts = intervals.coverage_counts
    intervals.coverage_counts = functools.partial(counts, **VARIANTS[variant])
    try:
        metrics = evaluate(run, horizon=horizon, runner=None)
    finally:
        intervals.coverage_counts = counts
    per_series = [(row["coverage_80"], row["coverage_95"])
                  for row in (metrics.get("series") or {}).get("table", [])]
    return metrics, per_series


def bench(name, horizon, epochs, work, variants):
    path, kwargs = inputs(name, work)
    data, run = os.path.join(work, f"{name}-data"), os.path.join(work, f"{name}-run")
    prepare([path], data, "series", valid=0.2, test=0.2, force=True, log=quiet, **kwargs)
    train(data, run, epochs=epochs, spec=RunSpec(), log=quiet)
    for h in sorted({1, horizon}):
        started = time.time()
        out = {"series": name, "horizon": h}
        for key in variants:
            metrics, per_series = coverage(run, h, key)
            out[key] = {level: round(share, 3) for level, share in metrics["coverage"].items()}
            if per_series:
                out[f"{key}_series_95_range"] = [round(min(s[1] for s in per_series), 3),
                                                 round(max(s[1] for s in per_series), 3)]
        chosen = metrics["base_choice"] or {}
        out.update(steps=metrics["coverage_steps"], gaussian_series=metrics["coverage_gaussian"],
                   forecaster=("network" if not chosen.get("uses_base")
                               else chosen.get("forecaster")),
                   seconds=round(time.time() - started, 1))
        print(json.dumps(out), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default=SERIES, help="name:H,... (default %(default)s)")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="adaptive (the default intervals), fixed, symmetric; comma-separated "
                             "(default: %(default)s)")
    add_work_flag(parser)
    args = parser.parse_args()
    with work_dir(args.work, "bench-intervals-") as work:
        for item in args.series.split(","):
            name, _, horizon = item.partition(":")
            bench(name, int(horizon or 1), args.epochs, work, args.variants.split(","))


if __name__ == "__main__":
    main()
