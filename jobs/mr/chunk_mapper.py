"""The base of the jobs whose map tasks read chunk records a minibatch at a time."""
from jobs.data.batches import read_chunk
from jobs.data.records import BadRecord
from jobs.mr.counters import TASKS_BY_NODE, count_bad_record, current_node, current_shard
from jobs.mr.task import TaskJob


class ChunkMapperJob(TaskJob):
    """An MRJob whose mapper validates record lines and buffers them into minibatches.

    A subclass calls :meth:`start_chunks` in its ``mapper_init`` and implements
    :meth:`handle_chunks`, which receives lists of up to ``batch_size`` validated chunks in
    input order; its ``mapper_final`` calls :meth:`flush_chunks` first. Bad records are
    skipped and counted by reason and by shard (see :mod:`jobs.mr.counters`).
    """

    def start_chunks(self, cfg, batch_size):
        """Begin buffering chunks for the model ``cfg`` (a ModelConfig)."""
        self.cfg, self.batch_size = cfg, batch_size
        self.pending = []
        self.shard = current_shard()
        self.increment_counter(TASKS_BY_NODE, current_node())

    def mapper(self, _, line):
        try:
            chunk = read_chunk(line, self.cfg)
        except BadRecord as bad:
            count_bad_record(self, bad, self.shard)
            return
        self.pending.append(chunk)
        if len(self.pending) == self.batch_size:
            self.flush_chunks()

    def flush_chunks(self):
        """Hand the buffered chunks (if any) to :meth:`handle_chunks`."""
        if self.pending:
            self.handle_chunks(self.pending)
        self.pending = []

    def handle_chunks(self, chunks):
        raise NotImplementedError
