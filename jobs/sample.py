"""``hadoop-rnn sample``: generate text from a trained character model.

The prime text is fed to the model, then ``--length`` characters are drawn one at a time
from softmax(logits / temperature): low temperatures give safer, more repetitive text. The
same ``--seed`` gives the same text. Characters of the prime outside the vocabulary map to
the unknown symbol (U+FFFD) if the vocabulary has one, else they are an error.
"""
import sys

import numpy as np

from jobs import corpus
from jobs.trained import load_run
from rnn_core.generate import sample_tokens


def add_arguments(parser):
    parser.add_argument("--run", required=True, help="run directory (local or hdfs://)")
    parser.add_argument("--data", help="dataset directory (default: the one the run was trained on)")
    parser.add_argument("--prime", default="\n", help="text to start from (default: a newline)")
    parser.add_argument("--length", type=int, default=500, help="characters to generate")
    parser.add_argument("--temperature", type=float, default=1.0, help="softmax temperature (> 0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (same seed, same text)")


def sample(args):
    """The prime followed by the generated text."""
    state, dataset = load_run(args.run, args.data, kind="text")
    if args.length < 0:
        raise ValueError(f"--length must be >= 0, got {args.length}")
    if not args.temperature > 0:
        raise ValueError(f"--temperature must be > 0, got {args.temperature}")
    if not args.prime:
        raise ValueError("--prime must not be empty")
    vocab = dataset.meta["vocab"]
    try:
        prime_ids = corpus.encode(args.prime, vocab)
    except corpus.CorpusError as e:
        raise ValueError(f"--prime: {e}") from None
    ids = sample_tokens(state.theta, state.model, prime_ids, args.length, args.temperature,
                        np.random.default_rng(args.seed))
    return args.prime + corpus.decode(ids, vocab)


def main(args):
    text = sample(args)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
