"""The survey pass of ``prepare --kind text``: character counts, and how many characters each
input split holds.

Each input line (its newline stripped by the line reader) stands for its characters plus one
``\\n``, with universal newlines (:func:`jobs.data.corpus.line_text`). A map task combines in
memory and emits, as JSON keys and values:

* ``["char", c]``: how often character ``c`` occurs in its split (the vocabulary);
* ``["split", FILE, START]``: the characters of its split, the one that starts at byte
  ``START`` of ``FILE`` (a path without scheme and host). The driver adds these up, in
  split order, into each file's length and the character offset where each split begins,
  which the chunking pass (:mod:`jobs.mr.text_chunks`) needs;
* ``["bad", FILE, START]``: the lines of that split that are not UTF-8 (also counted).

The reducer sums. Output: O(distinct characters + input splits) pairs, whatever the data
size. Run standalone::

    python -m jobs.mr.char_count -r inline corpus/*.txt
"""
from collections import Counter

from mrjob.protocol import BytesValueProtocol, JSONProtocol

from jobs.data.corpus import line_text
from jobs.mr.counters import COUNTERS, current_split
from jobs.mr.task import TaskJob


class MRCharCount(TaskJob):
    INPUT_PROTOCOL = BytesValueProtocol  # decode ourselves: no silent latin-1 fallback
    OUTPUT_PROTOCOL = JSONProtocol

    def mapper_init(self):
        self.counts = Counter()
        self.characters = self.bad_lines = 0

    def mapper(self, _, line):
        try:
            text = line_text(line)
        except UnicodeDecodeError:
            self.increment_counter(COUNTERS, "lines not UTF-8")
            self.bad_lines += 1
            return
        self.counts.update(text)
        self.characters += len(text)

    def mapper_final(self):
        for char, n in self.counts.items():
            yield ["char", char], n
        path, start = current_split()
        yield ["split", path, start], self.characters
        if self.bad_lines:
            yield ["bad", path, start], self.bad_lines

    def combiner(self, key, counts):
        yield key, sum(counts)

    def reducer(self, key, counts):
        yield key, sum(counts)


if __name__ == "__main__":
    MRCharCount.run()
