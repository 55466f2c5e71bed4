"""Scoring a series run series by series (jobs.mr.series_rows): the MapReduce job
jobs.mr.series_score gives the numbers of this process, the driver gets a row per series and
one record of sums per reducer, never the data, and the sums of the histories fit what the
histories fit together."""
import numpy as np
import pytest
from helpers import STATIONS, network_lost, write_station_table

from jobs import scoring
from jobs.data.dataset import Dataset
from jobs.hadoop.launch import RunnerOptions
from jobs.mr.series_score import HISTORY, MRSeriesScore
from jobs.preparing import api as preparing
from jobs.run.trained import load_run
from jobs.mr.series_rows import (WHOLE, SequencePart, add_history, fit_history, history_statistics,
                                 plan_bytes, sequence_parts)
from jobs.training import RunSpec, train
from rnn_core import baselines
from rnn_core.autoregression import fit_ar

INLINE = RunnerOptions(runner="inline")


@pytest.fixture(scope="module")
def panel_run(tmp_path_factory):
    """(data, run) of a small network trained one epoch on the stations' table, each series
    in its own units, with a test part."""
    tmp = tmp_path_factory.mktemp("panel")
    table = write_station_table(tmp / "table")
    preparing.prepare([str(table)], str(tmp / "data"), "series", columns=["temp"],
                      id_column="station", time_column="day", chunk=10, context=5, valid=0.2,
                      test=0.2, shards=2, log=lambda message: None)
    train(str(tmp / "data"), str(tmp / "run"), epochs=1, spec=RunSpec(hidden=4),
          log=lambda message: None)
    return str(tmp / "data"), str(tmp / "run")


def same_series_tables(a, b):
    assert [row["id"] for row in a["series"]["table"]] == [row["id"] for row in b["series"]["table"]]
    for mine, theirs in zip(a["series"]["table"], b["series"]["table"]):
        numbers = {name: value for name, value in mine.items() if name != "id"}
        assert numbers == pytest.approx({name: theirs[name] for name in numbers}, rel=1e-9)


@pytest.mark.parametrize("series_per_reducer", [scoring.SERIES_PER_REDUCER, 1],
                         ids=["one reducer", "a reducer per series"])
def test_a_panel_is_scored_by_the_mapreduce_job_with_the_numbers_of_this_process(
        panel_run, monkeypatch, series_per_reducer):
    monkeypatch.setattr(scoring, "SERIES_PER_REDUCER", series_per_reducer)
    here = scoring.evaluate(panel_run[1], runner=None, network=True)
    job = scoring.evaluate(panel_run[1], runner=INLINE, network=True)
    assert (here["runner"], job["runner"]) == ("process", "inline") and job["split"] == "test"
    assert job["series"]["count"] == len(STATIONS)
    same_series_tables(here, job)
    assert job["mse"] == pytest.approx(here["mse"], rel=1e-12)
    assert (job["season"], job["ar_order"]) == (here["season"], here["ar_order"])


def test_the_series_job_runs_a_reducer_per_hundred_series_at_most_one_per_shard():
    assert [scoring.series_reducers(series, shards=6)
            for series in (1, 10, 100, 101, 450, 10**6)] == [1, 1, 1, 2, 5, 6]
    assert scoring.series_reducers(0, shards=0) == 1


def test_a_run_that_uses_its_classical_forecaster_is_scored_by_the_job_as_in_this_process(
        panel_run, monkeypatch):
    monkeypatch.setattr(scoring, "load_run", network_lost(scoring.load_run))
    here = scoring.evaluate(panel_run[1], runner=None)
    job = scoring.evaluate(panel_run[1], runner=INLINE)
    assert job["base_choice"]["uses_base"]
    assert job["base_choice"]["forecaster"] == here["base_choice"]["forecaster"]
    same_series_tables(here, job)


def test_a_forecast_that_refits_its_classical_base_runs_one_history_pass(panel_run,
                                                                        monkeypatch, tmp_path):
    import json
    import shutil

    from jobs import generating

    run = shutil.copytree(panel_run[1], tmp_path / "run")   # nothing kept by other tests
    for kept in (scoring.VALID_FORECASTERS, scoring.REFITTED_BASE):
        (run / kept).unlink(missing_ok=True)

    monkeypatch.setattr(generating, "load_run", network_lost(generating.load_run))
    passes, refits = [], []
    run_job, refit = scoring.run_job_with_state, scoring.refitted_baselines
    monkeypatch.setattr(scoring, "run_job_with_state", lambda *args, files, **kwargs: (
        passes.append(json.loads(files["--plan"])["pass"]), run_job(*args, files=files, **kwargs))[1])
    monkeypatch.setattr(scoring, "refitted_baselines", lambda *args: (
        refits.append(args), refit(*args))[1])
    generating.forecast_run(str(run), 3, series_id="north", runner=INLINE)
    assert len(refits) == 1                  # the base refitted on every step: WHOLE's history
    assert passes == ["history", "score"]    # and the validation part's, in one pass


def test_a_reducer_emits_one_record_of_history_sums_per_split_whatever_its_series(panel_run,
                                                                                   tmp_path):
    from rnn_core.serialization import save_arrays

    state, dataset = load_run(panel_run[1])
    save_arrays(tmp_path / "state.npz", state.to_arrays())
    (tmp_path / "meta.json").write_bytes(dataset.store.read_bytes("meta.json"))
    (tmp_path / "plan.json").write_bytes(plan_bytes("test", 1, histories=["test", WHOLE]))
    job = MRSeriesScore(["--state", str(tmp_path / "state.npz"), "--meta",
                         str(tmp_path / "meta.json"), "--plan", str(tmp_path / "plan.json")])
    job.reducer_init()
    lines = {}
    for split in dataset.splits():
        for line in dataset.iter_lines(split):
            lines.setdefault(line.decode().split("/")[0], []).append([split, line.decode()])
    for seq, values in sorted(lines.items()):
        assert list(job.reducer(seq, values)) == []
    (key, sums), = job.reducer_final()
    assert key == HISTORY and len(lines) == len(STATIONS) and set(sums) == {"test", WHOLE}
    for split in sums:
        assert sums[split]["ar.steps"] == sum(len(part.sequence[:part.fit_end]) for part in
                                              sequence_parts(dataset, split, state.model))


def test_a_bad_record_is_skipped_and_counted_by_the_job_as_in_this_process(panel_run, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(panel_run[0], data)
    shard = data / Dataset(str(data)).meta["test"][0]
    lines = shard.read_bytes().splitlines(keepends=True)
    shard.write_bytes(b"".join(lines[:1] + [b"not a record\n"] + lines[1:]))
    here = scoring.evaluate(panel_run[1], data=str(data), runner=None, network=True)
    job = scoring.evaluate(panel_run[1], data=str(data), runner=INLINE, network=True)
    assert here["bad_records"] == job["bad_records"] == 1
    same_series_tables(here, job)


def test_history_sums_added_over_series_fit_the_ar_and_season_of_all_histories_together():
    rng = np.random.default_rng(3)
    t = np.arange(400)
    histories = [(np.sin(2 * np.pi * t[:n] / 12) + 0.3 * rng.standard_normal(n))[:, None]
                 for n in (400, 250, 90)]
    parts = [SequencePart(seq, h, len(h), np.zeros(0, int), np.zeros(0, int), [])
             for seq, h in enumerate(histories)]
    for calendar in (None, {"step": "monthly", "seasons": [4, 12]}):
        meta = {"columns": ["v"], **({"calendar": calendar} if calendar else {})}
        stats = {}
        for part in parts:
            stats = add_history(stats, history_statistics(part, meta))
        fitted = fit_history(stats, None, meta)
        whole = fit_ar(histories)
        assert fitted["ar"].order == whole.order
        assert np.allclose(fitted["ar"].coef, whole.coef, rtol=1e-9, atol=1e-12)
        expected = (baselines.choose_season(histories, calendar["seasons"]) if calendar
                    else baselines.detect_season(histories))
        assert fitted["season"] == expected == 12


@pytest.mark.hadoop
def test_a_panel_on_hdfs_is_scored_on_hadoop_by_default_with_the_numbers_of_this_process(
        panel_run, hdfs_dir, local_framework_conf):
    import json

    from helpers import copy_to_store, hadoop_rnn

    data = copy_to_store(panel_run[0], hdfs_dir + "/data").uri()
    on_hadoop = json.loads(hadoop_rnn("evaluate", "--run", panel_run[1], "--data", data,
                                      "--network", "--mrjob-conf", local_framework_conf,
                                      "--json").stdout)
    here = scoring.evaluate(panel_run[1], runner=None, network=True)
    assert on_hadoop["runner"] == "hadoop" and on_hadoop["data"] == data
    same_series_tables(here, on_hadoop)
