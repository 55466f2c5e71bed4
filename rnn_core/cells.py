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


def contiguous_UT(p):
    """U transposed into its own array, once per window: the per-step product with a
    transposed view of U runs a slower BLAS kernel."""
    return np.ascontiguousarray(p["U"].T)


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
        UT = contiguous_UT(p)
        dtanh = 1.0 - Hs[1:] ** 2          # (K, B, H), all steps at once
        dA = np.empty_like(dHout)          # gradient of the pre-activation
        dh = np.zeros((B, H), dtype=dHout.dtype)   # from step t+1 through U
        for t in reversed(range(K)):
            dh += dHout[t]
            np.multiply(dh, dtanh[t], out=dA[t])
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
        for t in range(K):
            a = A[t]
            np.matmul(Hs[t], U, out=hU)
            a += hU
            sigmoid_(a[:, :2 * H])
            np.tanh(a[:, 2 * H:3 * H], out=a[:, 2 * H:3 * H])
            sigmoid_(a[:, 3 * H:])
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
        UT = contiguous_UT(p)
        i, f, g, o = A[..., :H], A[..., H:2 * H], A[..., 2 * H:3 * H], A[..., 3 * H:]
        # Everything that does not depend on the incoming gradient, for all steps at
        # once: dA[t] = dc[t] * local_c[t] on the (i, f, g) blocks and
        # dA[t] = dh[t] * local_h[t] on the o block.
        local = np.empty_like(A)
        local[..., :H] = g * i * (1.0 - i)
        local[..., H:2 * H] = Cs[:-1] * f * (1.0 - f)
        local[..., 2 * H:3 * H] = i * (1.0 - g * g)
        local[..., 3 * H:] = tanh_C * o * (1.0 - o)
        dc_dh = o * (1.0 - tanh_C * tanh_C)     # ∂c[t]/∂h[t] along the tanh path

        dA = np.empty_like(A)
        local4, dA4 = local.reshape(K, B, 4, H), dA.reshape(K, B, 4, H)  # views
        dh = np.zeros((B, H), dtype=A.dtype)    # from step t+1 through U
        dc = np.zeros((B, H), dtype=A.dtype)    # from step t+1 through f
        tmp = np.empty((B, H), dtype=A.dtype)
        for t in reversed(range(K)):
            dh += dHout[t]
            np.multiply(dh, dc_dh[t], out=tmp)
            dc += tmp
            np.multiply(dc[:, None, :], local4[t, :, :3], out=dA4[t, :, :3])
            np.multiply(dh, local4[t, :, 3], out=dA4[t, :, 3])
            dc *= f[t]
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
        UT = contiguous_UT(p)
        r, z, n = A[..., :H], A[..., H:2 * H], A[..., 2 * H:]
        hn = hU[..., 2 * H:]
        # Gradient-independent factors for all steps at once.
        dn_dh = (1.0 - z) * (1.0 - n * n)       # dA_n = dh * dn_dh
        dz_dh = (Hs[:-1] - n) * z * (1.0 - z)   # dA_z = dh * dz_dh
        dr_dn = hn * r * (1.0 - r)              # dA_r = dA_n * dr_dn

        dXP = np.empty_like(A)                  # gradient of XP
        dHU = np.empty_like(A)                  # gradient of h[t-1] @ U + (0, 0, bn)
        dh = np.zeros((B, H), dtype=A.dtype)
        dh_U = np.empty((B, H), dtype=A.dtype)
        for t in reversed(range(K)):
            dh += dHout[t]
            dA_n = dXP[t, :, 2 * H:]
            np.multiply(dh, dn_dh[t], out=dA_n)
            np.multiply(dh, dz_dh[t], out=dHU[t, :, H:2 * H])
            np.multiply(dA_n, dr_dn[t], out=dHU[t, :, :H])
            np.multiply(dA_n, r[t], out=dHU[t, :, 2 * H:])
            if t > 0:
                np.matmul(dHU[t], UT, out=dh_U)
                dh *= z[t]
                dh += dh_U
        dXP[..., :2 * H] = dHU[..., :2 * H]     # r and z see XP and h @ U alike
        grads = {"U": stacked_dU(Hs, dHU), "bn": dHU[..., 2 * H:].sum(axis=(0, 1))}
        return dXP, grads


CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}
