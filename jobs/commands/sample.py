"""``hadoop-rnn sample``: the flags of :func:`jobs.generating.sample`."""
import sys

from jobs.cli import (EXIT_OK, add_checkpoint_flag, add_data_flag, add_run_flag,
                      non_negative_int, positive_float)


def add_arguments(parser):
    add_run_flag(parser)
    add_data_flag(parser)
    add_checkpoint_flag(parser)
    parser.add_argument("--prime", default="\n", help="text to start from (default: a newline)")
    parser.add_argument("--length", type=non_negative_int, default=500, help="characters to generate")
    parser.add_argument("--temperature", type=positive_float, default=1.0, help="softmax temperature (> 0)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (same seed, same text)")


def sample_kwargs(args):
    """The keyword arguments of :func:`jobs.generating.sample` that the flags ask for."""
    return dict(run=args.run, data=args.data, prime=args.prime, length=args.length,
                temperature=args.temperature, seed=args.seed, checkpoint=args.checkpoint)


def main(args):
    from jobs.generating import sample

    text = sample(**sample_kwargs(args))
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return EXIT_OK
