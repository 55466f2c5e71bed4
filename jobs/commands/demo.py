"""``hadoop-rnn demo``: the flags of :func:`jobs.demo.demo`."""
from jobs.cli import EXIT_LOCKED, EXIT_OK, non_negative_int, positive_int


def add_arguments(parser):
    parser.add_argument("--run", help="run directory (default: a new temporary directory)")
    parser.add_argument("--epochs", type=positive_int, default=8, help="epochs to train (default 8)")
    parser.add_argument("--length", type=non_negative_int, default=400, help="characters to sample")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="sampling seed")


def main(args):
    from jobs.demo import demo
    from jobs.training import Outcome

    outcome = demo(run=args.run, epochs=args.epochs, length=args.length, seed=args.seed)
    return EXIT_LOCKED if outcome is Outcome.LOCKED else EXIT_OK
