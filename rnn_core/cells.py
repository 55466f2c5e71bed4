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
        XP is overwritten (it becomes the gate activations kept in the cache).
    backward(p, cache, dHout) -> (dXP (K, B, G*H), grads)
        dHout: (K, B, H) gradient of the loss w.r.t. each output hidden state;
        grads: dict like p with the gradients of U (and bn).

Gradients reaching the initial state are dropped: windows are truncated there.
"""

import numpy as np


def sigmoid_(x):
    """In-place logistic sigmoid, via tanh so large |x| cannot overflow."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5
    return x


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
    """

    n_states = 2

    @staticmethod
    def forward(p, XP, state):
        K, B, G = XP.shape
        H = G // 4
        U = p["U"]
        A = XP                            # pre-activations, become activations
        Hs = np.empty((K + 1, B, H), dtype=XP.dtype)
        Cs = np.empty((K + 1, B, H), dtype=XP.dtype)
        tanh_C = np.empty((K, B, H), dtype=XP.dtype)
        Hs[0], Cs[0] = state
        hU = np.empty((B, G), dtype=XP.dtype)
        ig = np.empty((B, H), dtype=XP.dtype)
        # σ(x) = tanh(x / 2) / 2 + 1/2 (as sigmoid_): one tanh over all four blocks, with
        # scale 1 and shift 0 on g's
        scale = np.full(G, 0.5, dtype=XP.dtype)
        shift = np.full(G, 0.5, dtype=XP.dtype)
        scale[2 * H:3 * H], shift[2 * H:3 * H] = 1.0, 0.0
        for t in range(K):
            a = A[t]
            np.matmul(Hs[t], U, out=hU)
            a += hU
            a *= scale
            np.tanh(a, out=a)
            a *= scale
            a += shift
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            np.multiply(f, Cs[t], out=Cs[t + 1])
            np.multiply(i, g, out=ig)
            Cs[t + 1] += ig
            np.tanh(Cs[t + 1], out=tanh_C[t])
            np.multiply(o, tanh_C[t], out=Hs[t + 1])
        return Hs[1:], (Hs[K].copy(), Cs[K].copy()), (A, Hs, Cs, tanh_C)

    @staticmethod
    def backward(p, cache, dHout):
        A, Hs, Cs, tanh_C = cache
        K, B, H = dHout.shape
        UT = backward_UT(p)
        dA = np.empty_like(A)
        dh = np.zeros((B, H), dtype=A.dtype)    # from step t+1 through U
        dc = np.zeros((B, H), dtype=A.dtype)    # from step t+1 through f
        x, y = np.empty_like(dh), np.empty_like(dh)
        # do = dh·tanh c·σ'(o); dc += dh·o·tanh'(c); di = dc·g·σ'(i); df = dc·c[t-1]·σ'(f);
        # dg = dc·i·tanh'(g): computed per step, while A[t] is in cache
        for t in reversed(range(K)):
            i, f, g, o = (A[t, :, k * H:(k + 1) * H] for k in range(4))
            di, df, dg, do = (dA[t, :, k * H:(k + 1) * H] for k in range(4))
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
                np.matmul(dA[t], UT, out=dh)
        return dA, {"U": stacked_dU(Hs, dA)}


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
