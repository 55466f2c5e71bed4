"""`prepare --kind text` as MapReduce jobs: the same dataset bytes as cutting the whole text in
memory, whatever the input splits, the runner and the shard count; shards balanced; inputs on
HDFS on the dev cluster."""
import inspect
import json
import shutil
import uuid

import numpy as np
import pytest
from helpers import require_dev_cluster

from jobs.preparing import api as preparing
from jobs.data import chunks, corpus
from jobs.data.chunks import SequenceLayout, sequence_records
from jobs.data.dataset import Dataset, write_dataset
from jobs.data.records import decode_record
from jobs.hadoop.launch import RunnerOptions
from jobs.preparing.sharding import InputError, job_inputs
from jobs.storage import open_store


@pytest.fixture
def corpus_dir(tmp_path):
    """Three real text files of very different sizes (mrjob cuts the largest into several map
    splits), one with CRLF line ends and no final newline."""
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "a_long.txt").write_text(inspect.getsource(json.decoder) * 3, encoding="utf-8")
    (d / "b_crlf.txt").write_bytes("Größe\r\nüber\r\nnaïve".encode("utf-8"))
    (d / "c_short.txt").write_text(inspect.getsource(shutil.copyfileobj), encoding="utf-8")
    return d


def in_memory_dataset(files, out, chunk, valid, context, shards):
    """The reference: every file read whole, encoded and cut by ``sequence_records``."""
    texts = [corpus.read_text(str(path)) for path in files]
    counts = {}
    for text in texts:
        for char in text:
            counts[char] = counts.get(char, 0) + 1
    vocab, _ = corpus.build_vocab(counts)
    splits = {"train": [], "valid": []}
    for seq, text in enumerate(texts):
        for split, recs in sequence_records(seq, corpus.encode(text, vocab), chunk, valid,
                                            context).items():
            splits[split].extend(recs)
    return write_dataset(str(out), "text", splits, shards=shards)


def shard_bytes(uri):
    ds = Dataset(str(uri))
    return {name: ds.store.read_bytes(name) for name in ds.meta["train"] + ds.meta["valid"]}


def prepare_text(inputs, out, runner=RunnerOptions(), **options):
    options = {"chunk": 50, "valid": 0.2, "shards": 3, "context": 7, **options}
    return preparing.prepare([str(path) for path in inputs], str(out), "text", runner=runner,
                             log=lambda message: None, **options)


# -- the layout arithmetic -------------------------------------------------------------------

@pytest.mark.parametrize("length,chunk,valid,context", [(200, 8, 0.2, 0), (201, 5, 0.1, 13),
                                                        (37, 2, 0.5, 3), (10, 30, 0.0, 4)])
def test_layout_finds_exactly_the_records_that_overlap_a_range(length, chunk, valid, context):
    layout = SequenceLayout(length, chunk, valid, context)
    every = list(layout.records())
    rng = np.random.default_rng(length)
    for lo, hi in rng.integers(0, length + 1, size=(60, 2)):
        lo, hi = sorted((int(lo), int(hi)))
        expected = [r for r in every if r.first < hi and r.end > lo]
        assert list(layout.overlapping(lo, hi)) == expected


def test_layout_records_are_the_chunks_of_sequence_records():
    sequence = np.arange(123)
    expected = sequence_records(0, sequence, 9, 0.15, 5)
    layout = SequenceLayout(123, 9, 0.15, 5)
    for split in ("train", "valid"):
        got = [(chunks.record_key(0, r.number), sequence[r.first:r.end].tolist(), r.warmup)
               for r in layout.records() if r.split == split]
        assert got == [(k, v.tolist(), w) for k, v, w in expected[split]]
        assert layout.steps(split) == sum(len(v) - w for _, v, w in expected[split])


# -- the jobs ----------------------------------------------------------------------------------

def test_a_file_cut_into_several_map_splits_gives_the_bytes_of_the_in_memory_cut(corpus_dir,
                                                                                  tmp_path):
    files = sorted(corpus_dir.iterdir())
    meta = prepare_text([corpus_dir], tmp_path / "mr")
    reference = in_memory_dataset(files, tmp_path / "ref", chunk=50, valid=0.2, context=7,
                                  shards=3)
    assert shard_bytes(tmp_path / "mr") == shard_bytes(tmp_path / "ref")
    assert meta["counts"] == reference["counts"]
    assert meta["train"] == reference["train"] and meta["valid"] == reference["valid"]


def test_the_dataset_bytes_do_not_depend_on_the_runner_or_the_split_size(corpus_dir, tmp_path):
    prepare_text([corpus_dir], tmp_path / "inline")
    many_splits = RunnerOptions(runner="inline", extra_args=["--num-cores", "7"])
    prepare_text([corpus_dir], tmp_path / "inline7", runner=many_splits)
    prepare_text([corpus_dir], tmp_path / "local", runner=RunnerOptions(runner="local"))
    inline = shard_bytes(tmp_path / "inline")
    assert shard_bytes(tmp_path / "inline7") == inline
    assert shard_bytes(tmp_path / "local") == inline
    metas = [json.loads((tmp_path / d / "meta.json").read_text())
             for d in ("inline", "inline7", "local")]
    assert metas[0] == metas[1] == metas[2]


def test_map_tasks_encoding_a_few_lines_at_a_time_write_the_same_bytes(corpus_dir, tmp_path,
                                                                       monkeypatch):
    from jobs.mr import text_chunks

    prepare_text([corpus_dir], tmp_path / "whole")
    monkeypatch.setattr(text_chunks, "TEXT_BLOCK", 97)  # inline tasks run in this process
    prepare_text([corpus_dir], tmp_path / "blocks")
    assert shard_bytes(tmp_path / "blocks") == shard_bytes(tmp_path / "whole")


def test_shards_differ_by_at_most_one_record(corpus_dir, tmp_path):
    meta = prepare_text([corpus_dir], tmp_path / "data", shards=4, context=0)
    ds = Dataset(str(tmp_path / "data"))
    for split in ("train", "valid"):
        sizes = [len(ds.store.read_bytes(name).splitlines()) for name in meta[split]]
        assert len(sizes) == 4 and max(sizes) - min(sizes) <= 1
        assert sum(sizes) == meta["counts"][split]["records"]


def test_training_part_counts_are_the_characters_before_each_split_point(corpus_dir, tmp_path):
    meta = prepare_text([corpus_dir], tmp_path / "data")
    expected = np.zeros(len(meta["vocab"]), np.int64)
    for path in sorted(corpus_dir.iterdir()):
        ids = corpus.encode(corpus.read_text(str(path)), meta["vocab"])
        expected += np.bincount(ids[:chunks.split_point(len(ids), 0.2)],
                                minlength=len(meta["vocab"]))
    assert meta["train_counts"] == expected.tolist()


def test_more_shards_than_records_writes_one_file_per_record(tmp_path):
    (tmp_path / "t.txt").write_text("abcdefghij\n")
    meta = prepare_text([tmp_path / "t.txt"], tmp_path / "data", chunk=4, valid=0.0,
                        shards=8, context=0)
    assert meta["counts"]["train"]["records"] == 4 and len(meta["train"]) == 4
    assert meta["valid"] == ["valid/part-00000.txt"]
    assert (tmp_path / "data" / "valid" / "part-00000.txt").read_bytes() == b""


def test_hdfs_inputs_on_the_inline_runner_are_refused():
    with pytest.raises(InputError, match="hdfs:///raw/a.txt: HDFS inputs need --runner hadoop"):
        with job_inputs(["hdfs:///raw/a.txt"], RunnerOptions(runner="inline")):
            pass


def test_an_hdfs_file_with_lines_that_are_not_utf8_is_an_error_naming_it():
    from jobs.preparing.text import TextLayout

    sources = ["hdfs:///raw/good.txt", "hdfs:///raw/bad.txt"]
    survey_output = [(["char", "a"], 5), (["split", "/raw/good.txt", 0], 5),
                     (["split", "/raw/bad.txt", 0], 0), (["bad", "/raw/bad.txt", 0], 2)]
    layout = TextLayout(sources, sources, survey_output)
    with pytest.raises(corpus.CorpusError,
                       match=r"^hdfs:///raw/bad.txt: not UTF-8 text: 2 line\(s\)"):
        layout.check_utf8()


# -- on the Hadoop dev cluster (skipped without one) --------------------------------------------

@pytest.fixture
def hdfs_corpus(corpus_dir):
    """corpus_dir copied to a fresh HDFS directory; yields its URI."""
    require_dev_cluster()
    uri = f"hdfs:///tmp/test-prepare-raw/{uuid.uuid4().hex}"
    store = open_store(uri)
    for path in sorted(corpus_dir.iterdir()):
        store.upload(path.name, str(path))
    yield uri
    store.remove_tree()


@pytest.mark.hadoop
def test_raw_text_on_hdfs_in_many_splits_prepares_the_bytes_of_the_local_inline_run(
        corpus_dir, hdfs_corpus, tmp_path, local_framework_conf):
    """In Hadoop's local framework: the job client cuts the splits as it does for YARN
    (test_prepare_series_jobs.py's YARN test runs `prepare` in task containers)."""
    local = prepare_text([corpus_dir], tmp_path / "local")
    out = f"hdfs:///tmp/test-prepare-ds/{uuid.uuid4().hex}"
    many_maps = RunnerOptions(runner="hadoop", conf=local_framework_conf,
                              extra_args=["--jobconf", "mapreduce.job.maps=5"])
    remote = prepare_text([f"{hdfs_corpus}/*.txt"], out, runner=many_maps)
    assert shard_bytes(out) == shard_bytes(tmp_path / "local")
    assert remote["sources"] == [f"{hdfs_corpus}/{p.name}" for p in sorted(corpus_dir.iterdir())]
    for key in ("vocab", "vocab_counts", "train_counts", "counts", "characters"):
        assert remote[key] == local[key]
    assert not open_store(out).exists("job-output")
    open_store(out).remove_tree()
