"""Optimizer updates against values computed by hand."""

import numpy as np
import pytest

from rnn_core.optimizers import (OptimizerConfig, apply, clip_by_global_norm, clip_by_value,
                                 init_state, learning_rate)

THETA = np.array([1.0, -2.0, 0.5])
G1 = np.array([0.5, -1.0, 2.0])
G2 = np.array([-1.0, 0.5, 1.0])


def two_steps(cfg):
    state = init_state(cfg, THETA)
    theta, state = apply(cfg, THETA, G1, state)
    theta, state = apply(cfg, theta, G2, state)
    return theta, state


def test_sgd_steps_by_lr_times_gradient():
    theta, state = two_steps(OptimizerConfig(name="sgd", lr=0.1))
    np.testing.assert_allclose(theta, THETA - 0.1 * G1 - 0.1 * G2)
    assert state["t"] == 2 and state["t"].dtype == np.int64 and state["t"].shape == ()


def test_momentum_accumulates_velocity():
    theta, state = two_steps(OptimizerConfig(name="momentum", lr=0.1, momentum=0.9))
    v1 = G1
    v2 = 0.9 * v1 + G2
    np.testing.assert_allclose(state["velocity"], v2)
    np.testing.assert_allclose(theta, THETA - 0.1 * v1 - 0.1 * v2)


def test_nesterov_momentum_looks_ahead():
    theta, _ = two_steps(OptimizerConfig(name="momentum", lr=0.1, momentum=0.9, nesterov=True))
    v1 = G1
    v2 = 0.9 * v1 + G2
    np.testing.assert_allclose(theta, THETA - 0.1 * (G1 + 0.9 * v1) - 0.1 * (G2 + 0.9 * v2))


def test_adagrad_divides_by_root_of_summed_squares():
    theta, _ = two_steps(OptimizerConfig(name="adagrad", lr=0.1, eps=0.25))
    s1, s2 = G1 ** 2, G1 ** 2 + G2 ** 2
    expected = THETA - 0.1 * G1 / (np.sqrt(s1) + 0.25) - 0.1 * G2 / (np.sqrt(s2) + 0.25)
    np.testing.assert_allclose(theta, expected)


def test_rmsprop_divides_by_root_of_running_mean_square():
    theta, _ = two_steps(OptimizerConfig(name="rmsprop", lr=0.1, rho=0.9, eps=0.25))
    s1 = 0.1 * G1 ** 2
    s2 = 0.9 * s1 + 0.1 * G2 ** 2
    expected = THETA - 0.1 * G1 / (np.sqrt(s1) + 0.25) - 0.1 * G2 / (np.sqrt(s2) + 0.25)
    np.testing.assert_allclose(theta, expected)


def test_adam_uses_bias_corrected_moments():
    theta, state = two_steps(OptimizerConfig(name="adam", lr=0.1, beta1=0.9, beta2=0.999,
                                                 eps=0.25))
    m1, v1 = 0.1 * G1, 0.001 * G1 ** 2
    m2, v2 = 0.9 * m1 + 0.1 * G2, 0.999 * v1 + 0.001 * G2 ** 2
    step1 = (m1 / 0.1) / (np.sqrt(v1 / 0.001) + 0.25)
    step2 = (m2 / (1 - 0.9 ** 2)) / (np.sqrt(v2 / (1 - 0.999 ** 2)) + 0.25)
    np.testing.assert_allclose(theta, THETA - 0.1 * step1 - 0.1 * step2)
    np.testing.assert_allclose(state["m"], m2)
    np.testing.assert_allclose(state["v"], v2)


def test_clip_by_global_norm_rescales_only_large_gradients():
    g = np.array([3.0, 4.0])
    np.testing.assert_allclose(clip_by_global_norm(g, 1.0), [0.6, 0.8])
    np.testing.assert_array_equal(clip_by_global_norm(g, 10.0), g)


def test_clip_by_global_norm_of_huge_float32_gradient_does_not_overflow():
    g = np.array([3e20, 4e20], dtype=np.float32)       # its squares overflow float32
    np.testing.assert_allclose(clip_by_global_norm(g, 1.0), [0.6, 0.8], rtol=1e-6)


def test_clip_by_value_bounds_each_element():
    np.testing.assert_array_equal(clip_by_value(np.array([-3.0, 0.5, 2.0]), 1.0), [-1, 0.5, 1])


def test_apply_clips_by_value_then_by_norm():
    cfg = OptimizerConfig(name="sgd", lr=1.0, clip_value=1.0, clip_norm=1.0)
    theta, _ = apply(cfg, np.zeros(2), np.array([3.0, -0.5]), init_state(cfg, np.zeros(2)))
    clipped = np.array([1.0, -0.5])
    np.testing.assert_allclose(theta, -clipped / np.linalg.norm(clipped))


def test_step_schedule_decays_every_n_steps():
    cfg = OptimizerConfig(name="sgd", lr=1.0, schedule="step", decay_every=2, decay_rate=0.5)
    assert [learning_rate(cfg, t) for t in range(5)] == [1.0, 1.0, 0.5, 0.5, 0.25]
    assert learning_rate(OptimizerConfig(name="sgd", lr=0.3), 100) == 0.3


def test_apply_uses_scheduled_rate_for_the_steps_already_taken():
    cfg = OptimizerConfig(name="sgd", lr=1.0, schedule="step", decay_every=1, decay_rate=0.5)
    state = init_state(cfg, np.zeros(1))
    theta = np.zeros(1)
    for _ in range(3):
        theta, state = apply(cfg, theta, np.ones(1), state)
    np.testing.assert_allclose(theta, [-(1.0 + 0.5 + 0.25)])


@pytest.mark.parametrize("name", ["sgd", "momentum", "adagrad", "rmsprop", "adam"])
def test_apply_does_not_mutate_inputs_and_keeps_dtype(name):
    cfg = OptimizerConfig(name=name, lr=0.1, clip_norm=0.5, clip_value=0.3)
    theta, grad = THETA.astype(np.float32), G1.astype(np.float32)
    state = init_state(cfg, theta)
    copies = (theta.copy(), grad.copy(), {k: v.copy() for k, v in state.items()})
    new_theta, new_state = apply(cfg, theta, grad, state)
    np.testing.assert_array_equal(theta, copies[0])
    np.testing.assert_array_equal(grad, copies[1])
    for k in state:
        np.testing.assert_array_equal(state[k], copies[2][k])
    assert new_theta.dtype == np.float32
    assert all(v.dtype == np.float32 for k, v in new_state.items() if k != "t")


def test_optimizer_config_round_trips_and_rejects_unknown_keys():
    cfg = OptimizerConfig(name="adam", lr=0.01, clip_norm=5.0, schedule="step", decay_every=10)
    assert OptimizerConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="warmup"):
        OptimizerConfig.from_dict({**cfg.to_dict(), "warmup": 3})


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="lbfgs", lr=0.1), "name"),
    (dict(name="sgd", lr=-1.0), "lr"),
    (dict(name="sgd", lr=0.1, nesterov=True), "nesterov=True needs name='momentum'$"),
    (dict(name="momentum", lr=0.1, nesterov=1), "nesterov must be a bool, got 1"),
    (dict(name="adam", lr=0.1, beta2=1.0), r"beta2 must be a number in \[0.0, 1.0\), got 1.0"),
    (dict(name="sgd", lr=0.0), r"lr must be a number in \(0.0, inf\), got 0.0"),
    (dict(name="sgd", lr=True), "lr must be a number"),
    (dict(name="sgd", lr="0.1"), "lr must be a number"),
    (dict(name="sgd", lr=0.1, eps=0.0), "eps must be a number"),
    (dict(name="sgd", lr=0.1, decay_rate=0.0), "decay_rate must be a number"),
    (dict(name="sgd", lr=0.1, schedule="cosine"), "schedule"),
    (dict(name="sgd", lr=0.1, decay_every=0), "decay_every"),
    (dict(name="sgd", lr=0.1, decay_every=2.5), "decay_every must be a positive int"),
    (dict(name="sgd", lr=0.1, decay_every=True), "decay_every must be a positive int"),
    (dict(name="sgd", lr=0.1, clip_norm=0.0), "clip_norm"),
    (dict(name="sgd", lr=0.1, weight_decay=-1.0), r"weight_decay must be a number in \[0.0, "),
])
def test_invalid_optimizer_config_raises_value_error(kwargs, message):
    with pytest.raises(ValueError, match="^" + message):
        OptimizerConfig(**kwargs)


def test_apply_rejects_mismatched_shapes_and_state():
    cfg = OptimizerConfig(name="adam", lr=0.1)
    with pytest.raises(ValueError, match="shape"):
        apply(cfg, THETA, G1[:2], init_state(cfg, THETA))
    with pytest.raises(ValueError, match="keys"):
        apply(cfg, THETA, G1, {"t": np.array(0)})


def test_momentum_and_decay_coefficients_may_be_zero():
    cfg = OptimizerConfig(name="adam", lr=0.1, momentum=0.0, beta1=0.0, beta2=0.0, rho=0.0)
    assert (cfg.momentum, cfg.beta1, cfg.beta2, cfg.rho) == (0.0, 0.0, 0.0, 0.0)


@pytest.mark.parametrize("bad, message", [
    (np.zeros((3, 1)), "theta must be a 1-D float array"),
    (np.zeros(3, dtype=int), "theta must be a 1-D float array"),
])
def test_init_state_requires_a_flat_float_theta(bad, message):
    with pytest.raises(ValueError, match="^" + message):
        init_state(OptimizerConfig(name="adam", lr=0.1), bad)


@pytest.mark.parametrize("theta, grad, message", [
    (THETA[:, None], G1, "theta must be a 1-D float array"),
    (THETA, G1.astype(int), "grad must be a 1-D float array"),
    (THETA, G1[:, None], "grad must be a 1-D float array"),
])
def test_apply_requires_flat_float_theta_and_grad(theta, grad, message):
    cfg = OptimizerConfig(name="sgd", lr=0.1)
    with pytest.raises(ValueError, match="^" + message):
        apply(cfg, theta, grad, init_state(cfg, THETA))


def test_weight_decay_is_decoupled_from_the_adaptive_step():
    """AdamW: θ -= lr (m̂ / (√v̂ + eps) + λ θ), the decay not scaled by Adam's denominator."""
    plain = OptimizerConfig(name="adam", lr=0.1)
    decayed = OptimizerConfig(name="adam", lr=0.1, weight_decay=0.5)
    state = init_state(plain, THETA)
    theta_plain, _ = apply(plain, THETA, G1, state)
    theta_decayed, new_state = apply(decayed, THETA, G1, state)
    np.testing.assert_allclose(theta_decayed, theta_plain - 0.1 * 0.5 * THETA)
    assert set(new_state) == {"t", "m", "v"}


def test_negative_weight_decay_is_refused():
    with pytest.raises(ValueError, match="weight_decay"):
        OptimizerConfig(name="adam", lr=0.1, weight_decay=-1.0)
