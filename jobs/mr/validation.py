"""Validation shards in a job's input: which map tasks read them, how mrjob's local runners
cut the input around them, and what such a task of the epoch job does (:class:`ValidationScoring`).

The epoch job (:mod:`jobs.mr.train_epoch`) reads the training shards and, in an epoch that
scores the incoming θ, the validation shards too. A map task tells them apart by the file it
reads, ``mapreduce.map.input.file``, compared by path with the list given as
``--valid-shards`` (a text file, one path or URI a line). That is exact whenever a split
never spans files: Hadoop's default TextInputFormat (a split is part of one file) and mrjob's
inline and local runners (they cut files, never join them).

It is NOT exact with the epoch job's ``--combine-splits`` (CombineTextInputFormat): a split
then holds pieces of several files, and Hadoop Streaming starts the task's Python process
with the job configuration as it is when the split's FIRST file is opened
(``PipeMapRed.configure`` copies the JobConf into the child's environment once;
``CombineFileRecordReader`` sets ``mapreduce.map.input.file`` in the JobConf again at each
later file, but the process never sees it). Record keys do not tell the splits apart either.
So the training driver never gives validation shards to a combined job (it scores them with
:mod:`jobs.mr.score` instead, see :func:`jobs.training.epoch_job.run_epoch_job`).

mrjob's inline and local runners cut each input file into pieces of (total input bytes) /
(2 x num_cores) bytes: validation shards in the input would change how the TRAINING shards are
cut, hence θ (in average mode each map task trains on its piece, and minibatches never cross a
piece). ``--split-bytes S`` makes them cut every file into pieces of S bytes (a piece closes at
the first line end past S) whatever else is in the input: the training driver picks S from the
training shards (:func:`jobs.training.epoch_job.local_split`), θ is then the same with or
without validation in the job, and the scoring job given the same S cuts the validation shards
exactly as the epoch job does, so their sums are the same bits. Hadoop ignores it (its splits
are blocks of each file).
"""
from mrjob.compat import jobconf_from_env
from mrjob.sim import SimMRJobRunner

from jobs.mr.counters import input_path
from jobs.mr.loss_sums import LossSums
from jobs.mr.protocol import Record, task_tag


def valid_list_bytes(uris):
    """The contents of a ``--valid-shards`` file listing ``uris``."""
    return "".join(f"{uri}\n" for uri in uris).encode("utf-8")


def sized_runner(runner_class, split_bytes):
    """A subclass of the mrjob local runner ``runner_class`` that cuts input files into
    pieces of ``split_bytes`` (mrjob's own rule, with its split size given)."""
    class SizedRunner(runner_class):
        def _pick_mapper_split_size(self, input_paths, step_num):
            return split_bytes

    SizedRunner.__name__ = f"Sized{runner_class.__name__}"
    return SizedRunner


class ValidationInputJob:
    """Mixin of an MRJob whose input may be validation shards (see the module docstring).
    From ``configure_args`` call :meth:`add_split_bytes_arg` and, for a job that reads
    both splits, :meth:`add_valid_shards_arg`."""

    def add_split_bytes_arg(self):
        self.add_passthru_arg("--split-bytes", type=int,
                              help="inline/local runners: cut input files into pieces of this "
                              "many bytes, at line ends")

    def add_valid_shards_arg(self):
        self.add_file_arg("--valid-shards",
                          help="text file listing the validation shards among the inputs, one "
                          "path or URI a line: map tasks score them instead of training")

    def reads_validation(self):
        """Whether this map task's input file is one of the ``--valid-shards``."""
        if not self.options.valid_shards:
            return False
        with open(self.options.valid_shards, encoding="utf-8") as f:
            listed = {input_path(line.strip()) for line in f if line.strip()}
        return input_path(jobconf_from_env("mapreduce.map.input.file", "")) in listed

    def _runner_class(self):  # mrjob's hook: the runner make_runner() builds
        runner_class = super()._runner_class()
        split_bytes = getattr(self.options, "split_bytes", None)
        if split_bytes is None or not issubclass(runner_class, SimMRJobRunner):
            return runner_class
        return sized_runner(runner_class, split_bytes)


class ValidationScoring:
    """A map task of the epoch job that reads a validation shard: it scores the incoming θ
    (:class:`jobs.mr.loss_sums.LossSums`) and emits one record of its sums."""

    def __init__(self, state):
        self.sums = LossSums(state.theta, state.model, horizon=state.settings.valid_horizon)

    def add(self, chunks, batch_size):
        self.sums.add_chunks(chunks, batch_size)

    def record(self):
        """{loss_sum, count, records}, tagged with the task."""
        return Record(task_tag(), dict(self.sums.sums))
