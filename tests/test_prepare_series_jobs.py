"""`prepare --kind series` as MapReduce jobs: a table of many series (--id, --time) in any row
order and over several files becomes one sequence per series, sorted by time and normalized
with the training parts only; forecast --id picks a series."""
import os
import uuid

import numpy as np
import pytest
from helpers import (DAYS, STATIONS, network_lost, require_dev_cluster, station_values,
                     write_local_framework_conf, write_station_table)

from jobs.preparing import api as preparing
from jobs.data import chunks
from jobs.data.dataset import Dataset
from jobs.data.records import decode_record
from jobs.data.series_io import SeriesError
from jobs.hadoop.launch import RunnerOptions
from jobs.preparing.series import combine
from rnn_core import autoregression
from jobs.storage import open_store

@pytest.fixture
def table_dir(tmp_path):
    """The stations' rows shuffled into two Parquet files (station, day as a date, temp)."""
    return write_station_table(tmp_path / "table")


def prepare_table(inputs, out, runner=RunnerOptions(), log=lambda message: None, **options):
    options = {"chunk": 10, "context": 5, "valid": 0.25, "test": 0.0, "shards": 2, **options}
    return preparing.prepare([str(path) for path in inputs], str(out), "series",
                             columns=["temp"], id_column="station", time_column="day",
                             runner=runner, log=log, **options)


def dataset_sequences(uri):
    ds = Dataset(str(uri))
    recs = [decode_record(line) for split in ("train", "valid") for line in ds.iter_lines(split)]
    return {int(seq): values for seq, values in chunks.sequences_of(recs).items()}


def test_with_one_table_scale_each_series_is_sorted_and_normalized_by_all_training_parts(
        table_dir, tmp_path):
    meta = prepare_table([table_dir], tmp_path / "data", scale="table")
    assert meta["series_ids"] == sorted(STATIONS)
    raw = {name: station_values(name) for name in STATIONS}
    train = np.concatenate([v[:chunks.split_point(DAYS, 0.25)] for v in raw.values()])
    assert np.allclose(meta["normalization"]["mean"], [train.mean()], rtol=1e-12)
    assert np.allclose(meta["normalization"]["std"], [train.std()], rtol=1e-12)
    sequences = dataset_sequences(tmp_path / "data")
    for seq, name in enumerate(meta["series_ids"]):
        expected = (raw[name] - train.mean()) / train.std()
        assert np.allclose(sequences[seq][:, 0], expected, rtol=0, atol=1e-12)


def test_the_dataset_bytes_do_not_depend_on_the_runner(table_dir, tmp_path):
    prepare_table([table_dir], tmp_path / "inline")
    prepare_table([table_dir], tmp_path / "local", runner=RunnerOptions(runner="local"))
    for split in ("train", "valid"):
        for name in Dataset(str(tmp_path / "inline")).meta[split]:
            assert ((tmp_path / "inline" / name).read_bytes()
                    == (tmp_path / "local" / name).read_bytes())
    assert ((tmp_path / "inline" / "meta.json").read_text()
            == (tmp_path / "local" / "meta.json").read_text())


def test_a_single_series_is_normalized_exactly_as_in_memory(tmp_path):
    values = station_values("north")
    (tmp_path / "one.csv").write_text("temp\n" + "\n".join(repr(float(v)) for v in values) + "\n")
    meta = preparing.prepare([str(tmp_path / "one.csv")], str(tmp_path / "data"), "series",
                             columns=["temp"], chunk=10, valid=0.2, test=0.0, log=lambda m: None)
    train = values[:chunks.split_point(DAYS, 0.2)]
    assert meta["normalization"] == {"mean": [train.mean()], "std": [train.std()]}


def test_the_ar_fit_of_prepare_equals_the_fit_on_the_normalized_training_parts_in_memory(
        table_dir, tmp_path):
    meta = prepare_table([table_dir], tmp_path / "data", runner=RunnerOptions(runner="local"),
                         scale="table")
    norm = meta["normalization"]
    parts = [((station_values(name) - norm["mean"][0]) / norm["std"][0])[
        :chunks.split_point(DAYS, 0.25), None] for name in meta["series_ids"]]
    ar = autoregression.fit_ar(parts)           # pooled over the series, as the normalization
    assert meta["ar"]["order"] == ar.order
    np.testing.assert_allclose(meta["ar"]["coef"], ar.coef, rtol=1e-9, atol=1e-12)


def test_the_default_warm_up_reaches_back_over_every_lag_of_the_ar_fit(tmp_path):
    t = np.arange(1000)          # a pulse every 45 steps in noise: AR(p) needs lags past 45
    values = (t % 45 < 11) + 0.3 * np.random.default_rng(0).standard_normal(1000)
    (tmp_path / "one.csv").write_text("v\n" + "\n".join(repr(float(v)) for v in values) + "\n")
    lines = []
    meta = preparing.prepare([str(tmp_path / "one.csv")], str(tmp_path / "data"), "series",
                             columns=["v"], valid=0.2, log=lines.append)
    assert meta["ar"]["order"] > 32                     # past the default of 2 x chunk, 32
    assert meta["context"] == meta["ar"]["order"]
    assert f"the AR(p={meta['ar']['order']}) base's lags" in lines[0]


def test_statistics_of_groups_combine_to_those_of_the_union():
    rng = np.random.default_rng(1)
    groups = [rng.standard_normal((n, 2)) * 3 + 1 for n in (5, 17, 1, 40)]
    mean, var = combine([(len(g), g.mean(axis=0), g.var(axis=0)) for g in groups])
    union = np.concatenate(groups)
    assert np.allclose(mean, union.mean(axis=0), rtol=1e-13)
    assert np.allclose(var, union.var(axis=0), rtol=1e-13)


def test_by_default_each_series_of_a_table_is_normalized_by_its_own_training_part(table_dir,
                                                                                  tmp_path):
    meta = prepare_table([table_dir], tmp_path / "data")
    assert meta["scale"] == "series"
    sequences = dataset_sequences(tmp_path / "data")
    for seq, name in enumerate(meta["series_ids"]):
        values = station_values(name)
        train = values[:chunks.split_point(DAYS, 0.25)]
        own = meta["series_normalization"][seq]
        assert own["mean"] == pytest.approx([train.mean()], rel=1e-12)
        assert own["std"] == pytest.approx([train.std()], rel=1e-12)
        np.testing.assert_allclose(sequences[seq][:, 0], (values - train.mean()) / train.std(),
                                   rtol=0, atol=1e-12)


def test_the_ar_fit_of_own_scales_is_pooled_over_the_standardized_series(table_dir, tmp_path):
    meta = prepare_table([table_dir], tmp_path / "data")
    parts = []
    for seq, name in enumerate(meta["series_ids"]):
        own = meta["series_normalization"][seq]
        train = station_values(name)[:chunks.split_point(DAYS, 0.25)]
        parts.append(((train - own["mean"][0]) / own["std"][0])[:, None])
    np.testing.assert_allclose(meta["ar"]["coef"], autoregression.fit_ar(parts).coef, rtol=1e-9)


def test_csv_rows_in_any_order_with_iso_timestamps_are_sorted_by_time(tmp_path):
    lines = ["when,site,level", "2026-03-02T00:00:00,a,3", "2026-03-01T12:00:00,b,10",
             "2026-03-01T00:00:00,a,1", "2026-03-01T00:00:00,b,20", "2026-03-01T12:00:00,a,2",
             "2026-03-02T00:00:00,b,0"]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    meta = preparing.prepare([str(tmp_path / "t.csv")], str(tmp_path / "data"), "series",
                             columns=["level"], id_column="site", time_column="when", chunk=2,
                             context=0, valid=0.0, log=lambda m: None)
    sequences = dataset_sequences(tmp_path / "data")
    norms = meta["series_normalization"]
    restored = {name: sequences[seq][:, 0] * norms[seq]["std"][0] + norms[seq]["mean"][0]
                for seq, name in enumerate(meta["series_ids"])}
    assert np.allclose(restored["a"], [1, 2, 3]) and np.allclose(restored["b"], [20, 10, 0])


def test_a_series_with_fewer_than_two_rows_is_left_out_and_logged(tmp_path):
    (tmp_path / "t.csv").write_text("site,level\na,1\na,2\na,3\nb,7\n")
    said = []
    meta = preparing.prepare([str(tmp_path / "t.csv")], str(tmp_path / "data"), "series",
                             columns=["level"], id_column="site", chunk=2, context=0,
                             valid=0.0, log=said.append)
    assert meta["series_ids"] == ["a"]
    assert any("left out 1 series with fewer than 2 usable rows: 'b'" in line for line in said)


def test_a_missing_id_column_is_an_error_naming_the_file_and_the_columns(table_dir, tmp_path):
    with pytest.raises(SeriesError, match=r"part-0.parquet: no column 'site' \(columns: "):
        preparing.prepare([str(table_dir)], str(tmp_path / "data"), "series",
                          columns=["temp"], id_column="site", log=lambda m: None)


def test_forecast_id_forecasts_the_series_of_that_id(table_dir, tmp_path):
    from jobs.generating import dataset_series, forecast_run
    from jobs.training import RunSpec, train

    prepare_table([table_dir], tmp_path / "data")
    dataset = Dataset(str(tmp_path / "data"))
    sequences = dataset_sequences(tmp_path / "data")
    for seq, name in enumerate(dataset.meta["series_ids"]):
        assert np.array_equal(dataset_series(dataset, name)[0], sequences[seq])
    train(str(tmp_path / "data"), str(tmp_path / "run"), epochs=1,
          spec=RunSpec(hidden=8), log=lambda m: None)
    result = forecast_run(str(tmp_path / "run"), horizon=3, series_id="south")
    assert result["id"] == "south" and len(result["forecast"]) == 3
    expected_last = station_values("south")[-1]
    assert result["last"] == pytest.approx([expected_last], rel=1e-12)
    with pytest.raises(ValueError, match="no series 'west' in the dataset"):
        forecast_run(str(tmp_path / "run"), horizon=3, series_id="west")



# -- the test part ---------------------------------------------------------------------------

def test_the_test_part_is_each_sequences_end_after_its_validation_part_each_step_once():
    layout = chunks.SequenceLayout(50, chunk=6, valid=0.2, context=3, test=0.2)
    predicted = {}
    for r in layout.records():
        predicted.setdefault(r.split, []).extend(range(r.start + 1, r.end))
    assert predicted == {"train": list(range(1, 30)), "valid": list(range(30, 40)),
                         "test": list(range(40, 50))}
    assert chunks.split_points(50, 0.2, 0.2) == (30, 40)


def test_without_a_test_part_the_records_are_those_of_two_parts():
    two = list(chunks.SequenceLayout(123, 9, 0.15, 5).records())
    assert two == list(chunks.SequenceLayout(123, 9, 0.15, 5, test=0.0).records())
    assert {r.split for r in two} == {"train", "valid"}


def test_prepare_holds_out_a_test_part_that_the_normalization_and_ar_fit_never_see(table_dir,
                                                                                 tmp_path):
    meta = prepare_table([table_dir], tmp_path / "data", test=0.2)
    cut = chunks.split_point(DAYS, 0.25, 0.2)
    raw = {name: station_values(name) for name in STATIONS}
    train = np.concatenate([v[:cut] for v in raw.values()])
    assert np.allclose(meta["normalization"]["mean"], [train.mean()], rtol=1e-12)
    assert np.allclose(meta["normalization"]["std"], [train.std()], rtol=1e-12)
    for seq, name in enumerate(meta["series_ids"]):
        assert meta["series_normalization"][seq]["mean"] == pytest.approx(
            [raw[name][:cut].mean()], rel=1e-12)
    norms = meta["series_normalization"]
    ar = autoregression.fit_ar([((raw[name] - norms[seq]["mean"][0]) / norms[seq]["std"][0])[
        :cut, None] for seq, name in enumerate(meta["series_ids"])])
    assert meta["ar"]["order"] == ar.order
    np.testing.assert_allclose(meta["ar"]["coef"], ar.coef, rtol=1e-9, atol=1e-12)
    assert meta["test"] == ["test/part-00000.txt", "test/part-00001.txt"]
    assert meta["counts"]["test"]["records"] > 0 and meta["test_fraction"] == 0.2


def test_the_three_parts_join_back_into_each_whole_series(table_dir, tmp_path):
    meta = prepare_table([table_dir], tmp_path / "data", test=0.2)
    ds = Dataset(str(tmp_path / "data"))
    assert ds.splits() == ("train", "valid", "test")
    recs = [decode_record(line) for split in ds.splits() for line in ds.iter_lines(split)]
    for seq, values in chunks.sequences_of(recs).items():
        name = meta["series_ids"][int(seq)]
        norm = meta["series_normalization"][int(seq)]
        expected = (station_values(name) - norm["mean"][0]) / norm["std"][0]
        assert np.allclose(values[:, 0], expected, rtol=0, atol=1e-12)


def test_a_dataset_with_a_test_part_has_the_same_bytes_on_every_runner(table_dir, tmp_path):
    prepare_table([table_dir], tmp_path / "inline", test=0.2)
    prepare_table([table_dir], tmp_path / "local", test=0.2, runner=RunnerOptions(runner="local"))
    names = Dataset(str(tmp_path / "inline")).files()
    assert [n for n in names if n.startswith("test/")]
    for name in names:
        assert (tmp_path / "inline" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()


@pytest.mark.parametrize("valid, test, message", [
    (0.5, 0.5, "--test must be a fraction in \\[0, 1\\) that leaves a training part"),
    (0.1, 1.0, "--test must be a fraction"),
    (0.1, -0.1, "--test must be a fraction"),
])
def test_a_test_part_that_leaves_no_training_part_is_refused(table_dir, tmp_path, valid, test,
                                                            message):
    with pytest.raises(preparing.PrepareError, match=message):
        prepare_table([table_dir], tmp_path / "data", valid=valid, test=test)
    assert not (tmp_path / "data").exists()


def test_text_keeps_two_parts_and_refuses_a_test_part(tmp_path):
    (tmp_path / "a.txt").write_text("some text to model " * 20)
    with pytest.raises(preparing.PrepareError, match="--test is for series"):
        preparing.prepare([str(tmp_path / "a.txt")], str(tmp_path / "data"), "text", test=0.1,
                          log=lambda m: None)


# -- on the Hadoop dev cluster (skipped without one) --------------------------------------------

def on_yarn_in_the_slow_set(covered_by):
    """The marks of a case in YARN's task containers, in the slow set outside CI (docs/testing.md)."""
    return [pytest.mark.yarn, pytest.mark.slow,
            pytest.mark.skipif(os.environ.get("HADOOP_RNN_SLOW_TESTS") != "1",
                               reason=f"slow: set HADOOP_RNN_SLOW_TESTS=1; in CI, {covered_by}")]


@pytest.mark.hadoop
@pytest.mark.parametrize("test, on_yarn", [   # with a test part (3 parts' shards), and without
    pytest.param(0.2, False, id="0.2-local framework"),
    pytest.param(0.2, True, id="0.2-yarn", marks=on_yarn_in_the_slow_set(
        "the same table in Hadoop's local framework; the epochs on YARN run the hadoop "
        "runner's jobs in task containers")),
    pytest.param(0.0, True, id="0.0-yarn", marks=on_yarn_in_the_slow_set(
        "the table with a test part in Hadoop's local framework, and without one on every "
        "other runner (test_the_dataset_bytes_do_not_depend_on_the_runner)"))])
def test_a_table_on_hdfs_prepares_the_bytes_of_the_local_inline_run(table_dir, tmp_path, test,
                                                                     on_yarn):
    require_dev_cluster()
    raw = open_store(f"hdfs:///tmp/test-series-raw/{uuid.uuid4().hex}")
    out = open_store(f"hdfs:///tmp/test-series-ds/{uuid.uuid4().hex}")
    try:
        for path in sorted(table_dir.iterdir()):
            raw.upload(path.name, str(path))
        local = prepare_table([table_dir], tmp_path / "local", test=test)
        conf = None if on_yarn else write_local_framework_conf(tmp_path)
        remote = prepare_table([raw.uri()], out.uri(), test=test,
                               runner=RunnerOptions(runner="hadoop", conf=conf))
        for split in Dataset(str(tmp_path / "local")).splits():
            for name in local[split]:
                assert out.read_bytes(name) == (tmp_path / "local" / name).read_bytes()
        for key in ("series_ids", "normalization", "counts", "missing"):
            assert remote[key] == local[key]
    finally:
        raw.remove_tree()
        out.remove_tree()


def monthly_table(path, months=48, with_time=True):
    """A CSV of one monthly series with dates (or without the date column)."""
    dates = [f"{2000 + m // 12}-{m % 12 + 1:02d}-01" for m in range(months)]
    rows = [f"{d},{10 + np.sin(m / 2):.4f}" if with_time else f"{10 + np.sin(m / 2):.4f}"
            for m, d in enumerate(dates)]
    path.write_text(("date,value\n" if with_time else "value\n") + "\n".join(rows) + "\n")
    return str(path)


def test_a_time_column_of_dates_gives_the_calendar_and_its_seasons(tmp_path):
    meta = preparing.prepare([monthly_table(tmp_path / "m.csv")], str(tmp_path / "data"),
                             "series", columns=["value"], time_column="date", valid=0.2,
                             log=lambda m: None)
    assert meta["calendar"] == {"step": "monthly", "seasons": [12]}


def test_without_timestamps_there_is_no_calendar(tmp_path):
    meta = preparing.prepare([monthly_table(tmp_path / "m.csv", with_time=False)],
                             str(tmp_path / "data"), "series", columns=["value"], valid=0.2,
                             log=lambda m: None)
    assert "calendar" not in meta


def test_evaluate_of_own_scales_reports_each_series_in_its_own_units(table_dir, tmp_path):
    from jobs.scoring import evaluate
    from jobs.training import RunSpec, train

    prepare_table([table_dir], tmp_path / "data")
    train(str(tmp_path / "data"), str(tmp_path / "run"), epochs=1, spec=RunSpec(hidden=4),
          log=lambda m: None)
    m = evaluate(str(tmp_path / "run"))
    cut = chunks.split_point(DAYS, 0.25)
    steps = np.concatenate([np.diff(station_values(name)[cut - 1:]) for name in STATIONS])
    assert m["baselines"]["persistence"]["mse"] == pytest.approx(np.mean(steps ** 2), rel=1e-9)
    assert m["series"]["count"] == len(STATIONS) and m["runner"] == "process"


def test_where_the_network_lost_each_series_of_a_table_gets_its_own_forecaster(
        table_dir, tmp_path, monkeypatch):
    from jobs import scoring
    from jobs.training import RunSpec, train

    prepare_table([table_dir], tmp_path / "data")
    train(str(tmp_path / "data"), str(tmp_path / "run"), epochs=1, spec=RunSpec(hidden=4),
          log=lambda m: None)
    losing = network_lost(scoring.load_run)
    monkeypatch.setattr(scoring, "load_run", losing)
    m = scoring.evaluate(str(tmp_path / "run"))
    state, dataset = losing(str(tmp_path / "run"))
    forecasters, _ = scoring.fallback_forecaster(state, dataset)
    for seq, row in enumerate(m["series"]["table"]):
        assert row["model"] == row[scoring.forecaster_of(forecasters, seq)]
