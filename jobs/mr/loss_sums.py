"""Sums that score a model on chunks next to a baseline.

Sums (not means) so that the sums of disjoint shards add up: the same :class:`LossSums` runs in
process (``hadoop-rnn evaluate`` on local data), in every map task of :mod:`jobs.mr.score`
and in the validation tasks of the epoch job (:mod:`jobs.mr.train_epoch`), always over
minibatches of :data:`SCORE_BATCH` chunks; :func:`jobs.scoring.report` turns the sums into
metrics.

* both kinds: ``loss_sum``, the training loss summed over ``count`` scored steps, and
  ``records``, the chunks scored.
* a series model with a base (the AR(p) forecast or the last value, which the network
  corrects): ``base_sum``, the same loss of the base alone, and ``gain_sum``,
  ``gain_squares`` of the step-by-step gain g = (base's squared error - model's), so that a
  run sees on the validation part whether its network beats its base, and by how many
  standard errors (:mod:`jobs.run.trained`).
* text: ``baseline_sum`` (nats under the training unigram distribution, add-one smoothed:
  ``(train_counts + 1) / (N + V)``), when the dataset's meta is given.
* series, in normalized units, per column (F,): squared and absolute errors of the model
  (``sse``, ``sae``; ``loss_sum`` is ``sse`` summed). Original units follow by scaling with
  the std. The series baselines need whole sequences, not chunks: :mod:`rnn_core.baselines`.

Only the scored steps count (the mask): a chunk's warm-up steps are never scored.
"""

import numpy as np

from jobs.data.batches import iter_batches
from rnn_core import loss_and_outputs, loss_only
from rnn_core.network import has_base, predict_base

SCORE_BATCH = 64  # chunks per forward batch when scoring


def unigram_log_probs(meta):
    """log p(symbol) (V,) of the add-one smoothed training unigram distribution."""
    counts = np.asarray(meta["train_counts"], dtype=np.float64) + 1.0
    return np.log(counts / counts.sum())


class LossSums:
    """Accumulates the sums of minibatches (inputs, targets, mask from jobs.data.batches).

    theta: (P,) parameters of the model ``cfg``. ``meta``: the dataset's meta dict; without
    it only ``loss_sum``, ``count`` and ``records`` are kept (the validation loss), with it
    also the baseline and, for series, the per-column errors (the evaluate report).
    """

    def __init__(self, theta, cfg, meta=None):
        self.theta, self.cfg, self.detailed = theta, cfg, meta is not None
        self.sums = {"loss_sum": np.zeros(()), "count": np.zeros(()), "records": np.zeros(())}
        self.with_base = has_base(cfg)
        if self.with_base:
            for name in ("base_sum", "gain_sum", "gain_squares"):
                self.sums[name] = np.zeros(())
        if not self.detailed:
            return
        if cfg.kind == "tokens":
            self.log_probs = unigram_log_probs(meta)
            self.sums["baseline_sum"] = np.zeros(())
        else:
            for name in ("sse", "sae"):
                self.sums[name] = np.zeros(cfg.output_size)

    def add(self, inputs, targets, mask):
        s = self.sums
        s["records"] += len(inputs)
        # one forward pass gives the loss and, where the sums need them, the outputs
        if self.with_base or (self.detailed and self.cfg.kind != "tokens"):
            loss_sum, count, outputs = loss_and_outputs(self.theta, self.cfg, inputs, targets,
                                                        mask)
            outputs = outputs.astype(np.float64)
        else:
            (loss_sum, count), outputs = loss_only(self.theta, self.cfg, inputs, targets,
                                                   mask), None
        s["loss_sum"] += loss_sum
        s["count"] += count
        if self.with_base:
            self.add_base(inputs, targets, mask, outputs)
        if not self.detailed:
            return
        if self.cfg.kind == "tokens":
            s["baseline_sum"] -= np.sum(self.log_probs[targets] * mask, dtype=np.float64)
            return
        m = np.asarray(mask, dtype=np.float64)[..., None]
        error = outputs - targets
        s["sse"] += np.sum(error ** 2 * m, axis=(0, 1))
        s["sae"] += np.sum(np.abs(error) * m, axis=(0, 1))

    def add_base(self, inputs, targets, mask, outputs):
        """The base's squared error and the model's gain over it, step by step (``outputs``:
        the model's, (B, T, O) float64)."""
        s, m = self.sums, np.asarray(mask, dtype=np.float64)
        base = np.sum((predict_base(self.cfg, inputs).astype(np.float64) - targets) ** 2, axis=-1)
        model = np.sum((outputs - targets) ** 2, axis=-1)
        gain = (base - model) * m
        s["base_sum"] += np.sum(base * m)
        s["gain_sum"] += np.sum(gain)
        s["gain_squares"] += np.sum(gain ** 2)

    def add_chunks(self, chunks, batch_size=SCORE_BATCH):
        """Score an iterable of validated chunks; return the sums so far."""
        for inputs, targets, mask in iter_batches(chunks, self.cfg, batch_size):
            self.add(inputs, targets, mask)
        return self.sums
