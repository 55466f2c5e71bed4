"""``hadoop-rnn prepare``: turn text or series files into a dataset of chunk records.

Every input file is one sequence:

* ``--kind text``: the file's characters (see :mod:`jobs.corpus`) as token ids. The
  vocabulary comes from a MapReduce character count (:mod:`jobs.mr_char_count`) on the
  chosen runner; ``--max-vocab`` keeps the most frequent characters and maps the rest to
  U+FFFD. Empty files are skipped (and listed in meta.json).
* ``--kind series``: the ``--column`` values of a CSV or Parquet file (see
  :mod:`jobs.series_io`), normalized with the mean and std of the training part.

Each sequence of L steps is split in time: its last ``round(valid * L)`` steps are the
validation part, the rest the training part, so nothing later than a validation step is
trained on. Each part is cut into chunks of ``--chunk`` steps, consecutive chunks sharing one
step (the validation part starts with the last training step), so every step after the first
is predicted exactly once::

    sequence  s0 s1 s2 s3 s4 s5 s6 s7 s8 s9      --chunk 4 --valid 0.2
    train     [s0 s1 s2 s3] [s3 s4 s5 s6] [s6 s7]
    valid                                    [s7 s8 s9]
"""
import hashlib
import json

import numpy as np

from jobs import corpus, series_io
from jobs.dataset import META, write_dataset
from jobs.launch import RUNNERS, RunnerOptions, run_job
from jobs.storage import open_store


class PrepareError(ValueError):
    """The options or the output directory don't allow preparing the data."""


def add_arguments(parser):
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="input files, directories or globs (one sequence per file)")
    parser.add_argument("--kind", choices=["text", "series"], required=True,
                        help="text: characters of UTF-8 files; series: numeric CSV/Parquet columns")
    parser.add_argument("--out", required=True, help="dataset directory to write (local or hdfs://)")
    parser.add_argument("--force", action="store_true",
                        help="replace the dataset in an existing non-empty --out directory")
    parser.add_argument("--chunk", type=int, default=100, help="steps per chunk record (default 100)")
    parser.add_argument("--valid", type=float, default=0.1,
                        help="fraction of each sequence, from its end, kept for validation "
                        "(default 0.1)")
    parser.add_argument("--shards", type=int, default=1, help="shard files per split (default 1)")
    text = parser.add_argument_group("text")
    text.add_argument("--max-vocab", type=int,
                      help="keep the most frequent characters, map the others to U+FFFD")
    text.add_argument("--runner", choices=RUNNERS, default="inline",
                      help="mrjob runner for the vocabulary job")
    text.add_argument("--mrjob-conf", help="mrjob.conf to use (default: conf/mrjob.conf)")
    text.add_argument("--python-bin", help="Python interpreter for tasks (default: this one)")
    series = parser.add_argument_group("series")
    series.add_argument("--column", action="append", dest="columns", metavar="NAME",
                        help="a numeric column to model (repeat for several)")
    series.add_argument("--missing", choices=series_io.MISSING_POLICIES, default="interpolate",
                        help="missing values: interpolate (default) or drop their rows")


# -- chunking ------------------------------------------------------------------------------

def cut_chunks(sequence, chunk):
    """Chunks of ``chunk`` steps starting every ``chunk - 1`` steps (last one shorter).

    sequence: (L,) ids or (L, F) values. A trailing single step is dropped: it is the last
    step of the previous chunk, already predicted.
    """
    return [sequence[start:start + chunk]
            for start in range(0, max(len(sequence) - 1, 0), chunk - 1)]


def join_chunks(chunks):
    """The sequence that ``cut_chunks`` cut (chunks in order): drop each repeated first step."""
    return np.concatenate([chunks[0]] + [c[1:] for c in chunks[1:]])


def split_point(length, valid):
    """Index where the validation part of a sequence of ``length`` steps begins."""
    v = int(round(valid * length))
    v = min(v, max(length - 2, 0))  # keep at least one training prediction
    return length - v


def sequence_records(seq_id, sequence, chunk, valid):
    """{"train": [(key, chunk)], "valid": [...]} for one sequence; keys ``SEQ/N`` in time order."""
    cut = split_point(len(sequence), valid)
    parts = {"train": cut_chunks(sequence[:cut], chunk),
             "valid": cut_chunks(sequence[cut - 1:], chunk) if cut < len(sequence) else []}
    records, number = {}, 0
    for split in ("train", "valid"):
        records[split] = []
        for values in parts[split]:
            records[split].append((f"{seq_id:05d}/{number:06d}", values))
            number += 1
    return records


# -- the two kinds ---------------------------------------------------------------------------

def char_counts(files, options):
    """{char: count} over the files, by the MapReduce job on the chosen runner."""
    from jobs.mr_char_count import MRCharCount

    result = run_job(MRCharCount, [], files, options)
    return {char: int(n) for char, n in result.output}


def prepare_text(files, args, log):
    """Token-id sequences and the text part of meta.json."""
    texts, empty = {}, []
    for path in files:
        text = corpus.read_text(path)
        if text:
            texts[path] = text
        else:
            empty.append(path)
    if empty:
        log(f"skipping {len(empty)} empty file(s): {', '.join(empty)}")
    if not texts:
        raise corpus.CorpusError("every input file is empty: no text to prepare")
    options = RunnerOptions(runner=args.runner, conf=args.mrjob_conf, python_bin=args.python_bin)
    counts = char_counts(list(texts), options)
    total = sum(len(t) for t in texts.values())
    if sum(counts.values()) != total:
        raise RuntimeError(f"the vocabulary job counted {sum(counts.values()):,} characters but "
                           f"the files hold {total:,}: check the runner's input encoding")
    vocab, vocab_counts = corpus.build_vocab(counts, args.max_vocab)
    sequences = [corpus.encode(text, vocab) for text in texts.values()]
    train_counts = np.zeros(len(vocab), dtype=np.int64)
    for ids in sequences:
        train_counts += np.bincount(ids[:split_point(len(ids), args.valid)], minlength=len(vocab))
    unknown = vocab_counts[vocab.index(corpus.UNKNOWN)] if corpus.UNKNOWN in vocab else 0
    log(f"vocabulary: {len(vocab)} symbols from {len(counts)} distinct characters in "
        f"{total:,} characters ({args.runner} runner)"
        + (f"; {unknown:,} rare characters map to U+FFFD" if args.max_vocab else ""))
    meta = {"vocab": vocab, "vocab_counts": vocab_counts, "train_counts": train_counts.tolist(),
            "unknown": corpus.UNKNOWN if corpus.UNKNOWN in vocab else None,
            "characters": total, "empty_files": empty}
    return list(texts), sequences, meta


def prepare_series(files, args, log):
    """Normalized (L, F) sequences and the series part of meta.json."""
    if not args.columns:
        raise PrepareError("--kind series needs at least one --column NAME")
    raw, missing = [], {}
    for path in files:
        values, counts = series_io.fill_missing(series_io.read_series(path, args.columns),
                                                args.missing, args.columns, path)
        if len(values) < 2:
            raise series_io.SeriesError(f"{path}: {len(values)} usable row(s): a series needs "
                                        "at least 2")
        raw.append(values)
        missing[path] = counts
    by_column = {name: sum(c[name] for c in missing.values()) for name in args.columns}
    if any(by_column.values()):
        action = "interpolated" if args.missing == "interpolate" else "their rows dropped"
        log(f"missing values ({action}): "
            + ", ".join(f"{name} {n}" for name, n in by_column.items()))
    train = np.concatenate([v[:split_point(len(v), args.valid)] for v in raw])
    mean, std = series_io.normalization(train)
    norm = {"mean": mean.tolist(), "std": std.tolist()}
    sequences = [series_io.normalize(v, norm) for v in raw]
    meta = {"columns": list(args.columns), "normalization": norm,
            "missing": {"policy": args.missing, "counts": missing}}
    return files, sequences, meta


# -- the command -----------------------------------------------------------------------------

def fingerprint(files, options):
    """SHA-256 over each source's bytes and the prepare options."""
    digest = hashlib.sha256()
    for path in files:
        with open(path, "rb") as f:
            digest.update(hashlib.sha256(f.read()).digest())
    digest.update(json.dumps(options, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def clear_output(uri, force):
    """Refuse a non-empty output directory unless ``force``; with it, remove the old dataset."""
    store = open_store(uri)
    if not store.list():
        return
    if not force:
        raise PrepareError(f"{store.uri()} exists and is not empty: use --force to replace "
                           "its dataset, or choose another --out")
    for split in ("train", "valid"):
        for name in store.list(split):
            store.delete(f"{split}/{name}")
    store.delete(META)


def check_options(args):
    if args.chunk < 2:
        raise PrepareError(f"--chunk must be at least 2 steps, got {args.chunk}")
    if not 0 <= args.valid < 1:
        raise PrepareError(f"--valid must be a fraction in [0, 1), got {args.valid}")
    if args.shards < 1:
        raise PrepareError(f"--shards must be at least 1, got {args.shards}")


def prepare(args, log=print):
    """Write the dataset described by ``args``; return its meta dict."""
    check_options(args)
    files = corpus.expand_inputs(args.inputs)
    clear_output(args.out, args.force)
    options = {"kind": args.kind, "chunk": args.chunk, "valid": args.valid,
               "shards": args.shards}
    if args.kind == "text":
        options["max_vocab"] = args.max_vocab
        used, sequences, meta = prepare_text(files, args, log)
    else:
        options.update(columns=args.columns, missing=args.missing)
        used, sequences, meta = prepare_series(files, args, log)
    splits = {"train": [], "valid": []}
    for seq_id, sequence in enumerate(sequences):
        for split, records in sequence_records(seq_id, sequence, args.chunk, args.valid).items():
            splits[split].extend(records)
    if not splits["train"]:
        raise PrepareError("no training chunks: the inputs are too short")
    meta = write_dataset(args.out, args.kind, splits, shards=args.shards,
                         fingerprint=fingerprint(used, options), chunk=args.chunk,
                         valid_fraction=args.valid, sources=used, options=options, **meta)
    counts = meta["counts"]
    log(f"wrote {args.out}: {len(used)} sequence(s); train {counts['train']['records']:,} "
        f"chunks ({counts['train']['steps']:,} steps), valid {counts['valid']['records']:,} "
        f"chunks ({counts['valid']['steps']:,} steps) in {args.shards} shard(s) per split")
    return meta


def main(args):
    prepare(args)
    return 0
