#!/usr/bin/env python
"""How the step γ of the adapted interval levels was chosen: on validation parts only.

For each series of ``scripts/bench_intervals.py`` (prepared with ``--valid 0.2 --test 0.2``,
trained ``--epochs``), ``evaluate`` of the test part at 1 and H steps hands every
forecaster's validation and test errors, in time order, to the intervals; they are kept
here, one case per (series, H, forecaster), and replayed (:func:`rnn_core.intervals.replay`)
at each γ: the first half of each validation part calibrating and the second half scored
(what γ is chosen on), then the whole validation part calibrating and the test part scored
(reported, not chosen on). Per γ and part, one JSON line: the mean over cases of
|coverage − 80 %| + |coverage − 95 %|, the share of cases within 5 points of both, and the
geometric mean of the interval score (Gneiting & Raftery 2007) over that of fixed levels.

    python scripts/bench_interval_step.py [--gammas 0,0.02,0.05,0.1,0.2] [--epochs 2] [--work DIR]
"""
import argparse
import collections
import json
import os
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "scripts"))

from bench_forecast import inputs, quiet  # noqa: E402
from bench_intervals import SERIES  # noqa: E402
from jobs.mr import series_rows  # noqa: E402
from jobs.preparing import prepare  # noqa: E402
from jobs.scoring import evaluate  # noqa: E402
from jobs.training import RunSpec, train  # noqa: E402
from rnn_core import intervals  # noqa: E402
from workdir import add_work_flag, work_dir  # noqa: E402


def collect(name, horizon, epochs, work):
    """[(calibration errors (n,), new errors (m,), h) per series of the panel] by forecaster
    and h: what evaluate's test part hands its intervals (first target column)."""
    path, kwargs = inputs(name, work)
    data, run = os.path.join(work, f"{name}-data"), os.path.join(work, f"{name}-run")
    prepare([path], data, "series", valid=0.2, test=0.2, force=True, log=quiet, **kwargs)
    train(data, run, epochs=epochs, spec=RunSpec(), log=quiet)
    cases, add = collections.defaultdict(list), series_rows.add_coverage

    def keep(sums, calibration, predicted, actual, model_forecast, h):
        for forecaster, (errors,) in calibration.items():
            values = predicted.get(forecaster)
            values = model_forecast() if values is None and forecaster == "model" else values
            if values is not None:
                cases[(name, h, forecaster)].append((np.asarray(errors)[:, 0],
                                                     (actual - values)[:, 0], h))
        return add(sums, calibration, predicted, actual, model_forecast, h)

    series_rows.add_coverage = keep
    try:
        for h in sorted({1, horizon}):
            evaluate(run, horizon=h, runner=None)
    finally:
        series_rows.add_coverage = add
    return cases


def scored(members, gamma, part):
    """(80 % coverage, 95 % coverage, mean interval score) of a case's series at ``gamma``."""
    inside, score, steps = np.zeros(2), 0.0, 0
    replay, adapted = intervals.replay, intervals.adapted_interval
    for calibration, new, h in members:
        if part == "valid":
            half = len(calibration) // 2
            calibration, new = calibration[:half], calibration[half:]
        if len(calibration) < 2 or not len(new):
            continue
        used = []
        intervals.adapted_interval = lambda *a, **k: used.append(adapted(*a, **k)) or used[-1]
        try:
            hit, _ = replay(calibration, new, h, gamma=gamma)
        finally:
            intervals.adapted_interval = adapted
        inside += [hit[0.80].sum(), hit[0.95].sum()]
        for y, by_level in zip(new, used):
            for level, (lower, upper) in by_level.items():
                low, high, alpha = float(lower[0]), float(upper[0]), 1 - level
                score += (high - low) + 2 / alpha * (max(low - y, 0) + max(y - high, 0))
        steps += len(new)
    return (*(inside / steps), score / steps) if steps else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default=SERIES, help="name:H,... (default %(default)s)")
    parser.add_argument("--gammas", default="0,0.02,0.05,0.1,0.2")
    parser.add_argument("--epochs", type=int, default=2)
    add_work_flag(parser)
    args = parser.parse_args()
    cases = {}
    with work_dir(args.work, "bench-interval-step-") as work:
        for item in args.series.split(","):
            name, _, horizon = item.partition(":")
            cases.update(collect(name, int(horizon or 1), args.epochs, work))
    gammas = [float(g) for g in args.gammas.split(",")]
    for part in ("valid", "test"):
        fixed = {key: scored(members, 0.0, part) for key, members in cases.items()}
        for gamma in gammas:
            rows = [(scored(members, gamma, part), fixed[key]) for key, members in cases.items()
                    if fixed[key] is not None]
            error = [abs(r[0] - 0.80) + abs(r[1] - 0.95) for r, _ in rows]
            within = [abs(r[0] - 0.80) <= 0.05 and abs(r[1] - 0.95) <= 0.05 for r, _ in rows]
            ratio = np.array([r[2] / f[2] for r, f in rows])
            print(json.dumps({"part": part, "gamma": gamma, "cases": len(rows),
                              "coverage_error": round(float(np.mean(error)), 3),
                              "within_5_points": round(float(np.mean(within)), 2),
                              "interval_score_vs_fixed":
                                  round(float(np.exp(np.mean(np.log(ratio)))), 3)}), flush=True)


if __name__ == "__main__":
    main()
