"""One recurrent layer run over a window of K steps, forward and backward.

Each cell sees only its recurrent part. The caller (network.py) has already computed
the input projections of the whole window in one matrix product:

    XP[t] = x[t] @ W + b            XP: (K, B, G*H), time-major

and after the backward pass turns dXP (the gradient of XP) into dW, db and dx with
one matrix product each. Likewise each cell returns dXP from its time loop and its
dU from a single product of the stacked hidden states with the stacked gate
gradients, so the only per-step work is one (B, H) x (H, G*H) product and a few
elementwise operations.

Every cell exposes:

    forward(p, XP, state) -> (Hout (K, B, H), new_state, cache)
        p: dict with "U" (H, G*H) (and "bn" (H,) for the GRU);
        state: tuple of (B, H) arrays, (h,) or (h, c) for the LSTM.
        XP is overwritten (the cell keeps it in the cache, the LSTM's backward writes
        dXP over it: one backward per forward).
    backward(p, cache, dHout) -> (dXP (K, B, G*H), grads)
        dHout: (K, B, H) gradient of the loss w.r.t. each output hidden state;
        grads: dict like p with the gradients of U (and bn).

Gradients reaching the initial state are dropped: windows are truncated there.
"""

import numpy as np


COLUMN_MAJOR_BATCH = 32   # the smallest batch whose float32 LSTM steps are column-major


def column_major(dtype, B):
    """Whether the LSTM keeps its per-step (B, N) arrays column-major. In float32 at a batch
    of 32 and more, OpenBLAS's sgemm runs its per-step products 1.15–1.25× faster with the
    batch as the inner dimension (README, "Speed"); float64's dgemm runs them slower, and a
    small batch (a series model's 1) gains nothing, so both keep the row-major layout and
    their bits."""
    return dtype == np.float32 and B >= COLUMN_MAJOR_BATCH


def step_array(B, N, dtype):
    """An empty (B, N) array in the per-step layout."""
    return np.empty((B, N), dtype=dtype, order="F" if column_major(dtype, B) else "C")


def window_array(K, B, N, dtype):
    """An empty (K, B, N) array whose K slices are in the per-step layout."""
    if column_major(dtype, B):
        return np.empty((K, N, B), dtype=dtype).transpose(0, 2, 1)
    return np.empty((K, B, N), dtype=dtype)


def step_view(X):
    """X (K, B, N)'s memory as a (K, B, N) array whose slices are in the per-step layout:
    X itself, or column-major each X[t]'s bytes read column-major."""
    K, B, N = X.shape
    return X.reshape(K, N, B).transpose(0, 2, 1) if column_major(X.dtype, B) else X


def as_window_array(X):
    """X (K, B, N) row-major as a window_array: X itself, or column-major a copy."""
    if not column_major(X.dtype, X.shape[1]):
        return X
    out = window_array(*X.shape, X.dtype)
    out[...] = X
    return out


def sigmoid_(x):
    """In-place logistic sigmoid, via tanh so large |x| cannot overflow."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


def lstm_gate_affine(H, dtype):
    """(scale, shift), each (4H,): 1/2, 1/2 on the blocks of i, f and o and 1, 0 on g's,
    for lstm_gates_ on row-major pre-activations."""
    scale = np.full(4 * H, 0.5, dtype=dtype)
    shift = np.full(4 * H, 0.5, dtype=dtype)
    scale[2 * H:3 * H], shift[2 * H:3 * H] = 1.0, 0.0
    return scale, shift


def lstm_gates_(a, scale, shift):
    """The LSTM's gates from their pre-activations a (B, 4H), in place: σ on the blocks of
    i, f and o, tanh on g's.

    Row-major a: one tanh over all four, σ(x) = (1 + tanh(x / 2)) / 2, with scale, shift
    from lstm_gate_affine. Column-major a, each block one contiguous
    run: σ(x) = 1 / (1 + e^-x) on i, f and o (numpy's float32 exp costs half its tanh) and
    tanh on g."""
    H = a.shape[1] // 4
    if a.flags.f_contiguous:
        with np.errstate(over="ignore"):          # e^-x = inf where σ(x) = 0
            for s in (a[:, :2 * H], a[:, 3 * H:]):
                np.negative(s, out=s)
                np.exp(s, out=s)
                s += 1
                np.divide(1, s, out=s)
        g = a[:, 2 * H:3 * H]
        np.tanh(g, out=g)
    else:
        a *= scale
        np.tanh(a, out=a)
        a *= scale
        a += shift


def times_dsigmoid(a, s, out, tmp):
    """out = a * s * (1 - s): a times σ' where σ = s."""
    np.multiply(a, s, out=out)
    np.subtract(1.0, s, out=tmp)
    out *= tmp


def times_dtanh(a, t, out, tmp):
    """out = a * (1 - t²): a times tanh' where tanh = t."""
    np.multiply(t, t, out=tmp)
    np.subtract(1.0, tmp, out=tmp)
    np.multiply(a, tmp, out=out)


def backward_UT(p):
    """Uᵀ for the backward's per-step products. In float32 a contiguous copy, once per
    window: OpenBLAS's sgemm runs a slower kernel on a transposed operand. float64's dgemm
    does not, and there the view keeps the summation order of the stored format-1 θ
    (tests/test_checkpoint_formats.py), which the copy changes for small batches."""
    UT = p["U"].T
    return np.ascontiguousarray(UT) if UT.dtype == np.float32 else UT


def stacked_dU(Hs, dA):
    """Σ_t h[t-1]^T @ dA[t] as one product. Hs (K+1, B, H) with Hs[0] = h0,
    dA (K, B, N) -> (H, N)."""
    K, B, H = dA.shape[0], Hs.shape[1], Hs.shape[2]
    return Hs[:-1].reshape(K * B, H).T @ dA.reshape(K * B, -1)


class RNN:
    """Elman cell:  h[t] = tanh(XP[t] + h[t-1] @ U)."""

    n_states = 1

    @staticmethod
    def forward(p, XP, state):
        K, B, H = XP.shape
        U = p["U"]
        Hs = np.empty((K + 1, B, H), dtype=XP.dtype)
        Hs[0] = state[0]
        for t in range(K):
            h = Hs[t + 1]
            np.matmul(Hs[t], U, out=h)
            h += XP[t]
            np.tanh(h, out=h)
        return Hs[1:], (Hs[K].copy(),), Hs

    @staticmethod
    def backward(p, cache, dHout):
        Hs = cache
        K, B, H = dHout.shape
        UT = backward_UT(p)
        dA = np.empty_like(dHout)          # gradient of the pre-activation
        dh = np.zeros((B, H), dtype=dHout.dtype)   # from step t+1 through U
        tmp = np.empty_like(dh)
        for t in reversed(range(K)):
            dh += dHout[t]
            times_dtanh(dh, Hs[t + 1], dA[t], tmp)
            if t > 0:                      # (what reaches h0 is dropped)
                np.matmul(dA[t], UT, out=dh)
        return dA, {"U": stacked_dU(Hs, dA)}


class LSTM:
    """LSTM, gate blocks (i, f, g, o) as in PyTorch:

        i, f, o = σ(XP + h[t-1] @ U) on their blocks,  g = tanh(...) on its block
        c[t] = f * c[t-1] + i * g
        h[t] = o * tanh(c[t])

    In float32 at a batch of 32 and more the per-step arrays are column-major
    (step_array, column_major): numpy then hands the
    per-step products to sgemm as (G, H) · (H, B), and each gate block is one contiguous
    run for the elementwise passes (where σ is computed from exp: lstm_gates_). That costs
    a transposing copy of each XP[t] and dXP[t], less than it saves.
    """

    n_states = 2

    @staticmethod
    def forward(p, XP, state):
        K, B, G = XP.shape
        H = G // 4
        dtype = XP.dtype
        # (column-major U, i.e. Uᵀ contiguous: sgemm is slower on a transposed Uᵀ)
        U = np.asarray(p["U"], order="F" if column_major(dtype, B) else "C")
        # XP's memory holds XP[t], then the activations A[t] in the per-step layout, then
        # (backward) dXP[t]: no other window-sized array
        A = step_view(XP)
        # XP[t] is copied out before its bytes become A[t], to rows padded so that the copy
        # back, read across the rows, does not map every row to the same cache set
        xp_t = np.empty((B, G + 16), dtype=dtype)[:, :G] if A is not XP else None
        Hs = window_array(K + 1, B, H, dtype)
        Cs = window_array(K + 1, B, H, dtype)
        tanh_C = window_array(K, B, H, dtype)
        Hs[0], Cs[0] = state
        hU = step_array(B, G, dtype)
        ig = step_array(B, H, dtype)
        scale, shift = lstm_gate_affine(H, dtype)
        for t in range(K):
            a = A[t]
            if xp_t is not None:                # XP[t] → A[t], the same bytes
                np.copyto(xp_t, XP[t])
                a[...] = xp_t
            np.matmul(Hs[t], U, out=hU)
            a += hU
            lstm_gates_(a, scale, shift)
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            np.multiply(f, Cs[t], out=Cs[t + 1])
            np.multiply(i, g, out=ig)
            Cs[t + 1] += ig
            np.tanh(Cs[t + 1], out=tanh_C[t])
            np.multiply(o, tanh_C[t], out=Hs[t + 1])
        Hs = np.ascontiguousarray(Hs)           # row-major for the caller and dU
        return Hs[1:], (Hs[K].copy(), Cs[K].copy()), (A, Hs, Cs, tanh_C, XP)

    @staticmethod
    def backward(p, cache, dHout):
        A, Hs, Cs, tanh_C, dXP = cache         # (dXP[t] overwrites A[t] once used)
        K, B, H = dHout.shape
        dtype = A.dtype
        dHout = as_window_array(dHout)
        UT = p["U"].T if column_major(dtype, B) else backward_UT(p)
        # each dXP[t] in a scratch array, then over A[t]
        da = step_array(B, 4 * H, dtype)
        di, df, dg, do = (da[:, k * H:(k + 1) * H] for k in range(4))
        dh, dc, x, y = (step_array(B, H, dtype) for _ in range(4))
        dh[...], dc[...] = 0, 0                 # from step t+1 through U, through f
        # do = dh·tanh c·σ'(o); dc += dh·o·tanh'(c); di = dc·g·σ'(i); df = dc·c[t-1]·σ'(f);
        # dg = dc·i·tanh'(g): computed per step, while A[t] is in cache
        for t in reversed(range(K)):
            i, f, g, o = (A[t, :, k * H:(k + 1) * H] for k in range(4))
            dh += dHout[t]
            times_dsigmoid(tanh_C[t], o, x, y)
            np.multiply(dh, x, out=do)
            times_dtanh(o, tanh_C[t], x, y)     # ∂h[t]/∂c[t]
            x *= dh
            dc += x
            times_dsigmoid(g, i, x, y)
            np.multiply(dc, x, out=di)
            times_dsigmoid(Cs[t], f, x, y)
            np.multiply(dc, x, out=df)
            times_dtanh(i, g, x, y)
            np.multiply(dc, x, out=dg)
            dc *= f
            if t > 0:
                np.matmul(da, UT, out=dh)
            dXP[t] = da
        return dXP, {"U": stacked_dU(Hs, dXP)}


class GRU:
    """GRU in PyTorch's formulation, gate blocks (r, z, n):

        r, z = σ(XP_rz + h[t-1] @ U_rz)
        n    = tanh(XP_n + r * (h[t-1] @ U_n + bn))
        h[t] = (1 - z) * n + z * h[t-1]
    """

    n_states = 1

    @staticmethod
    def forward(p, XP, state):
        K, B, G = XP.shape
        H = G // 3
        U, bn = p["U"], p["bn"]
        A = XP                            # pre-activations, become r, z, n
        Hs = np.empty((K + 1, B, H), dtype=XP.dtype)
        hU = np.empty((K, B, G), dtype=XP.dtype)    # h[t-1] @ U (+ bn on n)
        Hs[0] = state[0]
        tmp = np.empty((B, H), dtype=XP.dtype)
        for t in range(K):
            a, hu = A[t], hU[t]
            np.matmul(Hs[t], U, out=hu)
            hu[:, 2 * H:] += bn
            a[:, :2 * H] += hu[:, :2 * H]
            sigmoid_(a[:, :2 * H])
            r, z, n = a[:, :H], a[:, H:2 * H], a[:, 2 * H:]
            np.multiply(r, hu[:, 2 * H:], out=tmp)
            n += tmp
            np.tanh(n, out=n)
            np.subtract(Hs[t], n, out=tmp)
            tmp *= z
            np.add(n, tmp, out=Hs[t + 1])
        return Hs[1:], (Hs[K].copy(),), (A, Hs, hU)

    @staticmethod
    def backward(p, cache, dHout):
        A, Hs, hU = cache
        K, B, H = dHout.shape
        UT = backward_UT(p)
        dXP = np.empty_like(A)                  # gradient of XP
        dHU = np.empty_like(A)                  # gradient of h[t-1] @ U + (0, 0, bn)
        dh = np.zeros((B, H), dtype=A.dtype)
        x, y, dh_U = np.empty_like(dh), np.empty_like(dh), np.empty_like(dh)
        # dA_n = dh·(1 - z)·tanh'(n); dz = dh·(h[t-1] - n)·σ'(z); then through the n gate,
        # dr = dA_n·(h[t-1] @ U_n + bn)·σ'(r) and dn (of h[t-1] @ U_n + bn) = dA_n·r
        for t in reversed(range(K)):
            r, z, n = (A[t, :, k * H:(k + 1) * H] for k in range(3))
            dr, dz, dn = (dHU[t, :, k * H:(k + 1) * H] for k in range(3))
            dA_n = dXP[t, :, 2 * H:]
            dh += dHout[t]
            np.subtract(1.0, z, out=x)
            times_dtanh(x, n, x, y)
            np.multiply(dh, x, out=dA_n)
            np.subtract(Hs[t], n, out=x)
            times_dsigmoid(x, z, x, y)
            np.multiply(dh, x, out=dz)
            times_dsigmoid(hU[t, :, 2 * H:], r, x, y)
            np.multiply(dA_n, x, out=dr)
            np.multiply(dA_n, r, out=dn)
            if t > 0:
                np.matmul(dHU[t], UT, out=dh_U)
                dh *= z
                dh += dh_U
        dXP[..., :2 * H] = dHU[..., :2 * H]     # r and z see XP and h @ U alike
        grads = {"U": stacked_dU(Hs, dHU), "bn": dHU[..., 2 * H:].sum(axis=(0, 1))}
        return dXP, grads


CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
