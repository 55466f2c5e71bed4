"""ModelConfig validation and round trips; θ layout."""

import re

import numpy as np
import pytest

from rnn_core import ModelConfig, init_params, num_params, param_views


def test_token_and_series_configs_report_their_kind():
    assert ModelConfig(cell="lstm", hidden=8, vocab_size=5).kind == "tokens"
    assert ModelConfig(cell="gru", hidden=8, input_size=1, output_size=1).kind == "series"


def exactly(message):
    """A pytest.raises pattern matching `message` and nothing else."""
    return "^" + re.escape(message) + "$"


@pytest.mark.parametrize("kwargs, message", [
    (dict(cell="cnn", hidden=8, vocab_size=5),
     "cell must be one of ('rnn', 'lstm', 'gru'), got 'cnn'"),
    (dict(cell="rnn", hidden=0, vocab_size=5), "hidden must be a positive int, got 0"),
    (dict(cell="rnn", hidden=True, vocab_size=5), "hidden must be a positive int, got True"),
    (dict(cell="rnn", hidden=8, layers=1.5, vocab_size=5),
     "layers must be a positive int, got 1.5"),
    (dict(cell="rnn", hidden=8, vocab_size=5, dtype="float16"),
     "dtype must be one of ('float32', 'float64'), got 'float16'"),
    (dict(cell="rnn", hidden=8, vocab_size=0), "vocab_size must be a positive int, got 0"),
    (dict(cell="rnn", hidden=8, input_size=0, output_size=1),
     "input_size must be a positive int, got 0"),
    (dict(cell="rnn", hidden=8, input_size=1, output_size=-1),
     "output_size must be a positive int, got -1"),
    (dict(cell="rnn", hidden=8),
     "set vocab_size (tokens) or both input_size and output_size (series); "
     "got input_size=None, output_size=None"),
    (dict(cell="rnn", hidden=8, input_size=2),
     "set vocab_size (tokens) or both input_size and output_size (series); "
     "got input_size=2, output_size=None"),
    (dict(cell="rnn", hidden=8, vocab_size=5, input_size=2, output_size=2),
     "set either vocab_size (tokens) or input_size and output_size (series), not both"),
    (dict(cell="rnn", hidden=8, vocab_size=5, residual=True),
     "residual needs a series model with input_size >= output_size "
     "(its first output_size inputs are the values predicted)"),
    (dict(cell="rnn", hidden=8, input_size=1, output_size=2, residual=True),
     "residual needs a series model with input_size >= output_size "
     "(its first output_size inputs are the values predicted)"),
    (dict(cell="rnn", hidden=8, input_size=2, output_size=2, residual=1),
     "residual must be a bool, got 1"),
    (dict(cell="rnn", hidden=8, input_size=1, output_size=1, ar=((0.0, 1.0),)),
     "ar (the coefficients of an AR residual base) needs residual=True"),
    (dict(cell="rnn", hidden=8, input_size=2, output_size=2, residual=True, ar=((0.0, 1.0),)),
     "ar must be 2 row(s) of p + 1 >= 2 finite numbers (c, a_1 .. a_p), one per output column"),
    (dict(cell="rnn", hidden=8, input_size=1, output_size=1, residual=True, ar=((0.0,),)),
     "ar must be 1 row(s) of p + 1 >= 2 finite numbers (c, a_1 .. a_p), one per output column"),
])
def test_invalid_config_raises_value_error_naming_the_field_and_the_bad_value(kwargs, message):
    with pytest.raises(ValueError, match=exactly(message)):
        ModelConfig(**kwargs)


def test_ar_coefficients_round_trip_through_json_as_a_tuple_of_tuples():
    cfg = ModelConfig(cell="gru", hidden=4, input_size=1, output_size=1, residual=True,
                      ar=[[0.5, 1.25, -0.5]])
    assert cfg.ar == ((0.5, 1.25, -0.5),) and cfg.ar_order == 2
    assert ModelConfig.from_json(cfg.to_json()) == cfg


def test_residual_series_model_may_have_as_many_inputs_as_outputs():
    cfg = ModelConfig(cell="gru", hidden=4, input_size=2, output_size=2, residual=True)
    assert cfg.residual is True


def test_config_is_frozen():
    cfg = ModelConfig(cell="rnn", hidden=8, vocab_size=5)
    with pytest.raises(AttributeError):
        cfg.hidden = 9


def test_config_round_trips_through_dict_and_json():
    cfg = ModelConfig(cell="gru", hidden=4, layers=2, input_size=3, output_size=1,
                      dtype="float32")
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert ModelConfig.from_json(cfg.to_json()) == cfg


def test_to_json_writes_the_fields_with_sorted_keys():
    cfg = ModelConfig(cell="gru", hidden=4, layers=2, input_size=3, output_size=1,
                      dtype="float32")
    assert cfg.to_json() == ('{"ar": null, "cell": "gru", "dtype": "float32", "hidden": 4, '
                             '"input_size": 3, "layers": 2, "output_size": 1, "residual": false, '
                             '"vocab_size": null}')


def test_from_dict_rejects_unknown_keys_naming_them():
    d = {**ModelConfig(cell="rnn", hidden=8, vocab_size=5).to_dict(), "dropout": 0.1, "bias": 1}
    with pytest.raises(ValueError, match=exactly("unknown ModelConfig keys: ['bias', 'dropout']")):
        ModelConfig.from_dict(d)


def test_from_dict_rejects_a_non_dict_naming_its_type():
    with pytest.raises(ValueError, match=exactly("expected a dict, got list")):
        ModelConfig.from_dict([("cell", "rnn")])


def test_from_json_rejects_malformed_json_naming_the_class():
    with pytest.raises(ValueError, match=r"^invalid ModelConfig JSON: Expecting property name"):
        ModelConfig.from_json("{not json")


@pytest.mark.parametrize("cell, gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_num_params_counts_every_tensor(cell, gates):
    V, H, L = 5, 4, 2
    cfg = ModelConfig(cell=cell, hidden=H, layers=L, vocab_size=V)
    per_layer = 2 * H * gates * H + gates * H + (H if cell == "gru" else 0)
    assert num_params(cfg) == V * H + L * per_layer + H * V + V


def test_param_views_share_memory_with_theta():
    cfg = ModelConfig(cell="lstm", hidden=4, vocab_size=5)
    theta = init_params(cfg, seed=0)
    views = param_views(theta, cfg)
    assert sum(v.size for v in views.values()) == theta.size
    views["out.b"][...] = 7.0
    assert np.all(theta[-5:] == 7.0)


def test_init_params_sets_lstm_forget_bias_to_one_and_is_seeded():
    cfg = ModelConfig(cell="lstm", hidden=4, layers=2, vocab_size=5, dtype="float32")
    theta = init_params(cfg, seed=0)
    assert theta.dtype == np.float32 and theta.shape == (num_params(cfg),)
    b = param_views(theta, cfg)["l1.b"]
    np.testing.assert_array_equal(b, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    np.testing.assert_array_equal(theta, init_params(cfg, seed=0))
    assert not np.array_equal(theta, init_params(cfg, seed=1))


def test_init_params_default_seed_is_zero():
    cfg = ModelConfig(cell="gru", hidden=4, vocab_size=5)
    np.testing.assert_array_equal(init_params(cfg), init_params(cfg, seed=0))


@pytest.mark.parametrize("cfg", [
    ModelConfig(cell="gru", hidden=64, layers=2, vocab_size=50),
    ModelConfig(cell="rnn", hidden=64, input_size=16, output_size=3),
])
def test_init_params_draws_embedding_with_unit_variance_and_weights_with_one_over_fan_in(cfg):
    for name, p in param_views(init_params(cfg, seed=0), cfg).items():
        if p.ndim == 2:
            fan_in = 1 if name == "embed" else p.shape[0]
            z = p * np.sqrt(fan_in)                 # should be N(0, 1) samples
            five_sigma = 5 / np.sqrt(z.size)        # of the sample mean; of the sd, less
            assert abs(z.mean()) < five_sigma, name
            assert abs(z.std() - 1) < five_sigma, name
        else:
            np.testing.assert_array_equal(p, 0.0, err_msg=name)
