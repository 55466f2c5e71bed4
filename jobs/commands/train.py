"""``hadoop-rnn train``: the flags of :func:`jobs.training.train`, its log and exit codes."""
import argparse
import time

from jobs.cli import (EXIT_LOCKED, EXIT_NOTHING_TO_DO, EXIT_OK, Terminated, add_run_flag,
                      add_runner_flags, fraction, non_negative_float, non_negative_int,
                      number_type, positive_float, positive_int, proportion, runner_options)
from jobs.run.lock import DEFAULT_LEASE, MIN_LEASE
from rnn_core.config import CELLS, DTYPES
from rnn_core.optimizers import NAMES as OPTIMIZERS, SCHEDULES


def add_arguments(parser):
    from jobs.mr.outer import INNER_STATES, LR_SCALINGS
    from jobs.run.state import MODES
    from jobs.training.spec import (DEFAULT_LR, MODEL_DEFAULTS, OPTIMIZER_DEFAULTS, RESIDUALS,
                                    SETTINGS_DEFAULTS)

    new_run = {**MODEL_DEFAULTS, **OPTIMIZER_DEFAULTS, **SETTINGS_DEFAULTS}

    def default(name):
        """The help suffix of a run-defining flag: its value for a new run."""
        return f" (default for a new run: {new_run[name]}; on resume: the checkpoint's)"

    parser.add_argument("--data", required=True, help="prepared dataset directory (local or hdfs://)")
    add_run_flag(parser, help="run directory for checkpoints and metrics")
    parser.add_argument("--epochs", type=positive_int,
                        help="total number of epochs to reach (re-running continues up to it; "
                        "default: text 10, series about 2,000 optimizer steps, 10 to 100)")
    parser.add_argument("--patience", type=positive_int, metavar="P",
                        help="stop after P epochs without a better validation loss (default: "
                        "never); the best epoch is kept in best.npz either way")
    parser.add_argument("--valid-every", type=positive_int, default=1, metavar="K",
                        help="score θ on the validation split every K epochs, and always the "
                        "last epoch's (default 1: every epoch; the others' valid_loss is null)")
    add_runner_flags(parser)
    parser.add_argument("--task-threads", type=positive_int, default=1, help="BLAS threads per map task")
    spread = parser.add_argument_group(
        "spreading an epoch (may change between invocations: R never changes θ; N changes it "
        "in average mode, as the runner does)")
    spread.add_argument("--reducers", type=positive_int, metavar="R",
                        help="reduce tasks; θ is cut into slices spread over them (default: "
                        "as many as one task's output needs 8 MB records, at most N)")
    spread.add_argument("--map-tasks", type=positive_int, metavar="N",
                        help="map tasks per epoch: on Hadoop about N (it groups the input "
                        "splits, CombineTextInputFormat); the inline and local runners cut the "
                        "training shards into N pieces, or as close below as whole records "
                        "allow, but never join shards, and refuse N above the training "
                        "records (default: on Hadoop one task per shard, on the others 4 "
                        "pieces or one per shard)")
    spread.add_argument("--no-uber", dest="uber", action="store_false",
                        help="on Hadoop, never run an epoch as an uber job (by default a small "
                        "one runs its tasks inside the ApplicationMaster: no task containers)")
    parser.add_argument("--max-bad-records", type=proportion, default=0.01,
                        help="fraction of bad records above which an epoch fails (default 0.01)")
    cron = parser.add_argument_group("scheduling (safe to re-run, e.g. from cron)")
    cron.add_argument("--max-epochs-per-run", type=positive_int, metavar="N",
                      help="commit at most N epochs in this invocation, then exit 0 (default: no limit)")
    cron.add_argument("--time-budget", type=positive_float, metavar="SECONDS",
                      help="don't start an epoch that would likely end after SECONDS from the "
                      "start (estimated from the last epoch's duration), exit 0 instead (default: no limit)")
    cron.add_argument("--lock-lease", type=number_type(float, MIN_LEASE), default=DEFAULT_LEASE,
                      metavar="SECONDS",
                      help="a lock whose heartbeat is older than this is taken over (default "
                      f"{DEFAULT_LEASE:.0f}, at least {MIN_LEASE}); a lock of a dead process on "
                      "this host at once")
    cron.add_argument("--log", metavar="FILE", help="also append every line, timestamped, to FILE (default: stdout only)")
    model = parser.add_argument_group("model (fixed for a run)")
    model.add_argument("--cell", choices=CELLS, help="recurrent cell" + default("cell"))
    model.add_argument("--hidden", type=positive_int,
                       help="hidden units per layer (default for a new run: text "
                       f"{new_run['hidden']}, series 32; on resume: the checkpoint's)")
    model.add_argument("--layers", type=positive_int, help="stacked layers" + default("layers"))
    model.add_argument("--dtype", choices=DTYPES, help="parameter dtype" + default("dtype"))
    model.add_argument("--residual", choices=RESIDUALS, nargs="?", const="last",
                       help="series: what the network's output is added to: ar, the AR(p) "
                       "forecast fitted by prepare on the training part; last, the last value; "
                       "none, nothing: the network predicts the value. A bare --residual means "
                       "last (default for a new series run: ar, or last for data prepared "
                       "without the AR fit; a fresh model then forecasts its base; on resume: "
                       "the checkpoint's)")
    model.add_argument("--no-residual", dest="residual", action="store_const", const="none",
                       help="the same as --residual none")
    model.add_argument("--no-target-inputs", dest="target_inputs", action="store_const",
                       const=False,
                       help="series driven by inputs: the network reads the inputs only, not "
                       "the targets' past values (a system driven by its inputs alone; "
                       "implies --residual none) (default for a new run: it reads both; on "
                       "resume: the checkpoint's)")
    opt = parser.add_argument_group("optimizer (fixed for a run)")
    opt.add_argument("--optimizer", choices=sorted(OPTIMIZERS), help="optimizer" + default("optimizer"))
    opt.add_argument("--lr", type=positive_float, help="learning rate (default for a new run: "
                     + ", ".join(f"{name} {lr:g}" for name, lr in sorted(DEFAULT_LR.items()))
                     + ")")
    opt.add_argument("--momentum", type=fraction,
                     help="momentum optimizer: the velocity's decay" + default("momentum"))
    opt.add_argument("--nesterov", action="store_const", const=True,
                     help="momentum optimizer: Nesterov's variant (default: off)")
    opt.add_argument("--clip", type=non_negative_float,
                     help="clip gradients to this global L2 norm, 0: off" + default("clip"))
    opt.add_argument("--clip-value", type=positive_float,
                     help="clip each gradient entry to ±this (default: off)")
    opt.add_argument("--schedule", choices=SCHEDULES,
                     help="learning-rate schedule" + default("schedule"))
    opt.add_argument("--decay-every", type=positive_int,
                     help="step schedule: optimizer steps per decay" + default("decay_every"))
    opt.add_argument("--decay-rate", type=positive_float,
                     help="step schedule: lr factor per decay" + default("decay_rate"))
    opt.add_argument("--weight-decay", type=non_negative_float,
                     help="decoupled weight decay per step, θ -= lr·λ·θ as in AdamW (default 0)")
    settings = parser.add_argument_group("training (fixed for a run)")
    settings.add_argument("--mode", choices=MODES,
                          help="gradient: one exact step per epoch; average: parameter mixing"
                          + default("mode"))
    settings.add_argument("--batch", type=positive_int,
                          help="chunks per minibatch (default: text 32; series from the data "
                          "size, at least 32 steps per task and epoch)")
    settings.add_argument("--bptt", type=non_negative_int,
                          help="truncated BPTT window in steps, 0: whole chunk" + default("bptt"))
    settings.add_argument("--seed", type=non_negative_int,
                          help="seed of the initial θ" + default("seed"))
    settings.add_argument("--valid-horizon", type=positive_int, metavar="H",
                          help="series: score the validation part H steps ahead, each "
                          "prediction fed back (with the known inputs of a driven series), "
                          "so that the best epoch, --patience and the choice between the "
                          "network and its base are made at the horizon the forecasts are "
                          "for" + default("valid_horizon"))
    outer = parser.add_argument_group(
        "average mode: the outer optimizer and sync rounds (fixed for a run; see "
        "docs/scaling.md)")
    outer.add_argument("--outer-momentum", type=outer_momentum, metavar="ETA|auto",
                       help="block momentum η in [0, 1) on the tasks' average change; auto: "
                       "1 - 1/N for N map tasks (N = 1: plain averaging)"
                       + default("outer_momentum"))
    outer.add_argument("--outer-lr", type=positive_float, metavar="ZETA",
                       help="block learning rate ζ: Δ = η·Δ + ζ·(average change)"
                       + default("outer_lr"))
    outer.add_argument("--outer-nesterov", action=argparse.BooleanOptionalAction,
                       help="Nesterov block momentum: θ += η·Δ + ζ·(average change) instead "
                       "of θ += Δ" + default("outer_nesterov"))
    outer.add_argument("--inner-state", choices=INNER_STATES,
                       help="the tasks' optimizer states (Adam's moments) after a sync: mean: "
                       "their count-weighted mean; reset: a fresh state; auto: the mean with "
                       "one map task, reset with several (with --schedule step: mean, as a "
                       "reset restarts the step counter)" + default("inner_state"))
    outer.add_argument("--lr-scaling", choices=LR_SCALINGS,
                       help="the tasks' learning rate against the map tasks N the run starts "
                       "with (--map-tasks, also with --start-map-tasks): sqrt, --lr × √N (the "
                       "lr of N = 1 stays --lr); none, --lr as given" + default("lr_scaling"))
    outer.add_argument("--syncs-per-epoch", type=positive_int, metavar="K",
                       help="K jobs per epoch, each task training on every K-th of its "
                       "minibatches; each is a commit point" + default("syncs_per_epoch"))
    outer.add_argument("--start-map-tasks", type=positive_int, metavar="M",
                       help="the first --start-epochs epochs on about M map tasks, the later "
                       "ones on --map-tasks: early on the gradient is noisy and few tasks use "
                       "the steps better (docs/scaling.md, \"Picking N\"; default: none)")
    outer.add_argument("--start-epochs", type=positive_int, metavar="E",
                       help="the epochs of the start on --start-map-tasks (default: none; "
                       "both flags or neither)")


def outer_momentum(text):
    """An argparse ``type=``: "auto" or a number in [0, 1)."""
    from jobs.mr.outer import AUTO

    return AUTO if text == AUTO else fraction(text)


def train_kwargs(args):
    """The keyword arguments of :func:`jobs.training.train` that the flags ask for."""
    from dataclasses import fields

    from jobs.training import Limits, RunSpec

    spec = RunSpec(**{f.name: getattr(args, f.name) for f in fields(RunSpec)})
    limits = Limits(max_epochs_per_run=args.max_epochs_per_run, time_budget=args.time_budget,
                    lock_lease=args.lock_lease, max_bad_records=args.max_bad_records)
    return dict(data=args.data, run=args.run, epochs=args.epochs, spec=spec, limits=limits,
                runner=runner_options(args, task_threads=args.task_threads,
                                      reducers=args.reducers, map_tasks=args.map_tasks,
                                      uber=args.uber),
                patience=args.patience, valid_every=args.valid_every)


def exit_code(result):
    """The exit code of a TrainResult (see docs/operations.md)."""
    from jobs.training import Outcome

    return {Outcome.TRAINED: EXIT_OK, Outcome.NOTHING_TO_DO: EXIT_NOTHING_TO_DO,
            Outcome.LOCKED: EXIT_LOCKED}[result.outcome]


def append_log(path, line):
    """Append ``line`` to the file ``path`` with a timestamp."""
    with open(path, "a", encoding="utf-8") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S%z')} hadoop-rnn train: {line}\n")


def file_log(path):
    """A log function that prints a line and appends it, timestamped, to ``path``."""
    def log(line):
        print(line, flush=True)
        append_log(path, line)
    return log


def main(args):
    from jobs.training import train

    log = file_log(args.log) if args.log else print
    try:
        return exit_code(train(**train_kwargs(args), log=log))
    except Terminated:
        log("terminated by SIGTERM: the lock was released; the newest checkpoint is intact")
        raise
    except Exception as e:
        if args.log:  # the command line prints it to stderr; keep it in the log file too
            append_log(args.log, f"error: {e}")
        raise
