"""`hadoop-rnn prepare`: chunking, splitting, vocabulary job, series reading and bad input."""
import inspect
import json
import textwrap
from collections import Counter

import numpy as np
import pytest

from helpers import SUNSPOTS_CSV, prepare_cli, require_dev_cluster
from jobs.preparing import api as preparing
from jobs.cli import main as cli_main
from jobs.data import chunks, corpus
from jobs.data.dataset import Dataset
from jobs.hadoop.launch import RunnerOptions
from jobs.data.records import decode_record
from jobs.data.series_io import SeriesError

# Yearly sunspot numbers 1700-1759, the start of statsmodels' sunspots data set.
SUNSPOTS = [float(line.split(",")[1]) for line in open(SUNSPOTS_CSV).read().splitlines()[1:]]


def run_prepare(*argv, log=None):
    return prepare_cli(*argv, log=log)


def records(data_dir, split):
    ds = Dataset(str(data_dir))
    return [decode_record(line) for name in ds.meta[split]
            for line in ds.store.read_bytes(name).splitlines()]


def joined(recs):
    """The sequence that (key, values, warmup) records join back to."""
    return chunks.join_chunks([(r[1], r[2]) for r in recs])


@pytest.fixture
def text_files(tmp_path):
    """A directory of two real text files, the source of textwrap cut in two (beside, not
    around, the tests' outputs: an input directory holding a directory is refused)."""
    source = inspect.getsource(textwrap)
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "a.txt").write_text(source[:5000], encoding="utf-8")
    (texts / "b.txt").write_text(source[5000:8000], encoding="utf-8")
    return texts


@pytest.fixture
def sunspots_csv():
    return SUNSPOTS_CSV


# -- chunking and splitting --------------------------------------------------------------------

@pytest.mark.parametrize("context", [0, 3, 30])
def test_chunks_overlap_by_one_step_so_every_step_is_predicted_once(context):
    seq = np.arange(23)
    cut = chunks.cut_chunks(seq, 5, context)
    assert all(2 <= len(v) - w <= 5 and w == min(context, v[0] + w) for v, w in cut)
    assert sum(len(v) - 1 - w for v, w in cut) == len(seq) - 1
    assert np.array_equal(chunks.join_chunks(cut), seq)


@pytest.mark.parametrize("context", [0, 3])
def test_validation_part_is_the_end_of_each_sequence_and_starts_at_the_last_training_step(
        context):
    recs = chunks.sequence_records(3, np.arange(50), chunk=8, valid=0.2, context=context)
    train, valid = joined(recs["train"]), joined(recs["valid"])
    assert np.array_equal(train, np.arange(40))
    # the first validation chunk's warm-up reaches back into the training part
    assert np.array_equal(valid, np.arange(39 - context, 50))
    keys = [r[0] for r in recs["train"] + recs["valid"]]
    assert keys == sorted(keys) and keys[0] == "00003/000000"


def test_warm_up_steps_are_earlier_steps_and_every_target_is_scored_once():
    seq = np.arange(40)
    recs = chunks.sequence_records(0, seq, chunk=6, valid=0.25, context=4)
    every = recs["train"] + recs["valid"]
    for key, values, warmup in every:
        assert np.array_equal(values, seq[values[0]:values[0] + len(values)])
        assert warmup == min(4, values[0] + warmup)
    positions = chunks.scored_positions(every)["00000"]
    targets = np.concatenate([positions[key] for key, _, _ in every])
    assert np.array_equal(targets, np.arange(1, 40))  # each step after the first, once
    first_valid = positions[recs["valid"][0][0]][0]
    assert first_valid == chunks.split_point(40, 0.25)


def test_short_sequence_keeps_a_training_prediction():
    recs = chunks.sequence_records(0, np.arange(2), chunk=8, valid=0.9)
    assert [len(r[1]) for r in recs["train"]] == [2] and recs["valid"] == []


# -- text ----------------------------------------------------------------------------------------

def test_char_count_job_counts_what_the_corpus_reader_reads(tmp_path):
    path = tmp_path / "mixed.txt"
    path.write_bytes("héllo\r\nwörld\rlast line without newline".encode("utf-8"))
    counts = preparing.char_counts([str(path)], RunnerOptions(runner="inline"))
    assert counts == dict(Counter(corpus.read_text(str(path))))


@pytest.mark.matrix
def test_text_dataset_has_sorted_vocab_counts_and_decodes_back_to_the_files(text_files, tmp_path):
    meta = run_prepare("--kind", "text", text_files / "a.txt", text_files / "b.txt",
                       "--out", tmp_path / "data", "--chunk", 40, "--valid", 0.2)
    vocab = meta["vocab"]
    assert vocab == sorted(vocab)
    a, b = (corpus.read_text(str(text_files / name)) for name in ("a.txt", "b.txt"))
    assert dict(zip(vocab, meta["vocab_counts"])) == dict(Counter(a + b))
    assert meta["kind"] == "text" and meta["chunk"] == 40 and len(meta["fingerprint"]) == 64
    recs = sorted(records(tmp_path / "data", "train") + records(tmp_path / "data", "valid"),
                  key=lambda r: r[0])
    first = joined([r for r in recs if r.key.startswith("00000/")])
    assert corpus.decode(first, vocab) == a
    train_chars = a[:chunks.split_point(len(a), 0.2)] + b[:chunks.split_point(len(b), 0.2)]
    assert dict(zip(vocab, meta["train_counts"])) == {c: Counter(train_chars)[c] for c in vocab}


def test_max_vocab_keeps_frequent_characters_and_maps_the_rest_to_unknown(text_files, tmp_path):
    meta = run_prepare("--kind", "text", text_files / "a.txt", "--out", tmp_path / "data",
                       "--max-vocab", 10)
    assert len(meta["vocab"]) == 10 and meta["unknown"] == corpus.UNKNOWN
    assert corpus.UNKNOWN in meta["vocab"]
    counts = Counter(corpus.read_text(str(text_files / "a.txt")))
    dropped = set(counts) - set(meta["vocab"])
    assert min(counts[c] for c in meta["vocab"] if c in counts) >= max(counts[c] for c in dropped)
    assert sum(meta["vocab_counts"]) == meta["characters"]


def test_shards_split_the_records_into_several_files(text_files, tmp_path):
    meta = run_prepare("--kind", "text", text_files, "--out", tmp_path / "data", "--shards", 3)
    assert len(meta["train"]) == 3
    assert len(records(tmp_path / "data", "train")) == meta["counts"]["train"]["records"]


def test_fingerprint_depends_on_source_bytes_and_options(text_files, tmp_path):
    def fp(*extra):
        return run_prepare("--kind", "text", text_files / "a.txt", "--out", tmp_path / "d",
                           "--force", *extra)["fingerprint"]
    same = fp()
    assert fp() == same and fp("--chunk", 50) != same
    (text_files / "a.txt").write_text("something else\n")
    assert fp() != same


def test_bytes_that_are_not_utf8_are_an_error_naming_file_and_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf".encode() + b"\xe9 au lait\n")
    with pytest.raises(corpus.CorpusError, match=r"latin1\.txt: not UTF-8.*offset 3"):
        run_prepare("--kind", "text", path, "--out", tmp_path / "data")


def test_empty_files_are_skipped_and_listed(text_files, tmp_path):
    (text_files / "empty.txt").write_text("")
    meta = run_prepare("--kind", "text", text_files, "--out", tmp_path / "data")
    assert [p.endswith("empty.txt") for p in meta["empty_files"]] == [True]
    assert not any(s.endswith("empty.txt") for s in meta["sources"])


def test_only_empty_files_is_an_error(tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(corpus.CorpusError, match="every input file is empty"):
        run_prepare("--kind", "text", tmp_path / "empty.txt", "--out", tmp_path / "data")


def test_a_single_distinct_character_is_an_error(tmp_path):
    (tmp_path / "newlines.txt").write_text("\n" * 50)
    with pytest.raises(corpus.CorpusError, match="1 distinct character"):
        run_prepare("--kind", "text", tmp_path / "newlines.txt", "--out", tmp_path / "data")


def test_missing_input_is_an_error(tmp_path):
    with pytest.raises(corpus.CorpusError, match="no such file"):
        run_prepare("--kind", "text", tmp_path / "nope*.txt", "--out", tmp_path / "data")


def test_existing_output_directory_needs_force(text_files, tmp_path):
    run_prepare("--kind", "text", text_files / "a.txt", "--out", tmp_path / "data", "--shards", 3)
    with pytest.raises(preparing.PrepareError, match="exists and is not empty.*--force"):
        run_prepare("--kind", "text", text_files / "a.txt", "--out", tmp_path / "data")
    meta = run_prepare("--kind", "text", text_files / "a.txt", "--out", tmp_path / "data",
                       "--force")
    assert sorted(p.name for p in (tmp_path / "data" / "train").iterdir()) == ["part-00000.txt"]
    assert meta["train"] == ["train/part-00000.txt"]


# -- series --------------------------------------------------------------------------------------

def test_series_is_normalized_with_training_statistics_only(sunspots_csv, tmp_path):
    meta = run_prepare("--kind", "series", sunspots_csv, "--column", "SUNACTIVITY",
                       "--out", tmp_path / "data", "--chunk", 10, "--valid", 0.25, "--test", 0)
    train = np.array(SUNSPOTS[:45])
    assert meta["normalization"]["mean"] == pytest.approx([train.mean()])
    assert meta["normalization"]["std"] == pytest.approx([train.std()])
    valid = joined(records(tmp_path / "data", "valid"))
    assert meta["context"] == 32  # the default for series: 2 x chunk, at least 32
    restored = valid[:, 0] * train.std() + train.mean()
    assert restored == pytest.approx(SUNSPOTS[44 - 32:])


def test_a_series_dataset_holds_out_the_last_tenth_of_each_series_for_the_test_by_default(
        sunspots_csv, tmp_path):
    from jobs.data.chunks import split_points

    meta = run_prepare("--kind", "series", sunspots_csv, "--column", "SUNACTIVITY",
                       "--out", tmp_path / "data", "--chunk", 10)
    assert meta["test"] and meta["test_fraction"] == 0.1
    valid_start, test_start = split_points(len(SUNSPOTS), 0.1, 0.1)
    held_out = SUNSPOTS[test_start - 1:]           # the test part starts at the last valid step
    test = joined(records(tmp_path / "data", "test"))[-len(held_out):, 0]
    norm = meta["normalization"]
    assert test * norm["std"][0] + norm["mean"][0] == pytest.approx(held_out)
    assert meta["normalization"]["mean"] == pytest.approx([np.mean(SUNSPOTS[:valid_start])])


def test_a_text_dataset_has_no_test_part_by_default(tmp_path):
    (tmp_path / "a.txt").write_text("hello world, " * 50)
    meta = run_prepare("--kind", "text", tmp_path / "a.txt", "--out", tmp_path / "data")
    assert "test" not in meta and set(Dataset(str(tmp_path / "data")).splits()) == {"train",
                                                                                   "valid"}


@pytest.mark.matrix
def test_parquet_series_reads_like_csv(sunspots_csv, tmp_path):
    import pyarrow.csv
    import pyarrow.parquet

    parquet = tmp_path / "sunspots.parquet"
    pyarrow.parquet.write_table(pyarrow.csv.read_csv(sunspots_csv), parquet)
    a = run_prepare("--kind", "series", sunspots_csv, "--column", "SUNACTIVITY",
                    "--out", tmp_path / "a")
    b = run_prepare("--kind", "series", parquet, "--column", "SUNACTIVITY", "--out", tmp_path / "b")
    assert a["normalization"] == b["normalization"]
    assert [r.values.tolist() for r in records(tmp_path / "a", "train")] == \
        [r.values.tolist() for r in records(tmp_path / "b", "train")]


def test_missing_values_are_interpolated_and_counted(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("t,x,y\n0,1,10\n1,,NA\n2,3,30\n3,4,40\n4,5,\n")
    meta = run_prepare("--kind", "series", path, "--column", "x", "--column", "y",
                       "--out", tmp_path / "data", "--valid", 0)
    assert meta["missing"]["counts"][str(path)] == {"x": 1, "y": 2}
    values = joined(records(tmp_path / "data", "train"))
    norm = meta["normalization"]
    restored = values * np.array(norm["std"]) + np.array(norm["mean"])
    assert np.allclose(restored, [[1, 10], [2, 20], [3, 30], [4, 40], [5, 40]])


def test_missing_drop_removes_rows(tmp_path):
    path = tmp_path / "gaps.csv"
    path.write_text("x\n1\n\n2\nNaN\n3\n4\n")
    meta = run_prepare("--kind", "series", path, "--column", "x", "--out", tmp_path / "data",
                       "--missing", "drop", "--valid", 0)
    assert meta["counts"]["train"]["steps"] == 4


def test_a_column_that_does_not_exist_is_an_error_listing_the_columns(sunspots_csv, tmp_path):
    with pytest.raises(SeriesError, match=r"no column 'sunspots' \(columns: YEAR, SUNACTIVITY\)"):
        run_prepare("--kind", "series", sunspots_csv, "--column", "sunspots",
                    "--out", tmp_path / "data")


def test_a_non_numeric_value_is_an_error_naming_column_and_row(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("x\n1.5\n2\nabc\n4\n")
    with pytest.raises(SeriesError, match=r"column 'x', row 3 \(line 4\): 'abc' is not a number"):
        run_prepare("--kind", "series", path, "--column", "x", "--out", tmp_path / "data")


def test_an_empty_series_file_is_an_error(tmp_path):
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SeriesError, match="empty file"):
        run_prepare("--kind", "series", tmp_path / "empty.csv", "--column", "x",
                    "--out", tmp_path / "data")


def test_series_without_column_is_an_error(sunspots_csv, tmp_path):
    with pytest.raises(preparing.PrepareError, match="--column"):
        run_prepare("--kind", "series", sunspots_csv, "--out", tmp_path / "data")


def test_cli_reports_bad_input_as_one_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("x\n1\nzz\n")
    code = cli_main(["prepare", "--kind", "series", str(path), "--column", "x",
                     "--out", str(tmp_path / "data")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert err.startswith("hadoop-rnn prepare: error: ") and "'zz' is not a number" in err


def test_meta_json_is_readable_by_dataset(sunspots_csv, tmp_path):
    run_prepare("--kind", "series", sunspots_csv, "--column", "SUNACTIVITY",
                "--out", tmp_path / "data")
    ds = Dataset(str(tmp_path / "data"))
    assert ds.kind == "series" and ds.model_sizes() == {"input_size": 1, "output_size": 1}
    assert json.loads((tmp_path / "data" / "meta.json").read_text())["columns"] == ["SUNACTIVITY"]


# -- on the Hadoop dev cluster (skipped without one) --------------------------------------------

@pytest.mark.hadoop
def test_hadoop_runner_builds_the_same_dataset_on_hdfs_from_local_inputs(text_files, tmp_path,
                                                                        local_framework_conf):
    """Local inputs go to a temporary HDFS directory first; the jobs run in Hadoop's local
    framework (test_prepare_series_jobs.py's YARN test runs `prepare` in task containers)."""
    import uuid

    require_dev_cluster()
    local = run_prepare("--kind", "text", text_files, "--out", tmp_path / "data")
    uri = f"hdfs:///tmp/test-prepare/{uuid.uuid4().hex}"
    remote = run_prepare("--kind", "text", text_files, "--out", uri, "--runner", "hadoop",
                         "--mrjob-conf", local_framework_conf)
    assert remote["vocab"] == local["vocab"] and remote["vocab_counts"] == local["vocab_counts"]
    assert remote["fingerprint"] == local["fingerprint"]
    assert Dataset(uri).meta["counts"] == local["counts"]


@pytest.mark.parametrize("flags, line", [
    ([], "chunk 100, context 0 (text defaults; --chunk and --context override)"),
    (["--chunk", 40], "chunk 40 (given), context 0 (text defaults; --context overrides)"),
    (["--context", 5], "chunk 100 (text defaults; --chunk overrides), context 5 (given)"),
])
def test_the_chunking_line_says_which_values_are_defaults(text_files, tmp_path, flags, line):
    lines = []
    run_prepare("--kind", "text", text_files, "--out", tmp_path / "data", *flags,
                log=lines.append)
    assert line in lines


def test_no_chunking_line_when_both_values_are_given(text_files, tmp_path):
    lines = []
    run_prepare("--kind", "text", text_files, "--out", tmp_path / "data", "--chunk", 40,
                "--context", 5, log=lines.append)
    assert not any(line.startswith("chunk ") for line in lines)
