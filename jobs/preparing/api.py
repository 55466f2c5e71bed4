"""Preparing: turn text or series files into a dataset of chunk records (``hadoop-rnn prepare``).

The inputs are local or on HDFS (files, directories, globs). The work runs as MapReduce
jobs on the chosen runner, so the driver's memory does not grow with the data:

* ``--kind text`` (:mod:`jobs.preparing.text`): every file is one sequence, its characters
  (see :mod:`jobs.data.corpus`) as token ids. ``--max-vocab`` keeps the most frequent
  characters and maps the rest to U+FFFD. Empty files are skipped (and listed in
  meta.json).
* ``--kind series`` (:mod:`jobs.preparing.series`): the ``--column`` values of CSV or Parquet
  tables (see :mod:`jobs.data.series_io`); each file is one series, or with ``--id`` a
  table holds many, ordered by ``--time``. Normalized with the mean and std of the
  training parts.

Each sequence is split in time into a training and a validation part and cut into chunks
that overlap by one step, each prefixed by up to ``context`` earlier steps that are run
forward but not scored: see :mod:`jobs.data.chunks`. :func:`default_chunking` chooses chunk
and context when they are not given.
"""
import hashlib
import json
import os
import posixpath
import uuid

import numpy as np

from jobs.data import corpus, covariates
from jobs.data.chunks import SPLITS
from jobs.data.dataset import META, Dataset, DatasetError, write_meta
from jobs.data.series_io import SCALES
from jobs.hadoop.launch import RunnerOptions
from jobs.interrupts import raise_if_received, signals_held
from jobs.storage import is_hdfs, open_store, replace_dir


class PrepareError(ValueError):
    """The options or the output directory don't allow preparing the data."""


# -- the two kinds ---------------------------------------------------------------------------

def char_counts(files, options):
    """{char: count} over the (local) files, by the survey job on the chosen runner."""
    from jobs.preparing.text import survey

    return survey(files, [os.path.abspath(path) for path in files], options).counts


def prepare_text(files, target, chunking, valid, shards, max_vocab, runner, log):
    """Write the text dataset of ``files`` into the store ``target``; return its meta.

    Two MapReduce jobs on ``runner`` (see :mod:`jobs.preparing.text`): the driver holds the
    vocabulary and one entry per file and input split, never the text. chunking: as for
    :func:`prepare_series`.
    """
    from jobs.preparing.text import chunk_shards, survey
    from jobs.preparing.sharding import job_inputs

    empty = [path for path in files if corpus.input_size(path) == 0]
    used = [path for path in files if path not in empty]
    if empty:
        log(f"skipping {len(empty)} empty file(s): {', '.join(empty)}")
    if not used:
        raise corpus.CorpusError("every input file is empty: no text to prepare")
    with job_inputs(used, runner) as inputs:
        layout = survey(used, inputs, runner)
        layout.check_utf8()
        vocab, vocab_counts = corpus.build_vocab(layout.counts, max_vocab)
        total = sum(layout.counts.values())
        unknown = vocab_counts[vocab.index(corpus.UNKNOWN)] if corpus.UNKNOWN in vocab else 0
        log(f"vocabulary: {len(vocab)} symbols from {len(layout.counts)} distinct characters "
            f"in {total:,} characters ({runner.runner} runner)"
            + (f"; {unknown:,} rare characters map to U+FFFD" if max_vocab else ""))
        chunk, context = chunking(None)
        files_table, totals = layout.files(chunk, valid, context)
        if not totals["train"]["records"]:
            raise PrepareError("no training chunks: the inputs are too short")
        names, train_counts = chunk_shards(inputs, files_table, vocab, chunk, valid, context,
                                           shards, target, runner, totals)
    options = {"max_vocab": max_vocab, "kind": "text", "chunk": chunk, "valid": valid,
               "shards": shards}
    if context:  # (absent when 0: the fingerprint of a dataset without warm-up is unchanged)
        options["context"] = context
    return write_meta(target, "text", names, totals, fingerprint(used, options), chunk=chunk,
                      context=context, valid_fraction=valid, sources=used, options=options,
                      vocab=vocab, vocab_counts=vocab_counts, train_counts=train_counts,
                      unknown=corpus.UNKNOWN if corpus.UNKNOWN in vocab else None,
                      characters=total, empty_files=empty)


def prepare_series(files, target, chunking, valid, shards, columns, missing_policy,
                   id_column, time_column, runner, log, test=0.0, scale=None,
                   input_columns=(), calendar=()):
    """Write the series dataset of ``files`` into the store ``target``; return its meta.

    Three MapReduce jobs on ``runner`` (see :mod:`jobs.preparing.series`): the driver holds
    one entry per series, never the rows. chunking: ``train_steps -> (chunk, context)``,
    the chunking options with the defaults for the data filled in.
    """
    from jobs.preparing.series import prepare_series as run_series_jobs

    if not columns:
        raise PrepareError("--kind series needs at least one --column NAME")
    named = list(columns) + list(input_columns) + [c for c in (id_column, time_column) if c]
    twice = sorted({name for name in named if named.count(name) > 1})
    if twice:
        raise PrepareError(f"column {twice[0]!r} is named more than once (--column, --inputs, "
                           "--id, --time)")
    try:
        calendar = covariates.check_calendar(calendar)
    except ValueError as e:
        raise PrepareError(str(e)) from None
    if calendar and not time_column:
        raise PrepareError("--calendar needs --time: the column of dates or timestamps its "
                           "features are computed from")
    scale = scale or ("series" if id_column else "table")
    if scale not in SCALES:
        raise PrepareError(f"--scale must be one of {', '.join(SCALES)}, got {scale!r}")
    meta, names, totals, chunk, context = run_series_jobs(
        files, target, chunking, valid, shards, columns, missing_policy, id_column,
        time_column, runner, log, test, scale, input_columns, calendar)
    options = {"columns": columns, "missing": missing_policy, "kind": "series", "chunk": chunk,
               "valid": valid, "shards": shards}
    if test:  # (absent when 0: the fingerprint of a dataset without a test part is unchanged)
        options["test"] = test
    if context:  # (absent when 0: the fingerprint of a dataset without warm-up is unchanged)
        options["context"] = context
    options.update({name: value for name, value in (("id", id_column), ("time", time_column))
                    if value})
    if scale == "series":  # (absent for one table scale: those fingerprints are unchanged)
        options["scale"] = scale
    options.update({name: list(value) for name, value in (("inputs", input_columns),
                                                           ("calendar", calendar)) if value})
    if test:
        meta["test_fraction"] = test
    return write_meta(target, "series", names, totals, fingerprint(files, options),
                      chunk=chunk, context=context, valid_fraction=valid, options=options,
                      **meta)


# -- the command -----------------------------------------------------------------------------

def fingerprint(files, options):
    """SHA-256 over each source's content and the prepare options.

    A local file's content is its bytes' SHA-256 (read in blocks); an HDFS file's is HDFS's
    own checksum (MD5 of the blocks' CRC checksums, computed by the DataNodes: no data
    read by the driver), so the same bytes on HDFS and on a local disk give different
    fingerprints, but the same input gives the same one on every runner.
    """
    digest = hashlib.sha256()
    for path in files:
        if is_hdfs(path):
            parent, name = posixpath.split(path)
            content = json.dumps(open_store(parent).checksum(name), sort_keys=True).encode()
            digest.update(hashlib.sha256(content).digest())
            continue
        file_digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                file_digest.update(block)
        digest.update(file_digest.digest())
    digest.update(json.dumps(options, sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def check_output(out, force):
    """Refuse ``out`` unless it is absent, empty, or (with ``force``) only a dataset.

    ``--force`` may replace a dataset, never anything else: every entry of the directory
    must be meta.json of our format or a shard it lists.
    """
    if not out.exists() or (out.is_dir() and not out.list()):
        return
    if not out.is_dir():
        raise PrepareError(f"{out.uri()} is a file, not a directory: choose another --out")
    if not force:
        raise PrepareError(f"{out.uri()} exists and is not empty: use --force to replace "
                           "its dataset, or choose another --out")
    refuse = (f"--force replaces only a dataset: nothing was changed; choose another --out "
              f"or move {out.uri()} away")
    if not out.exists(META):
        raise PrepareError(f"{out.uri()} holds no {META}, so it is not a dataset; {refuse}")
    try:
        listed = set(Dataset(out.uri()).files())
    except DatasetError as e:
        raise PrepareError(f"{out.uri()} is not a dataset ({e}); {refuse}") from None
    present = [name for name in out.list() if name not in SPLITS]
    for split in SPLITS:
        present += [f"{split}/{name}" for name in out.list(split)]
    unknown = [name for name in present if name not in listed]
    if unknown:
        raise PrepareError(f"{out.uri(unknown[0])} is not part of the dataset in {out.uri()}; "
                           f"{refuse}")


TEXT_CHUNK = 100  # characters per text record
TEXT_CONTEXT = 0  # warm-up characters of a text record (measured: README, "What the defaults are")


def default_chunking(kind, train_steps, chunk=None, ar_order=0):
    """(chunk, context, why): the defaults for a dataset of ``train_steps`` training steps
    (the context for ``chunk`` if it is given).

    Text keeps 100-character chunks without warm-up. A series gets chunks short enough for
    several dozen records (about sqrt(L)/2 steps, 8 to 64), so a training epoch takes a few
    dozen optimizer steps even for a few hundred points, and a warm-up of twice the chunk
    (at least 32 steps, and at least ``ar_order``, the p of the AR fit): every scored
    prediction has at least that much history, and an AR(p) base all its lags.
    """
    if kind == "text":
        return TEXT_CHUNK, TEXT_CONTEXT, "text defaults"
    chunk = chunk or int(np.clip(round(np.sqrt(train_steps) / 2), 8, 64))
    context = max(2 * chunk, 32, ar_order)
    why = f"for a training part of {train_steps:,} steps"
    if ar_order > max(2 * chunk, 32):
        why += f", the AR(p={ar_order}) base's lags"
    return chunk, context, why


def check_options(chunk, context, valid, shards, test=0.0):
    if chunk < 2:
        raise PrepareError(f"--chunk must be at least 2 steps, got {chunk}")
    if context < 0:
        raise PrepareError(f"--context must be at least 0 steps, got {context}")
    if not 0 <= valid < 1:
        raise PrepareError(f"--valid must be a fraction in [0, 1), got {valid}")
    if not 0 <= test < 1 or valid + test >= 1:
        raise PrepareError(f"--test must be a fraction in [0, 1) that leaves a training part "
                           f"beside --valid {valid}, got {test}")
    if shards < 1:
        raise PrepareError(f"--shards must be at least 1, got {shards}")


# the part of each sequence held out for the final test unless told: a series forecaster is
# scored on steps no choice of its run saw; a text model keeps two parts (its validation
# loss is what it is trained for, and nothing but the best epoch is chosen on it)
DEFAULT_TEST = {"series": 0.1, "text": 0.0}


def prepare(inputs, out, kind, chunk=None, valid=0.1, shards=1, force=False, max_vocab=None,
            columns=None, missing="interpolate", runner=RunnerOptions(), log=print,
            context=None, id_column=None, time_column=None, test=None, scale=None,
            input_columns=None, calendar=None):
    """Write a dataset to ``out`` from the files ``inputs``; return its meta dict.

    inputs: files, directories or globs, one sequence per file. kind: "text" (UTF-8
    characters; ``max_vocab`` caps the vocabulary, counted by a MapReduce job on ``runner``)
    or "series" (the numeric ``columns`` of CSV or Parquet files, ``missing`` values
    "interpolate"d or "drop"ped; ``id_column`` names the series of a table of many,
    ``time_column`` orders the rows of each). chunk: scored steps per record (+1 shared with the
    previous record); context: warm-up steps before each chunk, run forward but not scored;
    None for either: :func:`default_chunking`. valid: the fraction of each sequence kept for
    validation, before its ``test`` part (series only): the fraction of its end held out for
    the final test, seen by no choice of a run (the best epoch, patience, the AR order, the
    normalization), and scored by ``evaluate`` (None: :data:`DEFAULT_TEST`); shards: files per split. ``force`` replaces
    the dataset in a non-empty ``out``. scale (series): "series" normalizes each series by its
    own training part, "table" all of them by one mean and std (default: "series" for a
    table with ``id_column``, else "table"). input_columns (series): columns that drive the
    ``columns`` and are known ahead (:mod:`jobs.data.covariates`); calendar: features of
    the ``time_column`` ("hour", "dow", "month") added as inputs.
    """
    if kind not in ("text", "series"):
        raise PrepareError(f"kind must be 'text' or 'series', not {kind!r}")
    test = DEFAULT_TEST[kind] if test is None else test
    check_options(chunk or 2, context or 0, valid, shards, test)
    if kind == "text" and scale:
        raise PrepareError("--scale is for series: text has no normalization")
    if kind == "text" and (input_columns or calendar):
        raise PrepareError("--inputs and --calendar are for series: a text model's input is "
                           "its characters")
    if kind == "text" and test:
        raise PrepareError("--test is for series: a text dataset has a training and a "
                           "validation part (evaluate scores the validation part)")
    files = corpus.expand_inputs(inputs)
    target = open_store(out)
    check_output(target, force)

    def chunking(train_steps, ar_order=0):
        """(chunk, context): the given ones, else the defaults for the data (logged)."""
        auto_chunk, auto_context, why = default_chunking(kind, train_steps, chunk, ar_order)
        if chunk is None and context is None:
            log(f"chunk {auto_chunk}, context {auto_context} ({why}; --chunk and --context "
                "override)")
        elif context is None:
            log(f"chunk {chunk} (given), context {auto_context} ({why}; --context overrides)")
        elif chunk is None:
            log(f"chunk {auto_chunk} ({why}; --chunk overrides), context {context} (given)")
        return chunk or auto_chunk, auto_context if context is None else context

    if kind == "text":
        meta = write_staged(target, lambda staging: prepare_text(
            files, staging, chunking, valid, shards, max_vocab, runner, log))
    else:
        meta = write_staged(target, lambda staging: prepare_series(
            files, staging, chunking, valid, shards, columns, missing, id_column,
            time_column, runner, log, test, scale, input_columns or (), calendar or ()))
    counts = meta["counts"]
    sequences = len(meta.get("series_ids") or meta["sources"])
    log(f"wrote {target.uri()}: {sequences} sequence(s); train "
        f"{counts['train']['records']:,} chunks ({counts['train']['steps']:,} steps), valid "
        f"{counts['valid']['records']:,} chunks ({counts['valid']['steps']:,} steps)"
        + (f", test {counts['test']['records']:,} chunks ({counts['test']['steps']:,} steps)"
           if meta.get("test") else "")
        + f" in {len(meta['train'])} shard(s) for train, {len(meta['valid'])} for valid"
        + (f", {len(meta['test'])} for test" if meta.get("test") else ""))
    return meta


def write_staged(target, write):
    """Call ``write(staging)`` with a store beside ``target`` and swap it into ``target``'s
    place when complete: a failure (or a kill) before the swap leaves an existing dataset in
    ``target`` as it was. Returns what ``write`` returns.

    A signal before the swap, even one a library swallowed, keeps the old dataset; one during
    the swap waits for its end (see :mod:`jobs.interrupts`)."""
    staging = target.sibling(f".tmp-{uuid.uuid4().hex[:12]}")
    try:
        staging.makedirs()
        result = write(staging)
        with signals_held():
            raise_if_received()
            replace_dir(staging, target)
    except BaseException:
        with signals_held():
            staging.remove_tree()
        raise
    return result
