"""Character counts of a text corpus as a MapReduce job: word count, one character at a time.

Each input line (its newline stripped by the line reader) counts its characters plus one
``\\n``, with universal newlines (see :mod:`jobs.data.corpus`). Map tasks combine in memory and
emit one ``(char, count)`` pair per distinct character they saw; the reducer sums them.
Keys and values travel as JSON, so tabs and newlines in keys are escaped. Run standalone::

    python -m jobs.mr.char_count -r inline corpus/*.txt
"""
from collections import Counter

from mrjob.protocol import BytesValueProtocol, JSONProtocol

from jobs.mr.counters import COUNTERS
from jobs.mr.task import TaskJob


class MRCharCount(TaskJob):
    INPUT_PROTOCOL = BytesValueProtocol  # decode ourselves: no silent latin-1 fallback
    OUTPUT_PROTOCOL = JSONProtocol

    def mapper_init(self):
        self.counts = Counter()

    def mapper(self, _, line):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            self.increment_counter(COUNTERS, "lines not UTF-8")
            return
        if text.endswith("\r"):  # a CRLF line end whose \n the reader stripped
            text = text[:-1]
        self.counts.update(text.replace("\r\n", "\n").replace("\r", "\n"))
        self.counts["\n"] += 1

    def mapper_final(self):
        yield from self.counts.items()

    def combiner(self, char, counts):
        yield char, sum(counts)

    def reducer(self, char, counts):
        yield char, sum(counts)


if __name__ == "__main__":
    MRCharCount.run()
