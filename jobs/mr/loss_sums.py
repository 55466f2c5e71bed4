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
from rnn_core.network import base_only, forward, has_base, init_state, predict_base
from rnn_core.params import check_theta, param_views


def forecasts_ahead(theta, cfg, inputs, mask, horizon):
    """(the ``horizon``-step forecasts (B, T, O) of a series model over a minibatch, float64,
    the mask (B, T) of the steps scored): step t's from the chunk's steps up to its origin
    t - H + 1 (so from its first row, as evaluate --horizon conditions a record's targets),
    the forecasts of the H - 1 steps between fed back with the chunk's own inputs (a driven
    series' known ahead). Steps without an origin in the chunk (t < H - 1) are not scored.

    One pass over the window for all the scored steps at once: a copy of the minibatch per
    scored step t, each reading the chunk's rows up to its origin and its own forecasts after
    it (the recurrence is stepped, batch n·B, instead of a forecast per origin)."""
    B, T, _ = inputs.shape
    outputs = cfg.output_size
    out = np.zeros((B, T, outputs))
    mask = np.array(mask, dtype=np.float64)
    mask[:, :horizon - 1] = 0
    targets = np.flatnonzero(mask.any(axis=0))
    if not len(targets):
        return out, mask
    views = param_views(check_theta(theta, cfg), cfg)
    state = init_state(cfg, len(targets) * B)
    fed_back = np.repeat(targets - horizon + 1, B)[:, None] < np.arange(T)   # (n·B, T)
    row = np.empty((1, len(targets) * B, cfg.input_size), dtype=cfg.dtype)
    for step in range(targets[-1] + 1):
        row[0] = np.tile(inputs[:, step], (len(targets), 1))
        if step:
            row[0, fed_back[:, step], :outputs] = predicted[fed_back[:, step]]
        predicted, state, _ = forward(views, cfg, row, state)
        predicted = predicted[0]
        if step in targets:                      # the copy of the step that ends here
            c = int(np.searchsorted(targets, step))
            out[:, step] = predicted[c * B:(c + 1) * B]
    return out, mask


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

    def __init__(self, theta, cfg, meta=None, horizon=1):
        self.theta, self.cfg, self.detailed = theta, cfg, meta is not None
        self.horizon = horizon
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
        if self.horizon > 1:
            self.add_ahead(inputs, targets, mask)
            return
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
        base = np.sum((predict_base(self.cfg, inputs).astype(np.float64) - targets) ** 2, axis=-1)
        self.add_gain(base, np.sum((outputs - targets) ** 2, axis=-1), mask)

    def add_gain(self, base, model, mask):
        """Add the base's loss and the gain over it, from the squared errors (B, T) of the
        base and of the model."""
        s, m = self.sums, np.asarray(mask, dtype=np.float64)
        gain = (base - model) * m
        s["base_sum"] += np.sum(base * m)
        s["gain_sum"] += np.sum(gain)
        s["gain_squares"] += np.sum(gain ** 2)

    def add_ahead(self, inputs, targets, mask):
        """The sums of ``horizon``-step forecasts (:func:`forecasts_ahead`): the loss (and
        the base's and the gain) over the scored steps that have an origin in the chunk."""
        s = self.sums
        outputs, mask = forecasts_ahead(self.theta, self.cfg, inputs, mask, self.horizon)
        s["loss_sum"] += np.sum((outputs - targets) ** 2 * mask[..., None])
        s["count"] += np.sum(mask)
        if self.with_base:
            base, _ = forecasts_ahead(base_only(self.theta, self.cfg), self.cfg, inputs, mask,
                                      self.horizon)
            self.add_gain(np.sum((base - targets) ** 2, axis=-1),
                          np.sum((outputs - targets) ** 2, axis=-1), mask)

    def add_chunks(self, chunks, batch_size=SCORE_BATCH):
        """Score an iterable of validated chunks; return the sums so far."""
        for inputs, targets, mask in iter_batches(chunks, self.cfg, batch_size):
            self.add(inputs, targets, mask)
        return self.sums
