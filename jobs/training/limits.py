"""What one invocation of ``train`` may do: the cron settings (docs/operations.md)."""
from dataclasses import dataclass

from jobs.run.lock import DEFAULT_LEASE, MIN_LEASE
from jobs.training.spec import TrainingError, check_range


@dataclass(frozen=True)
class Limits:
    """What one invocation may do (cron settings; see docs/operations.md).

    ``max_epochs_per_run``: commit at most this many epochs, then stop (None: no limit).
    ``time_budget``: seconds; don't start an epoch that would likely end later than this
    after the start (estimated from the last epoch's duration). ``lock_lease``: seconds after
    which a lock without heartbeat is taken over. ``max_bad_records``: the fraction of bad
    records above which an epoch fails.
    """

    max_epochs_per_run: int = None
    time_budget: float = None
    lock_lease: float = DEFAULT_LEASE
    max_bad_records: float = 0.01

    def __post_init__(self):
        if self.max_epochs_per_run is not None:
            check_range("max_epochs_per_run", self.max_epochs_per_run, 1, integer=True)
        if self.time_budget is not None:
            check_range("time_budget", self.time_budget, 0, low_open=True)
        check_range("lock_lease", self.lock_lease, MIN_LEASE)
        check_range("max_bad_records", self.max_bad_records, 0, 1)

    def reached(self, epochs, done, last, elapsed, epoch):
        """Why this invocation may not start another epoch, or None if it may.

        ``epochs``: the run's target; ``done``: epochs committed by this invocation; ``last``:
        seconds the last epoch took (None if unknown); ``elapsed``: seconds since the
        invocation started; ``epoch``: the run's current epoch. Raises TrainingError if the
        time budget cannot fit even the first epoch.
        """
        where = f"at epoch {epoch} of {epochs}; run again to continue"
        if self.max_epochs_per_run is not None and done >= self.max_epochs_per_run:
            return f"stopping after {done} epoch(s) (--max-epochs-per-run): {where}"
        budget = self.time_budget
        if budget is None or last is None or elapsed + last <= budget:
            return None
        if done == 0:
            raise TrainingError(f"--time-budget {budget:g}s is too short for one epoch "
                                f"(the last took {last:.0f}s): nothing was started. Raise it.")
        return (f"stopping after {done} epoch(s): another (~{last:.0f}s) would overrun "
                f"--time-budget {budget:g}s ({elapsed:.0f}s used): {where}")
