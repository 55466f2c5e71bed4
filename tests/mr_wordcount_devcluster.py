"""Tiny word count used by tests/test_dev_cluster.py to run a real mrjob
job on the Hadoop dev cluster (mrjob ships this file to the tasks)."""
import re

from mrjob.job import MRJob

WORD_RE = re.compile(r"[\w']+")


class MRWordCountDevCluster(MRJob):

    def mapper(self, _, line):
        for word in WORD_RE.findall(line):
            yield word.lower(), 1

    def combiner(self, word, counts):
        yield word, sum(counts)

    def reducer(self, word, counts):
        yield word, sum(counts)


if __name__ == '__main__':
    MRWordCountDevCluster.run()
