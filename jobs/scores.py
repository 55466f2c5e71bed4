"""Sums that score a model on chunks next to a baseline, and the report made from them.

Sums (not means) so that the sums of disjoint shards add up: the same :class:`Scorer` runs in
process (``hadoop-rnn evaluate``) and in every map task of :mod:`jobs.mr_evaluate`.

* text: ``loss_sum`` (model, nats) and ``baseline_sum`` (nats under the training unigram
  distribution, add-one smoothed: ``(train_counts + 1) / (N + V)``) over ``count`` predictions.
* series, in normalized units, per column (F,): squared and absolute errors of the model
  (``sse``, ``sae``) and of the persistence forecast x[t+1] = x[t] (``base_sse``,
  ``base_sae``) over ``count`` steps. Original units follow by scaling with the std.
"""
import math

import numpy as np

from jobs.batches import iter_batches
from rnn_core import loss_only, predict


def unigram_log_probs(meta):
    """log p(symbol) (V,) of the add-one smoothed training unigram distribution."""
    counts = np.asarray(meta["train_counts"], dtype=np.float64) + 1.0
    return np.log(counts / counts.sum())


class Scorer:
    """Accumulates the sums of minibatches (inputs, targets, mask from jobs.batches)."""

    def __init__(self, theta, cfg, meta):
        self.theta, self.cfg = theta, cfg
        self.sums = {"count": np.zeros(()), "records": np.zeros(())}
        if cfg.kind == "tokens":
            self.log_probs = unigram_log_probs(meta)
            self.sums.update(loss_sum=np.zeros(()), baseline_sum=np.zeros(()))
        else:
            for name in ("sse", "sae", "base_sse", "base_sae"):
                self.sums[name] = np.zeros(cfg.output_size)

    def add(self, inputs, targets, mask):
        s = self.sums
        s["records"] += len(inputs)
        if self.cfg.kind == "tokens":
            loss_sum, count = loss_only(self.theta, self.cfg, inputs, targets, mask)
            s["loss_sum"] += loss_sum
            s["count"] += count
            s["baseline_sum"] -= np.sum(self.log_probs[targets] * mask, dtype=np.float64)
            return
        m = np.asarray(mask, dtype=np.float64)[..., None]
        targets = targets.astype(np.float64)
        errors = {"": predict(self.theta, self.cfg, inputs).astype(np.float64) - targets,
                  "base_": inputs[..., :self.cfg.output_size].astype(np.float64) - targets}
        for prefix, error in errors.items():
            s[prefix + "sse"] += np.sum(error ** 2 * m, axis=(0, 1))
            s[prefix + "sae"] += np.sum(np.abs(error) * m, axis=(0, 1))
        s["count"] += m.sum()

    def add_chunks(self, chunks, batch_size=64):
        for inputs, targets, mask in iter_batches(chunks, self.cfg, batch_size):
            self.add(inputs, targets, mask)
        return self.sums


def report(sums, meta):
    """The metrics of summed scores as a JSON-able dict (see hadoop-rnn evaluate --help)."""
    count = float(sums["count"])
    if count == 0:
        raise ValueError("nothing was scored: the split holds no usable records")
    out = {"kind": meta["kind"], "steps": int(count), "records": int(sums["records"])}
    if meta["kind"] == "text":
        loss, base = float(sums["loss_sum"]) / count, float(sums["baseline_sum"]) / count
        out.update(loss=loss, perplexity=math.exp(loss), bits_per_char=loss / math.log(2),
                   baseline="unigram", baseline_loss=base, baseline_perplexity=math.exp(base),
                   baseline_bits_per_char=base / math.log(2))
        return out
    std = np.asarray(meta["normalization"]["std"])
    per = {name: np.asarray(sums[name]) / count for name in ("sse", "sae", "base_sse", "base_sae")}
    out.update(
        loss=float(per["sse"].sum()),  # the training loss: squared error summed over columns
        mse=float(np.mean(per["sse"] * std ** 2)), mae=float(np.mean(per["sae"] * std)),
        mse_normalized=float(np.mean(per["sse"])), mae_normalized=float(np.mean(per["sae"])),
        baseline="persistence",
        baseline_mse=float(np.mean(per["base_sse"] * std ** 2)),
        baseline_mae=float(np.mean(per["base_sae"] * std)),
        baseline_mse_normalized=float(np.mean(per["base_sse"])),
        columns={name: {"mse": float(per["sse"][f] * std[f] ** 2),
                        "mae": float(per["sae"][f] * std[f]),
                        "baseline_mse": float(per["base_sse"][f] * std[f] ** 2),
                        "baseline_mae": float(per["base_sae"][f] * std[f])}
                 for f, name in enumerate(meta["columns"])})
    return out
