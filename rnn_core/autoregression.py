"""AR(p) per column, fitted by least squares from sums that add across parts.

The base of an AR-residual series model (:mod:`rnn_core.highway`) and the AR(p) baseline
of ``evaluate`` (:mod:`rnn_core.baselines`) are this fit: ``prepare`` adds the sums of its map
tasks (:mod:`jobs.mr.series_ar`), ``evaluate`` of a dataset without them the sums of the
training parts in memory; either way :func:`fit_ar_statistics` fits. Arrays are float64
throughout; a part is (L, F): L steps of F columns, each column its own AR(p).
"""
from dataclasses import dataclass

import numpy as np

MAX_AR_ORDER = 60        # the largest p tried
AR_HOLDOUT = 0.2         # p is chosen on this last fraction of each training part
BLOCK = 8192             # steps whose lagged copies are held at once: memory O(BLOCK · P),
                         # not O(L · P), for a series of any length L


@dataclass(frozen=True)
class AR:
    """An AR(p) model per column: x̂[t] = coef[f, 0] + Σ_{i=1..p} coef[f, i] x[t - i, f]."""

    order: int
    coef: np.ndarray  # (F, p + 1)


def lagged(sequence, positions, lags):
    """x[t - lag] for each position t and lag, the first value before the start.

    sequence (L, F), positions (n,), lags (k,) -> (n, k, F).
    """
    index = np.maximum(positions[:, None] - np.asarray(lags)[None, :], 0)
    return sequence[index]


# -- AR(p) from sufficient statistics ---------------------------------------------------------
#
# fit_ar needs, for every order p, the least-squares normal equations over the positions
# t >= p of each part (all p lags inside it), on the first 80 % of each part and on the
# whole, and the squared one-step errors on the last 20 %. They come from sums that add
# across parts (and so across map tasks and series), O(P^2) for the largest order P:
#
# * with zero-padded lags z[t] = (x[t], x[t-1], .., x[t-P]) (lag 0 is the target), the sums
#   ZZ = Σ_t z[t] z[t]ᵀ and Z = Σ_t z[t], and the sums over a part's first positions
#   A[d, m] = Σ_{u<m} x[u] x[u+d] and A1[m] = Σ_{u<m} x[u], give for lags i <= j <= p
#       Σ_{t=p}^{L-1} x[t-i] x[t-j] = ZZ[i, j] - A[j-i, p-j]
#       Σ_{t=p}^{L-1} x[t-j]        = Z[j] - A1[p-j]
#   and L - p positions. This holds for p <= L; a part shorter than an order adds nothing to
#   it (fit_ar leaves such parts out), so the sums are kept per class min(L, P) and a class
#   adds to the orders p <= its class only.
# * the held-out errors of any coefficients w = (c, a_1 .. a_p): Σ (x[t] - w·f[t])² from
#   Q = Σ_t q[t] q[t]ᵀ, q[t] = (1, x[t], x[t-1], .., x[t-P]) (lags before the part's start
#   are its first value, as when forecasting).
#
# The statistics are a flat dict of arrays (names "steps", "holdout" and "<set>.<class>.<sum>"
# for set "fit" (first 80 %) and "all"), JSON- and npz-friendly.

LAG_SUMS = ("zz", "z", "prefix", "prefix1", "parts", "length")


def fit_split(length):
    """The fitting part's length of a training part of ``length`` steps: the rest (the last
    :data:`AR_HOLDOUT`) chooses p."""
    return length - int(AR_HOLDOUT * length)


def lag_sums(part, max_order):
    """{name: sums} of one part (L, F) for the normal equations of every order <= max_order:
    zz (F, P+1, P+1), z (F, P+1), prefix (F, d P+1, m P+1), prefix1 (F, m P+1), parts, length."""
    P, F = max_order, part.shape[1]
    zz, z = np.zeros((F, P + 1, P + 1)), np.zeros((F, P + 1))
    for first in range(0, len(part), BLOCK):
        block = lagged_zero(part, P, first, min(first + BLOCK, len(part)))   # (b, F, P + 1)
        zz += np.einsum("tfi,tfj->fij", block, block)
        z += block.sum(axis=0)
    start = np.concatenate([part[:2 * P], np.zeros((max(2 * P - len(part), 0), F))])
    # x[u] x[u + d] for u < P (0 past the part's end); the sums use u + d < P only
    products = start[:P, :, None] * np.stack([start[d:d + P] for d in range(P + 1)], axis=2)
    prefix = np.cumsum(np.concatenate([np.zeros((1, F, P + 1)), products]), axis=0)
    prefix1 = np.cumsum(np.concatenate([np.zeros((1, F)), start[:P]]), axis=0)
    return {"zz": zz, "z": z,
            "prefix": prefix.transpose(1, 2, 0), "prefix1": prefix1.T,
            "parts": np.array(1.0), "length": np.array(float(len(part)))}


def lagged_zero(sequence, max_order, first, stop):
    """(stop - first, F, max_order + 1): x[t - k] for t in [first, stop) and lags
    k = 0 .. max_order, 0 before the start."""
    padded = np.concatenate([np.zeros((max_order,) + sequence.shape[1:]), sequence])
    return np.stack([padded[max_order - k + first:max_order - k + stop]
                     for k in range(max_order + 1)], axis=2)


def ar_statistics(part, max_order=MAX_AR_ORDER):
    """The sufficient statistics of :func:`fit_ar` of one training part (L, F), L >= 2: a
    flat dict of arrays that :func:`add_statistics` sums over parts."""
    part = np.asarray(part, dtype=np.float64)
    head_length = fit_split(len(part))
    stats = {"steps": np.array(float(head_length))}
    for name, values in (("fit", part[:head_length]), ("all", part)):
        cls = min(len(values), max_order)
        stats.update({f"{name}.{cls}.{k}": v for k, v in lag_sums(values, max_order).items()})
    F = part.shape[1]
    stats["holdout"] = np.zeros((F, max_order + 2, max_order + 2))
    for first in range(head_length, len(part), BLOCK):
        positions = np.arange(first, min(first + BLOCK, len(part)))
        q = np.concatenate([np.ones((len(positions), F, 1)),
                            lagged(part, positions, np.arange(max_order + 1)).transpose(0, 2, 1)],
                           axis=2)                                       # (n, F, P + 2)
        stats["holdout"] += np.einsum("nfi,nfj->fij", q, q)
    return stats


def add_statistics(a, b):
    """The statistics of the parts of ``a`` and of ``b`` together (a new dict)."""
    out = dict(a)
    for name, value in b.items():
        out[name] = out[name] + value if name in out else value
    return out


def normal_equations(stats, name, order):
    """(gram (F, p+1, p+1), moment (F, p+1)) of AR(order) over the parts of set ``name``:
    features (1, x[t-1] .. x[t-p]), target x[t], positions t >= p of parts longer than p."""
    p = order
    width = stats["holdout"].shape[0]
    gram, moment = np.zeros((width, p + 1, p + 1)), np.zeros((width, p + 1))
    classes = {int(key.split(".")[1]) for key in stats if key.startswith(name + ".")}
    lags = np.arange(p + 1)
    i, j = np.minimum.outer(lags, lags), np.maximum.outer(lags, lags)
    for cls in sorted(c for c in classes if c >= p):
        s = {k: stats[f"{name}.{cls}.{k}"] for k in LAG_SUMS}
        pairs = s["zz"][:, i, j] - s["prefix"][:, j - i, p - j]      # (F, p+1, p+1), lags 0..p
        singles = s["z"][:, lags] - s["prefix1"][:, p - lags]         # (F, p+1)
        gram[:, 0, 0] += s["length"] - p * s["parts"]
        gram[:, 0, 1:] += singles[:, 1:]
        gram[:, 1:, 0] += singles[:, 1:]
        gram[:, 1:, 1:] += pairs[:, 1:, 1:]
        moment[:, 0] += singles[:, 0]
        moment[:, 1:] += pairs[:, 1:, 0]
    return gram, moment


def solve(gram, moment):
    """Least-squares coefficients (F, p+1) from the normal equations, with a tiny ridge for
    constant columns."""
    ridge = 1e-8 * np.eye(gram.shape[1])
    return np.stack([np.linalg.solve(g + ridge, m) for g, m in zip(gram, moment)])


def holdout_error(stats, coef):
    """The held-out squared one-step error, summed over columns, of coefficients (F, p+1)."""
    p = coef.shape[1] - 1
    features = np.r_[0, np.arange(2, p + 2)]                             # 1, x[t-1] .. x[t-p]
    Q = stats["holdout"]
    error = (Q[:, 1, 1] - 2 * np.einsum("fi,fi->f", coef, Q[:, features, 1])
             + np.einsum("fi,fij,fj->f", coef, Q[:, features][:, :, features], coef))
    return float(np.sum(error))


def fit_ar_statistics(stats, max_order=MAX_AR_ORDER):
    """:func:`fit_ar` from the summed statistics of the training parts."""
    top = max(1, min(max_order, int(stats["steps"]) // 10, stats["holdout"].shape[1] - 2))
    errors = [holdout_error(stats, solve(*normal_equations(stats, "fit", order)))
              for order in range(1, top + 1)]
    order = int(np.argmin(errors)) + 1
    return AR(order, solve(*normal_equations(stats, "all", order)))


def fit_ar(parts, max_order=MAX_AR_ORDER):
    """AR(p) fitted on training parts [(L_i, F)], p chosen on their own last 20 %.

    Every p from 1 to ``max_order`` (at most a tenth of the fitting steps) is fitted by least
    squares on the first 80 % of each part (positions with all p lags inside the part) and
    scored one step ahead on the rest; the p with the lowest squared error (summed over
    columns) is refitted on the whole parts. Computed from sums over the parts
    (:func:`ar_statistics`), as ``prepare`` does over map tasks.
    """
    stats = {}
    for part in parts:
        stats = add_statistics(stats, ar_statistics(part, max_order))
    return fit_ar_statistics(stats, max_order)
