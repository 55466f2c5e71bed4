"""``prepare --kind text`` as two MapReduce jobs, so the driver's memory does not grow with
the corpus.

1. The survey (:mod:`jobs.mr.char_count`): character counts and the characters of every
   input split. The driver builds the vocabulary and, from the split sizes, each file's
   length and the character offset where each split begins (:class:`TextLayout`).
2. The chunking (:mod:`jobs.mr.text_chunks`): each map task cuts its split's part of the
   chunk records; the shuffle sorts the records into ``--shards`` balanced shards per split.
   On Hadoop with an HDFS ``--out`` the reducers' files are renamed into the dataset (no
   data passes through the driver); otherwise the driver streams the job's output into
   the shard files, one line at a time.

Every input file is one sequence, however many splits it spans: split boundaries are not
chunk boundaries, so the dataset's bytes are the same on every runner and for any split
size. The driver holds O(files + splits + vocabulary).

Local inputs on the hadoop runner are first copied to a temporary HDFS directory
(:func:`jobs.preparing.sharding.job_inputs`), so the two passes see the same paths.
"""
from jobs.data import corpus
from jobs.data.chunks import SequenceLayout
from jobs.hadoop.launch import JobFailed, run_job
from jobs.mr.counters import input_path
from jobs.preparing.sharding import run_sharding_job
from jobs.storage import is_hdfs


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


def chunk_shards(inputs, files, vocab, chunk, valid, context, shards, target, options, totals):
    """Run the chunking job and write its shards into the store ``target``.

    Returns (shard names {"train": [...], "valid": [...]}, training-part counts per token id).
    """
    from jobs.mr.text_chunks import MRTextChunks

    layout = {"vocab": vocab, "chunk": chunk, "valid": valid, "context": context,
              "shards": shards, "files": files}
    sequences = {info["seq"]: info for info in files.values()}
    names, stats = run_sharding_job(MRTextChunks, inputs, layout, sequences, target, options,
                                    totals)
    if stats is None:
        raise JobFailed("the chunking job's output has no counts line")
    return names, [int(n) for n in stats.split(",")]
