"""The driver's side of the jobs that write a dataset's shards (:mod:`jobs.mr.shards`).

:func:`run_sharding_job` runs such a job with one reduce task per shard (plus one for the
statistics line). On Hadoop with an HDFS target the reducers' part files are renamed into
the dataset: no data passes through the driver. Otherwise the driver streams the job's
output, which comes in shard order, into the shard files, one line and one open file at a
time. Either way the counts of records written (Hadoop counters) are checked against the
layout: a record lost on the way is an error, not a smaller dataset.

:func:`job_inputs` gives the paths the jobs read: local inputs on the hadoop runner are
first copied to a temporary HDFS directory, so that every pass sees the same paths.
"""
import contextlib
import json
import os
import re
import uuid
from dataclasses import replace

from jobs.data.chunks import sequence_id, splits_with
from jobs.data.dataset import shard_name, shard_of
from jobs.hadoop.launch import JobFailed, job_files_dir, run_job
from jobs.storage import is_hdfs, open_store

# what the shell splits or globs: mrjob's wrapper of a whole-file map task (mapper_raw, the
# series jobs) hands it each input path unquoted, on every runner but inline
SHELL_UNSAFE = re.compile(r"[\s*?\[]")
JOB_OUTPUT = "job-output"  # the job's output directory inside the staging dataset
STATS = "#stats"  # jobs.mr.shards.STATS (not imported here: that module loads mrjob)


class InputError(ValueError):
    """The inputs can't be read on the chosen runner."""


@contextlib.contextmanager
def job_inputs(sources, options):
    """The paths the jobs read: ``sources``, with local files copied to HDFS for the hadoop
    runner (the copies are removed afterwards). HDFS inputs need the hadoop runner."""
    remote = [s for s in sources if is_hdfs(s)]
    if remote and options.runner != "hadoop":
        raise InputError(f"{remote[0]}: HDFS inputs need --runner hadoop (the "
                         f"{options.runner} runner reads local files)")
    local = [s for s in sources if not is_hdfs(s)]
    if options.runner != "hadoop" or not local:
        yield [s if is_hdfs(s) else os.path.abspath(s) for s in sources]
        return
    staging = open_store(f"hdfs:///tmp/hadoop-rnn-prepare-{uuid.uuid4().hex[:12]}")
    try:
        copies = {}
        for n, source in enumerate(local):
            name = f"{n:05d}-{SHELL_UNSAFE.sub('_', os.path.basename(source))}"
            staging.upload(name, source)
            copies[source] = staging.uri(name)
        yield [copies.get(s, s) for s in sources]
    finally:
        staging.remove_tree()


def refuse_shell_unsafe(inputs, options):
    """InputError naming the first of ``inputs`` that a whole-file map task cannot be given
    on ``options.runner`` (see :data:`SHELL_UNSAFE`)."""
    if options.runner == "inline":
        return
    for path in inputs:
        if SHELL_UNSAFE.search(path):
            raise InputError(f"{path}: the {options.runner} runner cannot read a series file "
                             "whose path holds a space or one of * ? [ (mrjob hands it to the "
                             "shell unquoted): rename it, or use --runner inline")


def run_sharding_job(job_class, inputs, layout, sequences, target, options, totals):
    """Run ``job_class`` (a :class:`jobs.mr.shards.ShardedRecordsJob`) over ``inputs`` with
    ``layout`` (shipped as ``--layout``) and write its shards into the store ``target``.

    sequences: {sequence id: {"first_index": {split: n}, "records": {split: n}}}: where
    each sequence's records fall in its split (to name a streamed line's shard). totals:
    {split: {"records": n}}, checked against what the reducers wrote. Returns (shard
    names {"train": [...], "valid": [...]}, the statistics line's text or None).
    """
    shards = layout["shards"]
    splits = splits_with(layout.get("test"))
    names = {split: [shard_name(split, k) for k in range(min(shards, totals[split]["records"]))]
             or [shard_name(split, 0)] for split in splits}
    in_place = options.runner == "hadoop" and is_hdfs(target.uri())
    with job_files_dir("hadoop-rnn-layout-") as tmp:
        layout_file = os.path.join(tmp, "layout.json")
        with open(layout_file, "w", encoding="utf-8") as f:
            json.dump(layout, f)
        extra = ["--jobconf", f"mapreduce.job.reduces={len(splits) * shards + 1}"]
        if in_place:
            extra += ["--output-dir", target.uri(JOB_OUTPUT)]
        job_options = replace(options, extra_args=list(options.extra_args) + extra)
        args = ["--layout", layout_file]
        if in_place:
            result = run_job(job_class, args, inputs, job_options, collect=lambda pairs: None)
            stats = move_job_output(target, JOB_OUTPUT, names, shards)
        else:
            writer = ShardWriter(target, sequences, shards, splits)
            result = run_job(job_class, args, inputs, job_options, collect=writer.write_all)
            stats = writer.stats
            for split in names:  # shards that got no record (fewer records than shards)
                for name in names[split]:
                    if not target.exists(name):
                        target.write_bytes(name, b"")
    written = result.counters.get("hadoop-rnn", {})
    for split in splits:
        got = written.get(f"{split} records written", 0)
        if got != totals[split]["records"]:
            raise JobFailed(f"the job wrote {got:,} {split} records, the layout has "
                            f"{totals[split]['records']:,}")
    return names, stats


def stats_text(line):
    """The text of a statistics line (None if the line is not one)."""
    return line.split("\t", 1)[1] if line.startswith(STATS + "\t") else None


def move_job_output(target, job_dir, names, shards):
    """Rename the job's part files in ``target/job_dir`` to the shard names (part ``k`` is
    train shard ``k``, ``S + k`` valid shard ``k``, ``2S + k`` test shard ``k``); return the
    statistics line's text (in the last part; None if empty)."""
    for split in names:
        target.makedirs(split)
    parts = sorted(name for name in target.list(job_dir) if name.startswith("part-"))
    if len(parts) != len(names) * shards + 1:
        raise JobFailed(f"the job wrote {len(parts)} part files, expected "
                        f"{len(names) * shards + 1}")
    for n, split in enumerate(names):  # in SPLITS order
        for k, name in enumerate(names[split]):
            target.rename(f"{job_dir}/{parts[n * shards + k]}", name)
    last = target.read_bytes(f"{job_dir}/{parts[-1]}").decode("ascii")
    open_store(target.uri(job_dir)).remove_tree()
    return stats_text(last.rstrip("\n")) if last else None


class ShardWriter:
    """Write a sharding job's output lines (record lines in shard order, then the statistics
    line) into shard files of ``target``, streaming: one shard open at a time.
    ``sequences``: as :func:`run_sharding_job`'s."""

    def __init__(self, target, sequences, shards, splits=splits_with(0)):
        self.target, self.shards, self.splits = target, shards, splits
        self.by_seq = {f"{seq:05d}": info for seq, info in sequences.items()}
        self.stats = None

    def shard_of(self, key):
        """The shard name of a record key (as :meth:`MRTextChunks.partition_key`)."""
        info = self.by_seq[sequence_id(key)]
        index = int(key.split("/")[1])  # the chunk number: train chunks, then valid, then test
        for split in self.splits:
            if index < info["records"][split] or split == self.splits[-1]:
                break
            index -= info["records"][split]
        return shard_name(split, shard_of(info["first_index"][split] + index, self.shards))

    def write_all(self, pairs):
        done, current, out = set(), None, None
        with contextlib.ExitStack() as stack:
            for _, line in pairs:
                line = line.rstrip("\r\n")
                if stats_text(line) is not None:
                    self.stats = stats_text(line)
                    continue
                name = self.shard_of(line.split("\t", 1)[0])
                if name != current:
                    stack.close()
                    if name in done:
                        raise JobFailed(f"the job's output returns to {name}: "
                                        "its lines are not in shard order")
                    done.add(name)
                    current, out = name, stack.enter_context(self.target.writer(name))
                out.write(line.encode("ascii") + b"\n")
