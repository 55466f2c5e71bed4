"""``prepare --kind text`` as two MapReduce jobs, so the driver's memory does not grow with
the corpus.

1. The survey (:mod:`jobs.mr.char_count`): character counts and the characters of every
   input split. The driver builds the vocabulary and, from the split sizes, each file's
   length and the character offset where each split begins (:func:`survey_layout`).
2. The chunking (:mod:`jobs.mr.text_chunks`): each map task cuts its split's part of the
   chunk records; the shuffle sorts the records into ``--shards`` balanced shards per split.
   On Hadoop with an HDFS ``--out`` the reducers' files are renamed into the dataset (no
   data passes through the driver); otherwise the driver streams the job's output into
   the shard files, one line at a time.

Every input file is one sequence, however many splits it spans: split boundaries are not
chunk boundaries, so the dataset's bytes are the same on every runner and for any split
size. The driver holds O(files + splits + vocabulary).

Local inputs on the hadoop runner are first copied to a temporary HDFS directory (as mrjob
would), so the two passes see the same paths.
"""
import contextlib
import json
import os
import tempfile
import uuid
from dataclasses import replace

from jobs.data import corpus
from jobs.data.chunks import SequenceLayout, sequence_id
from jobs.data.dataset import shard_name
from jobs.launch import JobFailed, run_job
from jobs.mr.counters import COUNTERS, input_path
from jobs.storage import is_hdfs, open_store

JOB_OUTPUT = "job-output"  # the chunking job's output directory inside the staging dataset
CHUNK_JOB_STATS = "#counts"  # jobs.mr.text_chunks.STATS (not imported: mrjob loads lazily)


class TextLayout:
    """What the chunking pass needs to know of the corpus, built from the survey's output.

    ``sources``: the input files as the user named them; ``inputs``: the same files as the
    jobs read them (:func:`job_inputs`); ``output``: the survey job's (key, count) pairs.
    ``counts``: {char: n}.
    """

    def __init__(self, sources, inputs, output):
        self.sources, self.paths = sources, [input_path(path) for path in inputs]
        self.counts, splits, bad = {}, {}, {}
        for key, n in output:
            kind = key[0]
            if kind == "char":
                self.counts[key[1]] = n
            elif kind == "split":
                splits.setdefault(key[1], []).append((key[2], n))
            elif kind == "bad":
                bad[key[1]] = bad.get(key[1], 0) + n
        self.bad = bad
        self.splits = {path: sorted(found) for path, found in splits.items()}

    def check_utf8(self):
        """Raise CorpusError naming the first input with lines that are not UTF-8."""
        for source, path in zip(self.sources, self.paths):
            lines = self.bad.get(path)
            if lines:
                if not is_hdfs(source):
                    corpus.read_text(source)  # names the byte offset of the first bad byte
                raise corpus.CorpusError(f"{source}: not UTF-8 text: {lines} line(s) hold "
                                         "bytes that are not UTF-8")

    def files(self, chunk, valid, context):
        """The chunking job's table of files and the dataset's {split: {records, steps}}.

        The table: {input path: {"seq", "length", "splits": [[byte start, char offset,
        chars], ...], "first_index": {split: index of its first record in the split},
        "records": {split: n}}}, sequences numbered in input order.
        """
        files, first = {}, {"train": 0, "valid": 0}
        steps = {"train": 0, "valid": 0}
        for seq, (source, path) in enumerate(zip(self.sources, self.paths)):
            offset, table = 0, []
            for start, chars in self.splits.get(path, []):
                table.append([start, offset, chars])
                offset += chars
            if offset < 2:
                raise corpus.CorpusError(f"{source}: {offset} character(s): the survey pass "
                                         "read too little of it to make a sequence")
            layout = SequenceLayout(offset, chunk, valid, context)
            files[path] = {"seq": seq, "length": offset, "splits": table,
                           "first_index": dict(first), "records": dict(layout.counts)}
            for split in first:
                first[split] += layout.counts[split]
                steps[split] += layout.steps(split)
        totals = {split: {"records": first[split], "steps": steps[split]} for split in first}
        return files, totals


def survey(sources, inputs, options):
    """Run the survey job over ``inputs`` (the files ``sources`` as the jobs read them);
    return its :class:`TextLayout`."""
    from jobs.mr.char_count import MRCharCount

    return TextLayout(sources, inputs, run_job(MRCharCount, [], inputs, options).output)


@contextlib.contextmanager
def job_inputs(sources, options):
    """The paths the jobs read: ``sources``, with local files copied to HDFS for the hadoop
    runner (the copies are removed afterwards). HDFS inputs need the hadoop runner."""
    remote = [s for s in sources if is_hdfs(s)]
    if remote and options.runner != "hadoop":
        raise corpus.CorpusError(f"{remote[0]}: HDFS inputs need --runner hadoop (the "
                                 f"{options.runner} runner reads local files)")
    local = [s for s in sources if not is_hdfs(s)]
    if options.runner != "hadoop" or not local:
        yield [s if is_hdfs(s) else os.path.abspath(s) for s in sources]
        return
    staging = open_store(f"hdfs:///tmp/hadoop-rnn-prepare-{uuid.uuid4().hex[:12]}")
    try:
        copies = {}
        for n, source in enumerate(local):
            name = f"{n:05d}-{os.path.basename(source)}"
            staging.upload(name, source)
            copies[source] = staging.uri(name)
        yield [copies.get(s, s) for s in sources]
    finally:
        staging.remove_tree()


def chunk_shards(inputs, files, vocab, chunk, valid, context, shards, target, options, totals):
    """Run the chunking job and write its shards into the store ``target``.

    Returns (shard names {"train": [...], "valid": [...]}, training-part counts per token id).
    """
    from jobs.mr.text_chunks import MRTextChunks

    layout = {"vocab": vocab, "chunk": chunk, "valid": valid, "context": context,
              "shards": shards, "files": files}
    reducers = 2 * shards + 1
    names = {split: [shard_name(split, k) for k in range(min(shards, totals[split]["records"]))]
             or [shard_name(split, 0)] for split in ("train", "valid")}
    in_place = options.runner == "hadoop" and is_hdfs(target.uri())
    with tempfile.TemporaryDirectory(prefix="hadoop-rnn-layout-") as tmp:
        layout_file = os.path.join(tmp, "layout.json")
        with open(layout_file, "w", encoding="utf-8") as f:
            json.dump(layout, f)
        args = ["--layout", layout_file]
        extra = ["--jobconf", f"mapreduce.job.reduces={reducers}"]
        if in_place:
            extra += ["--output-dir", target.uri(JOB_OUTPUT)]
        job_options = replace(options, extra_args=list(options.extra_args) + extra)
        if in_place:
            result = run_job(MRTextChunks, args, inputs, job_options, collect=lambda pairs: None)
            train_counts = move_job_output(target, JOB_OUTPUT, names, shards)
        else:
            writer = ShardWriter(target, files, shards)
            result = run_job(MRTextChunks, args, inputs, job_options, collect=writer.write_all)
            train_counts = writer.train_counts
            for split in names:  # shards that got no record (fewer records than shards)
                for name in names[split]:
                    if not target.exists(name):
                        target.write_bytes(name, b"")
    written = result.counters.get(COUNTERS, {})
    for split in ("train", "valid"):
        got = written.get(f"{split} records written", 0)
        if got != totals[split]["records"]:
            raise JobFailed(f"the chunking job wrote {got:,} {split} records, the layout has "
                            f"{totals[split]['records']:,}")
    return names, train_counts


def parse_counts(line):
    """The training-part counts per token id from the chunking job's counts line."""
    return [int(n) for n in line.split("\t", 1)[1].split(",")]


def move_job_output(target, job_dir, names, shards):
    """Rename the chunking job's part files in ``target/job_dir`` to the shard names (part
    ``k`` is train shard ``k``, ``S + k`` valid shard ``k``, ``2S`` the counts); return the
    counts."""
    for split in names:
        target.makedirs(split)
    parts = sorted(name for name in target.list(job_dir) if name.startswith("part-"))
    if len(parts) != 2 * shards + 1:
        raise JobFailed(f"the chunking job wrote {len(parts)} part files, expected "
                        f"{2 * shards + 1}")
    for split, offset in (("train", 0), ("valid", shards)):
        for k, name in enumerate(names[split]):
            target.rename(f"{job_dir}/{parts[offset + k]}", name)
    counts = parse_counts(target.read_bytes(f"{job_dir}/{parts[-1]}").decode("ascii"))
    open_store(target.uri(job_dir)).remove_tree()
    return counts


class ShardWriter:
    """Write the chunking job's output lines (record lines in shard order, then the counts
    line) into shard files of ``target``, streaming: one shard open at a time."""

    def __init__(self, target, files, shards):
        self.target, self.shards = target, shards
        self.by_seq = {f"{info['seq']:05d}": info for info in files.values()}
        self.train_counts = None

    def shard_of(self, key):
        """The shard name of a record key (as :meth:`MRTextChunks.partition_key`)."""
        info = self.by_seq[sequence_id(key)]
        number = int(key.split("/")[1])
        train_records = info["records"]["train"]
        split, index = (("train", number) if number < train_records
                        else ("valid", number - train_records))
        return shard_name(split, (info["first_index"][split] + index) % self.shards)

    def write_all(self, pairs):
        done, current, out = set(), None, None
        with contextlib.ExitStack() as stack:
            for _, line in pairs:
                line = line.rstrip("\r\n")
                if line.startswith(CHUNK_JOB_STATS):
                    self.train_counts = parse_counts(line)
                    continue
                name = self.shard_of(line.split("\t", 1)[0])
                if name != current:
                    stack.close()
                    if name in done:
                        raise JobFailed(f"the chunking job's output returns to {name}: "
                                        "its lines are not in shard order")
                    done.add(name)
                    current, out = name, stack.enter_context(self.target.writer(name))
                out.write(line.encode("ascii") + b"\n")
        if self.train_counts is None:
            raise JobFailed("the chunking job's output has no counts line")
