"""A prepared dataset: a directory (local or ``hdfs://``) of record shards and ``meta.json``.

Layout::

    DATA_DIR/meta.json              kind, sizes, vocabulary or normalization, counts, fingerprint
    DATA_DIR/train/part-00000.txt   record lines (see jobs.data.records), one chunk per line
    DATA_DIR/valid/part-00000.txt

``meta.json`` holds at least ``format``, ``kind`` ("text" or "series"), ``train`` and
``valid`` (shard names relative to DATA_DIR), ``fingerprint`` and the model sizes: ``vocab``
(list of symbols) for text, ``columns`` (feature names) for series.

Format 2 (``hadoop-rnn-data/2``) added the records' optional warm-up field and ``context``
in meta.json; format 1 datasets (no warm-up) are still read. A reader older than format 2
refuses a format 2 dataset with "unknown format" rather than misreading its records.
"""
import hashlib
import json

from jobs.data import covariates
from jobs.data.batches import read_chunk
from jobs.data.chunks import splits_with
from jobs.data.records import BadRecord, Record, decode_record, encode_record
from jobs.storage import open_store

FORMAT = "hadoop-rnn-data/2"
READABLE_FORMATS = ("hadoop-rnn-data/1", FORMAT)
META = "meta.json"


class DatasetError(ValueError):
    """The dataset directory is missing, incomplete or of an unknown format."""


def schema_differences(trained, current):
    """What differs between the :meth:`Dataset.schema` a model was trained on and another.

    Returns a list of short phrases (empty if the schemas match).
    """
    differ = []
    if trained.get("vocab") != current.get("vocab"):
        old, new = trained.get("vocab") or [], current.get("vocab") or []
        only_old, only_new = sorted(set(old) - set(new)), sorted(set(new) - set(old))
        detail = (f"{len(old)} vs {len(new)} symbols" if len(old) != len(new) else
                  f"same size {len(old)}, other symbols or order")
        if only_old or only_new:
            detail += (f"; only in the run's: {''.join(only_old[:20])!r}, only in this "
                       f"dataset's: {''.join(only_new[:20])!r}")
        differ.append(f"the vocabulary ({detail})")
    if trained.get("columns") != current.get("columns"):
        differ.append(f"the columns ({trained.get('columns')} vs {current.get('columns')})")
    elif trained.get("normalization") != current.get("normalization"):
        def stats(norm):
            return f"mean {norm['mean']}, std {norm['std']}" if norm else "none"
        differ.append(f"the normalization statistics ({stats(trained.get('normalization'))} "
                      f"vs {stats(current.get('normalization'))})")
    return differ


class Dataset:
    """Read access to a prepared dataset."""

    def __init__(self, uri):
        self.store = open_store(uri)
        if not self.store.exists(META):
            raise DatasetError(f"{self.store.uri(META)} not found: prepare the data first "
                               "(hadoop-rnn prepare ...)")
        try:
            self.meta = json.loads(self.store.read_bytes(META))
        except ValueError:
            raise DatasetError(f"{self.store.uri(META)} is not valid JSON") from None
        if self.meta.get("format") not in READABLE_FORMATS:
            raise DatasetError(f"{self.store.uri(META)}: unknown format "
                               f"{self.meta.get('format')!r}, this version reads "
                               f"{' and '.join(READABLE_FORMATS)}: upgrade hadoop-rnn or "
                               "prepare the data again")

    @property
    def kind(self):
        return self.meta["kind"]

    @property
    def fingerprint(self):
        return self.meta["fingerprint"]

    def files(self):
        """Names of every file of the dataset: meta.json and the shards of every split."""
        return [META] + [name for split in self.splits() for name in self.meta[split]]

    def splits(self):
        """The parts the dataset has: ("train", "valid"), and "test" if it holds one out."""
        return splits_with(self.meta.get("test"))

    def schema(self):
        """What a model trained on this data depends on, beyond its sizes (JSON-able).

        text: the vocabulary (a symbol's index is its token id); series: the columns and the
        normalization statistics (a model reads and predicts normalized values).
        """
        if self.kind == "text":
            return {"vocab": self.meta["vocab"]}
        return {"columns": self.meta["columns"],
                "normalization": self.meta.get("normalization")}  # None: written without

    def model_sizes(self):
        """Keyword arguments for ModelConfig that this data fixes."""
        if self.kind == "text":
            return {"vocab_size": len(self.meta["vocab"])}
        return {"input_size": len(self.meta["columns"]),
                "output_size": covariates.target_count(self.meta)}

    def shard_uris(self, split):
        """URIs of the shard files of a split ("train", "valid" or "test")."""
        return [self.store.uri(name) for name in self.meta[split]]

    def iter_lines(self, split):
        """Yield the record lines of a split, in shard and line order."""
        for name in self.meta[split]:
            yield from self.store.read_bytes(name).splitlines()

    @property
    def context(self):
        """Warm-up steps prepared before each chunk (0 for format 1 datasets)."""
        return self.meta.get("context", 0)

    def iter_records(self, split):
        """Yield the Record (key, values, warmup) of every line of a split; a bad one raises
        BadRecord."""
        for line in self.iter_lines(split):
            yield decode_record(line)

    def iter_chunks(self, split, cfg, bad_counts=None):
        """Yield validated Records of a split; bad ones are skipped and counted by reason."""
        for line in self.iter_lines(split):
            try:
                yield read_chunk(line, cfg)
            except BadRecord as bad:
                if bad_counts is not None:
                    bad_counts[bad.reason] = bad_counts.get(bad.reason, 0) + 1


def shard_name(split, k):
    """The name of shard ``k`` of ``split`` in a dataset directory."""
    return f"{split}/part-{k:05d}.txt"


def shard_of(index, shards):
    """The shard of a split's record ``index`` (records in key order): round-robin, so the
    shards of a split differ by at most one record."""
    return index % shards


def write_meta(store, kind, names, counts, fingerprint, **meta):
    """Write meta.json: the shard ``names`` {split: [...]}, the ``counts`` {split: {"records",
    "steps"}}, the fingerprint and the rest of ``meta``; return the dict written."""
    meta = dict(meta, format=FORMAT, kind=kind, counts=counts, fingerprint=fingerprint, **names)
    store.write_bytes(META, json.dumps(meta, indent=1).encode("utf-8"))
    return meta


def write_dataset(uri, kind, splits, shards=1, fingerprint=None, **meta):
    """Write chunks as record shards plus meta.json; return the meta dict.

    splits: {"train": [(key, values) or (key, values, warmup), ...], "valid": [...]}, each in
    key order; record i of a split goes to shard :func:`shard_of` (i, shards), and there are
    ``shards`` files per split (fewer if there are fewer chunks; one empty file if none).
    Extra keyword arguments (vocab, columns, normalization, chunk, ...) go into meta.json.
    ``fingerprint`` defaults to the SHA-256 of the records written.
    """
    store = open_store(uri)
    digest = hashlib.sha256()
    names, counts = {}, {}
    for split, chunks in splits.items():
        chunks = [Record(*chunk) for chunk in chunks]
        lines = [[] for _ in range(max(1, min(shards, len(chunks))))]
        for index, chunk in enumerate(chunks):
            lines[shard_of(index, shards)].append(encode_record(*chunk))
        names[split] = []
        for k, shard in enumerate(lines):
            data = ("\n".join(shard) + "\n").encode("ascii") if shard else b""
            names[split].append(shard_name(split, k))
            store.write_bytes(names[split][-1], data)
            digest.update(data)
        counts[split] = {"records": len(chunks),
                         # without warm-up steps (other chunks' steps)
                         "steps": int(sum(len(c.values) - c.warmup for c in chunks))}
    return write_meta(store, kind, names, counts, fingerprint or digest.hexdigest(), **meta)
