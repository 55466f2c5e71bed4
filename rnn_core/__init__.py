"""rnn_core: recurrent networks (tanh RNN, LSTM, GRU) in pure numpy.

Everything is a function of a flat parameter vector θ and a ModelConfig:

    cfg = ModelConfig(cell="lstm", hidden=128, vocab_size=65)
    theta = init_params(cfg, seed=0)
    loss_sum, count, grad_sum = loss_and_grad(theta, cfg, inputs, targets, bptt=64)

Modules: config (ModelConfig), params (θ layout), cells (one recurrent layer),
network (the stacked model over a window, step-by-step inference), losses, bptt
(loss_and_grad, loss_only, loss_and_outputs), optimizers, serialization, generate, checks (input checks),
highway (the residual base a series model's output is added to), autoregression (the AR(p)
fit), baselines (the classical forecasts a series model is compared with), smoothing (ETS,
fitted by statsmodels), heap (keep_freed_memory: a training process reuses the memory of its
last minibatch).
"""

from .bptt import loss_and_grad, loss_and_outputs, loss_only
from .config import ModelConfig
from .generate import forecast, forecast_batch, sample_tokens
from .network import init_state, predict, step
from .params import init_params, num_params, param_shapes, param_views

__all__ = [
    "ModelConfig", "num_params", "param_shapes", "param_views", "init_params",
    "loss_and_grad", "loss_and_outputs", "loss_only", "predict", "init_state", "step", "sample_tokens", "forecast",
    "forecast_batch",
]
