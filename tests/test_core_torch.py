"""Outputs and gradients agree with PyTorch's nn.RNN / nn.LSTM / nn.GRU given the same
weights (skipped when PyTorch is not installed). Mapping, see rnn_core/params.py:
W = weight_ih.T, U = weight_hh.T, b = bias_ih + bias_hh (GRU: n block of bias_hh
is our bn), embed = Embedding.weight, out.W = Linear.weight.T."""

import numpy as np
import pytest

from rnn_core import ModelConfig, init_params, init_state, loss_and_grad, param_views, step

torch = pytest.importorskip("torch")

TORCH_CELLS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def torch_model(cfg, theta):
    """The PyTorch modules (input, recurrent, output) holding our θ's values."""
    p = {k: torch.from_numpy(v.copy()) for k, v in param_views(theta, cfg).items()}
    H = cfg.hidden
    if cfg.kind == "tokens":
        inp = torch.nn.Embedding(cfg.vocab_size, H).double()
        inp.weight.data = p["embed"]
    else:
        inp = torch.nn.Linear(cfg.input_size, H).double()
        inp.weight.data, inp.bias.data = p["in.W"].T.contiguous(), p["in.b"]
    rnn = getattr(torch.nn, TORCH_CELLS[cfg.cell])(H, H, num_layers=cfg.layers,
                                                   batch_first=True).double()
    for k in range(cfg.layers):
        getattr(rnn, f"weight_ih_l{k}").data = p[f"l{k}.W"].T.contiguous()
        getattr(rnn, f"weight_hh_l{k}").data = p[f"l{k}.U"].T.contiguous()
        getattr(rnn, f"bias_ih_l{k}").data = p[f"l{k}.b"]
        bias_hh = torch.zeros_like(p[f"l{k}.b"])
        if cfg.cell == "gru":
            bias_hh[2 * H:] = p[f"l{k}.bn"]
        getattr(rnn, f"bias_hh_l{k}").data = bias_hh
    out = torch.nn.Linear(H, cfg.out_size).double()
    out.weight.data, out.bias.data = p["out.W"].T.contiguous(), p["out.b"]
    return inp, rnn, out


def torch_grad_as_theta(cfg, modules, theta):
    """Gradients of the PyTorch modules laid out like θ."""
    inp, rnn, out = modules
    grad = np.zeros_like(theta)
    g = param_views(grad, cfg)
    H = cfg.hidden
    if cfg.kind == "tokens":
        g["embed"][...] = inp.weight.grad.numpy()
    else:
        g["in.W"][...], g["in.b"][...] = inp.weight.grad.numpy().T, inp.bias.grad.numpy()
    for k in range(cfg.layers):
        g[f"l{k}.W"][...] = getattr(rnn, f"weight_ih_l{k}").grad.numpy().T
        g[f"l{k}.U"][...] = getattr(rnn, f"weight_hh_l{k}").grad.numpy().T
        g[f"l{k}.b"][...] = getattr(rnn, f"bias_ih_l{k}").grad.numpy()
        if cfg.cell == "gru":
            g[f"l{k}.bn"][...] = getattr(rnn, f"bias_hh_l{k}").grad.numpy()[2 * H:]
    g["out.W"][...], g["out.b"][...] = out.weight.grad.numpy().T, out.bias.grad.numpy()
    return grad


def make_case(cell, kind):
    if kind == "tokens":
        cfg = ModelConfig(cell=cell, hidden=6, layers=2, vocab_size=9)
    else:
        cfg = ModelConfig(cell=cell, hidden=6, layers=2, input_size=3, output_size=2)
    theta = init_params(cfg, seed=1)
    theta += 0.1 * np.random.default_rng(2).standard_normal(theta.size)
    rng = np.random.default_rng(3)
    B, T = 4, 7
    if kind == "tokens":
        x, y = rng.integers(0, 9, (B, T)), rng.integers(0, 9, (B, T))
    else:
        x, y = rng.standard_normal((B, T, 3)), rng.standard_normal((B, T, 2))
    mask = (rng.random((B, T)) < 0.8).astype(float)
    return cfg, theta, x, y, mask


def torch_loss(cfg, modules, x, y, mask):
    inp, rnn, out = modules
    h, _ = rnn(inp(torch.from_numpy(x)))
    pred = out(h)
    m = torch.from_numpy(mask)
    if cfg.kind == "tokens":
        nll = torch.nn.functional.cross_entropy(pred.transpose(1, 2), torch.from_numpy(y),
                                                reduction="none")
        return pred, (nll * m).sum()
    return pred, (((pred - torch.from_numpy(y)) ** 2).sum(-1) * m).sum()


@pytest.mark.parametrize("kind", ["tokens", "series"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_loss_and_gradient_match_torch(cell, kind):
    cfg, theta, x, y, mask = make_case(cell, kind)
    modules = torch_model(cfg, theta)
    _, loss_t = torch_loss(cfg, modules, x, y, mask)
    loss_t.backward()
    loss, _, grad = loss_and_grad(theta, cfg, x, y, mask)
    assert loss == pytest.approx(loss_t.item(), rel=1e-12)
    np.testing.assert_allclose(grad, torch_grad_as_theta(cfg, modules, theta),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kind", ["tokens", "series"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_outputs_match_torch(cell, kind):
    cfg, theta, x, y, mask = make_case(cell, kind)
    with torch.no_grad():
        pred_t, _ = torch_loss(cfg, torch_model(cfg, theta), x, y, mask)
    state = init_state(cfg, x.shape[0])
    for t in range(x.shape[1]):
        out, state = step(theta, cfg, state, x[:, t])
        np.testing.assert_allclose(out, pred_t[:, t].numpy(), rtol=1e-10, atol=1e-12)
