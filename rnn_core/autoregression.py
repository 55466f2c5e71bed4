"""AR(p) per column, fitted by least squares from sums that add across parts, p by AIC.

The base of an AR-residual series model (:mod:`rnn_core.highway`) and the AR(p) baseline
of ``evaluate`` (:mod:`rnn_core.baselines`) are this fit: ``prepare`` adds the sums of its map
tasks (:mod:`jobs.mr.series_ar`), ``evaluate`` of a dataset without them the sums of the
training parts in memory; either way :func:`fit_ar_statistics` fits. Arrays are float64
throughout; a part is (L, F): L steps of F columns, each column its own AR(p).
"""
from dataclasses import dataclass

import numpy as np

MAX_AR_ORDER = 60        # the largest p tried (a monthly season is lag 12, a weekly one of
                         # hourly data 168: longer seasons are the seasonal naive's)
ORDER_PER_STEPS = 4      # p is at most a quarter of the mean part length, so that AIC has
                         # positions to compare the orders on
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
# fit_ar needs, for every order p, the least-squares normal equations and the sum of squared
# targets over the positions t >= start of each part (all p <= start lags inside it). They
# come from sums that add across parts (and so across map tasks and series), O(P^2) for the
# largest order P: with zero-padded lags z[t] = (x[t], x[t-1], .., x[t-P]) (lag 0 is the
# target), the sums ZZ = Σ_t z[t] z[t]ᵀ and Z = Σ_t z[t], and the sums over a part's first
# positions A[d, m] = Σ_{u<m} x[u] x[u+d] and A1[m] = Σ_{u<m} x[u], give for lags
# i <= j <= p <= start
#     Σ_{t=start}^{L-1} x[t-i] x[t-j] = ZZ[i, j] - A[j-i, start-j]
#     Σ_{t=start}^{L-1} x[t-j]        = Z[j] - A1[start-j]
# and L - start positions. This holds for start <= L; a part shorter than that adds nothing
# (fit_ar leaves such parts out), so the sums are kept per class min(L, P) and a class adds
# to the starts <= its class only.
#
# The statistics are a flat dict of arrays (names "steps" and "all.<class>.<sum>"), JSON- and
# npz-friendly.

LAG_SUMS = ("zz", "z", "prefix", "prefix1", "parts", "length")


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
    cls = min(len(part), max_order)
    return {"steps": np.array(float(len(part))),
            **{f"all.{cls}.{k}": v for k, v in lag_sums(part, max_order).items()}}


def add_statistics(a, b):
    """The statistics of the parts of ``a`` and of ``b`` together (a new dict)."""
    out = dict(a)
    for name, value in b.items():
        out[name] = out[name] + value if name in out else value
    return out


def normal_equations(stats, order, start=None):
    """(gram (F, p+1, p+1), moment (F, p+1), targets² (F,), positions) of AR(order) over the
    positions t >= start (default: the order) of the parts longer than that: features
    (1, x[t-1] .. x[t-p]), target x[t]."""
    p, start = order, order if start is None else start
    width = next(v for k, v in stats.items() if k.endswith(".z")).shape[0]
    gram, moment = np.zeros((width, p + 1, p + 1)), np.zeros((width, p + 1))
    squares, positions = np.zeros(width), 0.0
    classes = {int(key.split(".")[1]) for key in stats if key.startswith("all.")}
    lags = np.arange(p + 1)
    i, j = np.minimum.outer(lags, lags), np.maximum.outer(lags, lags)
    for cls in sorted(c for c in classes if c >= start):
        s = {k: stats[f"all.{cls}.{k}"] for k in LAG_SUMS}
        pairs = s["zz"][:, i, j] - s["prefix"][:, j - i, start - j]  # (F, p+1, p+1), lags 0..p
        singles = s["z"][:, lags] - s["prefix1"][:, start - lags]     # (F, p+1)
        count = s["length"] - start * s["parts"]
        positions += float(count)
        gram[:, 0, 0] += count
        gram[:, 0, 1:] += singles[:, 1:]
        gram[:, 1:, 0] += singles[:, 1:]
        gram[:, 1:, 1:] += pairs[:, 1:, 1:]
        moment[:, 0] += singles[:, 0]
        moment[:, 1:] += pairs[:, 1:, 0]
        squares += pairs[:, 0, 0]
    return gram, moment, squares, positions


def solve(gram, moment):
    """Least-squares coefficients (F, p+1) from the normal equations, with a tiny ridge for
    constant columns."""
    ridge = 1e-8 * np.eye(gram.shape[1])
    return np.stack([np.linalg.solve(g + ridge, m) for g, m in zip(gram, moment)])


def aic(stats, order, start):
    """The Akaike criterion of AR(order), summed over columns, fitted on the positions
    t >= start; inf when there are too few positions for the order."""
    gram, moment, squares, n = normal_equations(stats, order, start)
    k = order + 2                                    # coefficients and the noise variance
    if n - k - 1 <= 0:
        return np.inf
    coef = solve(gram, moment)
    residual = (squares - 2 * np.einsum("fi,fi->f", coef, moment)
                + np.einsum("fi,fij,fj->f", coef, gram, coef))
    variance = np.maximum(residual / n, 1e-12)       # (a constant column fits exactly)
    return float(np.sum(n * np.log(variance) + 2 * k))


def largest_order(stats, max_order=MAX_AR_ORDER):
    """The largest p :func:`fit_ar_statistics` tries: at most ``max_order`` and a quarter of
    the mean part length."""
    parts = sum(float(v) for k, v in stats.items() if k.endswith(".parts"))
    mean_length = float(stats["steps"]) / max(parts, 1.0)
    return int(max(1, min(max_order, mean_length // ORDER_PER_STEPS)))


def fit_ar_statistics(stats, max_order=MAX_AR_ORDER):
    """:func:`fit_ar` from the summed statistics of the training parts."""
    top = largest_order(stats, max_order)
    criteria = [aic(stats, order, top) for order in range(1, top + 1)]
    order = int(np.argmin(criteria)) + 1
    return AR(order, solve(*normal_equations(stats, order)[:2]))


def fit_ar(parts, max_order=MAX_AR_ORDER):
    """AR(p) fitted on training parts [(L_i, F)], p by the Akaike criterion.

    Every p from 1 to :func:`largest_order` is fitted by least squares on the same
    positions (t >= the largest p of every part long enough) and the p with the lowest AIC
    (n log σ̂² + 2k, summed over columns) is refitted on all the positions t >= p, as
    statsmodels' ``ar_select_order`` does. An information criterion, not a held-out score:
    on short seasonal series a held-out 20 % is too few points to see that lag 12 pays. Computed from sums over the parts
    (:func:`ar_statistics`), as ``prepare`` does over map tasks.
    """
    stats = {}
    for part in parts:
        stats = add_statistics(stats, ar_statistics(part, max_order))
    return fit_ar_statistics(stats, max_order)
