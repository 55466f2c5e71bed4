"""`hadoop-rnn train`: epochs, checkpoints, resume and refusal of what it cannot commit."""
import json
import os
import re

import numpy as np
import pytest

from jobs.run.checkpoint import CheckpointError
from helpers import load_run_state, prepare_sunspots, train_cli, train_small
from jobs.cli import EXIT_NOTHING_TO_DO, EXIT_OK
from jobs.data.dataset import Dataset
from jobs.training import TrainingError
from jobs.training.metrics import progress_line


def test_train_writes_a_checkpoint_and_a_metrics_line_per_epoch(text_data, tmp_path):
    run_dir = str(tmp_path / "run")
    assert train_small(text_data[0], run_dir, "--epochs", "2") == EXIT_OK
    lines = [json.loads(x) for x in open(os.path.join(run_dir, "metrics.jsonl"))]
    assert [m["epoch"] for m in lines] == [1, 2]
    assert {"epoch", "train_loss", "valid_loss", "tokens", "seconds"} <= set(lines[0])
    assert load_run_state(run_dir).epoch == 2
    assert os.path.exists(os.path.join(run_dir, "ckpt-000002.npz"))


def test_average_mode_loss_falls_on_real_text_over_a_few_epochs(text_data, tmp_path):
    run_dir = str(tmp_path / "run")
    train_small(text_data[0], run_dir, "--epochs", "4", "--mode", "average", "--lr", "0.01")
    losses = [m["valid_loss"] for m in load_run_state(run_dir).history]
    assert losses[-1] < 0.85 * losses[0]


def test_resumed_run_ends_bit_identical_to_an_uninterrupted_one(text_data, tmp_path):
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    train_small(text_data[0], straight, "--epochs", "3", "--mode", "average")
    train_small(text_data[0], resumed, "--epochs", "1", "--mode", "average")
    train_small(text_data[0], resumed, "--epochs", "3", "--mode", "average")
    a, b = load_run_state(straight), load_run_state(resumed)
    assert a.theta.tobytes() == b.theta.tobytes()
    assert all(a.opt_state[k].tobytes() == b.opt_state[k].tobytes() for k in a.opt_state)


def test_outer_optimizer_state_survives_a_resume_bit_identically(text_data, tmp_path):
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    train_small(text_data[0], straight, "--epochs", "3", "--mode", "average")
    train_small(text_data[0], resumed, "--epochs", "2", "--mode", "average")
    train_small(text_data[0], resumed, "--epochs", "3", "--mode", "average")
    a, b = load_run_state(straight), load_run_state(resumed)
    assert a.history[-1]["map_tasks"] > 1 and np.any(a.outer_state["delta"] != 0)
    assert a.outer_state["delta"].tobytes() == b.outer_state["delta"].tobytes()
    assert a.theta.tobytes() == b.theta.tobytes()


def test_an_epoch_of_sync_rounds_scores_every_training_step_once(text_data, tmp_path):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    train_small(text_data[0], one, "--epochs", "1")
    train_small(text_data[0], two, "--epochs", "1", "--syncs-per-epoch", "2")
    a, b = load_run_state(one).history[0], load_run_state(two).history[0]
    assert (a["tokens"], a["records"]) == (b["tokens"], b["records"])
    assert a["map_tasks"] == b["map_tasks"]
    assert load_run_state(two).theta.tobytes() != load_run_state(one).theta.tobytes()


def test_a_run_resumed_mid_epoch_from_a_committed_sync_round_ends_bit_identical(text_data,
                                                                                tmp_path):
    from jobs.data.dataset import Dataset
    from jobs.hadoop.launch import RunnerOptions
    from jobs.run.checkpoint import ROUND, commit
    from jobs.storage import open_store
    from jobs.training import RunSpec
    from jobs.training.spec import new_state
    from jobs.training.loop import run_round

    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    flags = ("--epochs", "2", "--syncs-per-epoch", "3")
    train_small(text_data[0], straight, *flags)
    dataset = Dataset(text_data[0])
    spec = RunSpec(cell="gru", hidden=12, batch=4, bptt=8, dtype="float64", seed=5,
                   syncs_per_epoch=3)
    state = new_state(spec, dataset, dataset.store.uri())
    for _ in range(2):  # two of epoch 1's three rounds, committed, then the driver stops
        state = run_round(state, dataset, RunnerOptions(runner="inline"))
        commit(open_store(resumed), state)
    assert (state.epoch, len(state.rounds)) == (0, 2)
    lines = []
    train_small(text_data[0], resumed, *flags, log=lines.append)
    assert [line for line in lines if "round" in line or "new run" in line] == [
        "epoch 2/2: sync round 1/3 committed", "epoch 2/2: sync round 2/3 committed"]
    a, b = load_run_state(straight), load_run_state(resumed)
    assert a.theta.tobytes() == b.theta.tobytes()
    assert a.outer_state["delta"].tobytes() == b.outer_state["delta"].tobytes()
    assert all(a.opt_state[k].tobytes() == b.opt_state[k].tobytes() for k in a.opt_state)
    assert [m["tokens"] for m in a.history] == [m["tokens"] for m in b.history]
    assert [m["valid_loss"] for m in a.history] == [m["valid_loss"] for m in b.history]
    assert not os.path.exists(os.path.join(resumed, ROUND))


def test_sync_rounds_score_only_each_epochs_final_theta(text_data, tmp_path):
    from jobs.hadoop.launch import RunnerOptions
    from jobs.training.epoch_job import score_validation

    run_dir = str(tmp_path / "run")
    train_small(text_data[0], run_dir, "--epochs", "2", "--syncs-per-epoch", "3")
    history = load_run_state(run_dir).history
    for m in history:  # θ_1 by the first round's job of epoch 2, θ_2 by the scoring job
        state = load_run_state(run_dir, f"ckpt-{m['epoch']:06d}.npz")
        sums, _ = score_validation(state, Dataset(text_data[0]), RunnerOptions("inline"))
        assert m["valid_loss"] == float(sums["loss_sum"]) / float(sums["count"])
        assert "valid_pending" not in m


def test_rerun_after_reaching_the_target_does_nothing(text_data, tmp_path):
    run_dir = str(tmp_path / "run")
    train_small(text_data[0], run_dir, "--epochs", "1")
    before = open(os.path.join(run_dir, "latest.npz"), "rb").read()
    assert train_small(text_data[0], run_dir, "--epochs", "1") == EXIT_NOTHING_TO_DO
    assert open(os.path.join(run_dir, "latest.npz"), "rb").read() == before


def test_resume_with_omitted_flags_takes_the_checkpoint_configuration(text_data, tmp_path):
    run_dir = str(tmp_path / "run")
    train_small(text_data[0], run_dir, "--epochs", "1")
    assert train_cli("--data", text_data[0], "--run", run_dir, "--epochs", "2") == EXIT_OK
    assert load_run_state(run_dir).model.cell == "gru"


def test_resume_with_a_different_configuration_is_a_clear_error(text_data, tmp_path):
    run_dir = str(tmp_path / "run")
    train_small(text_data[0], run_dir, "--epochs", "1")
    with pytest.raises(TrainingError, match="hidden: checkpoint has 12, asked for 13"):
        train_small(text_data[0], run_dir, "--epochs", "2", "--hidden", "13")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point
def test_a_non_finite_validation_loss_is_never_committed(text_data, tmp_path):
    run_dir = tmp_path / "run"
    # epoch 1's θ is still finite, so it is committed; its validation loss, scored by
    # epoch 2's job, is not: epoch 2 is not committed and epoch 1's loss stays pending
    with pytest.raises(TrainingError, match="θ of epoch 1 gives a non-finite validation loss; "
                                            "epoch 2 was not committed and the checkpoint "
                                            "stays at epoch 1. Lower --lr"):
        train_small(text_data[0], str(run_dir), "--epochs", "3", "--optimizer", "sgd",
                    "--lr", "1e308", "--clip", "0", "--mode", "gradient")
    assert not os.path.exists(run_dir / "ckpt-000002.npz")
    history = load_run_state(run_dir).history
    assert [(m["epoch"], m["valid_loss"], m["valid_pending"]) for m in history] == [
        (1, None, True)]


def test_a_file_that_is_not_a_checkpoint_is_refused_and_left_alone(text_data, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "ckpt-000001.npz").write_bytes(b"definitely not an npz")
    with pytest.raises(CheckpointError, match="not a usable checkpoint"):
        train_small(text_data[0], str(run_dir), "--epochs", "2")
    assert (run_dir / "ckpt-000001.npz").read_bytes() == b"definitely not an npz"


def test_progress_line_reports_epoch_losses_speed_and_time(text_data, tmp_path):
    lines = []
    train_small(text_data[0], str(tmp_path / "run"), "--epochs", "2", log=lines.append)
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert epochs[0].startswith("epoch 1/2  train ") and "valid (next job)" in epochs[0]
    assert "tok/s" in epochs[0]
    # epoch 2's job scored θ_1; the scoring job scores the last θ
    assert re.search(r"^epoch 2/2  train .* \(epoch 1 valid \d\.\d{4}\)$", epochs[1])
    assert re.fullmatch(r"epoch 2: valid \d\.\d{4} \(scoring job\)", epochs[2])


def test_progress_line_shows_losses_below_0_1_to_4_significant_digits_others_to_4_decimals():
    epoch = {"epoch": 3, "train_loss": 0.000912345, "valid_loss": 0.0374123,
             "tokens_per_s": 1000.0, "seconds": 0.25}
    before = {"epoch": 2, "valid_loss": 2.56451}
    assert progress_line(epoch, 10, before) == (
        "epoch 3/10  train 0.0009123  valid 0.03741  1,000 tok/s  0.2s  (epoch 2 valid 2.5645)")


def test_gradient_mode_epoch_matches_across_inline_and_local_runners(text_data, tmp_path):
    a, b = str(tmp_path / "inline"), str(tmp_path / "local")
    train_small(text_data[0], a, "--epochs", "1", "--mode", "gradient")
    train_small(text_data[0], b, "--epochs", "1", "--mode", "gradient", "--runner", "local")
    ta, tb = load_run_state(a).theta, load_run_state(b).theta
    assert np.max(np.abs(ta - tb)) / np.max(np.abs(ta)) < 1e-9



@pytest.mark.matrix
def test_the_local_runner_never_forks_the_driver(train_only_text_data, tmp_path, monkeypatch):
    # the driver has threads (the run lock's heartbeat, pyarrow's): a fork of it may deadlock.
    # A scoring job would start its tasks as the epoch job does: one job is enough.
    def no_fork():
        raise AssertionError("the driver forked")

    monkeypatch.setattr(os, "fork", no_fork)
    run = str(tmp_path / "run")
    assert train_small(train_only_text_data[0], run, "--epochs", "1", "--runner",
                       "local") == EXIT_OK
    assert load_run_state(run).epoch == 1


def test_hdfs_data_with_a_runner_that_reads_local_files_is_a_clear_error(tmp_path):
    with pytest.raises(TrainingError, match="local runner reads local files only"):
        train_small("hdfs:///data/somewhere", str(tmp_path / "run"), "--runner", "local")


# -- the best epoch and early stopping ---------------------------------------------------------

# a small LSTM with a large step on 60 years of sunspots: the validation loss bottoms out
# within a few epochs and rises again, so --patience 2 stops the run before --epochs 12
OVERFITTING = ["--hidden", "8", "--batch", "1", "--dtype", "float64", "--lr", "0.05",
               "--no-residual", "--epochs", "12", "--patience", "2"]


@pytest.fixture
def sunspots_data(tmp_path):
    return prepare_sunspots(tmp_path / "data")


def test_best_epoch_and_patience_survive_a_resume_bit_identically(sunspots_data, tmp_path):
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    assert train_cli("--data", sunspots_data, "--run", straight, *OVERFITTING) == EXIT_OK
    end = load_run_state(straight)
    best = load_run_state(straight, "best.npz")
    assert best.epoch == end.best_epoch() < end.epoch < 12  # it stopped early
    assert end.epoch - end.best_epoch() == 2
    codes, lines = [], []
    while not codes or codes[-1] == EXIT_OK:
        assert len(codes) <= 12
        codes.append(train_cli("--data", sunspots_data, "--run", resumed, *OVERFITTING,
                               "--max-epochs-per-run", "1", log=lines.append))
    assert codes == [EXIT_OK] * end.epoch + [EXIT_NOTHING_TO_DO]
    assert lines[-1].startswith(f"nothing to do: stopped early at epoch {end.epoch}, best "
                                f"{end.best_epoch()}")
    for name in ("latest.npz", "best.npz"):
        a, b = load_run_state(straight, name), load_run_state(resumed, name)
        assert (a.epoch, a.theta.tobytes()) == (b.epoch, b.theta.tobytes())
        assert [m["valid_loss"] for m in a.history] == [m["valid_loss"] for m in b.history]


def test_best_is_the_epoch_with_the_lowest_validation_loss_and_evaluate_uses_it(sunspots_data,
                                                                                tmp_path):
    from jobs.run.checkpoint import CheckpointError
    from jobs.scoring import evaluate

    run_dir = str(tmp_path / "run")
    train_cli("--data", sunspots_data, "--run", run_dir, *OVERFITTING)
    end = load_run_state(run_dir)
    losses = {m["epoch"]: m["valid_loss"] for m in end.history}
    assert end.best_epoch() == min(losses, key=losses.get)
    by_default = evaluate(run_dir)
    assert by_default["epoch"] == end.best_epoch()
    assert by_default["loss"] == pytest.approx(losses[end.best_epoch()], rel=1e-9)
    assert evaluate(run_dir, checkpoint="latest")["epoch"] == end.epoch
    assert evaluate(run_dir, checkpoint=end.epoch - 1)["epoch"] == end.epoch - 1
    with pytest.raises(CheckpointError, match="no checkpoint of epoch 1: it keeps epochs"):
        evaluate(run_dir, checkpoint=1)


def test_a_new_series_run_chooses_its_defaults_from_the_data_and_says_so(sunspots_data,
                                                                        tmp_path):
    lines = []
    assert train_cli("--data", sunspots_data, "--run", str(tmp_path / "run"), "--epochs", "1",
                     "--dtype", "float64", log=lines.append) == EXIT_OK
    state = load_run_state(str(tmp_path / "run"))
    # 5 training chunks: one per minibatch, so an epoch takes as many steps as it can
    assert (state.settings.batch, state.model.hidden, state.model.residual) == (1, 32, True)
    # the network corrects the AR(p) forecast that prepare fitted on the training part
    assert state.model.ar == tuple(map(tuple, Dataset(sunspots_data).meta["ar"]["coef"]))
    said = [line for line in lines if line.startswith("defaults for a series")]
    assert len(said) == 1 and "batch 1" in said[0] and "hidden 32" in said[0]
    assert "residual ar" in said[0]


def test_a_step_schedule_keeps_the_tasks_mean_optimizer_state_whose_counter_it_counts(text_data):
    from jobs.data.dataset import Dataset
    from jobs.training import RunSpec
    from jobs.training.spec import run_configs

    dataset = Dataset(text_data[0])
    assert run_configs(RunSpec(), dataset)[2].inner_state == "auto"
    assert run_configs(RunSpec(schedule="step"), dataset)[2].inner_state == "mean"
    with pytest.raises(ValueError, match="restarts the step counter"):
        run_configs(RunSpec(schedule="step", inner_state="reset"), dataset)


@pytest.mark.parametrize("flags, residual", [(["--residual", "last"], "last"),
                                             (["--residual"], "last"),
                                             (["--no-residual"], "none"),
                                             (["--residual", "none"], "none")])
def test_residual_flags_choose_the_base_and_a_resume_must_ask_for_the_same(
        sunspots_data, tmp_path, flags, residual):
    run_dir = str(tmp_path / "run")
    assert train_cli("--data", sunspots_data, "--run", run_dir, "--epochs", "1", "--hidden",
                     "4", *flags) == EXIT_OK
    state = load_run_state(run_dir)
    assert (state.model.residual, state.model.ar) == (residual == "last", None)
    assert train_cli("--data", sunspots_data, "--run", run_dir, "--epochs", "2",
                     *flags) == EXIT_OK                            # the same base: resumes
    with pytest.raises(TrainingError, match=f"residual: checkpoint has '{residual}', asked "
                                            "for 'ar'"):
        train_cli("--data", sunspots_data, "--run", run_dir, "--epochs", "3", "--residual", "ar")


def test_residual_ar_on_data_prepared_without_the_ar_fit_says_to_prepare_again(
        sunspots_data, tmp_path):
    meta_path = os.path.join(sunspots_data, "meta.json")
    with open(meta_path, encoding="utf-8") as f:
        meta = json.load(f)
    del meta["ar"]                                     # as prepared before the AR base
    with open(meta_path, "w", encoding="utf-8") as f:
        json.dump(meta, f)
    with pytest.raises(ValueError, match="prepare the data again"):
        train_cli("--data", sunspots_data, "--run", str(tmp_path / "ar"), "--epochs", "1",
                  "--residual", "ar")
    assert train_cli("--data", sunspots_data, "--run", str(tmp_path / "run"), "--epochs",
                     "1", "--hidden", "4") == EXIT_OK
    state = load_run_state(str(tmp_path / "run"))
    assert state.model.residual is True   # the default falls back to last


def test_valid_every_k_scores_every_kth_epoch_and_the_last_and_leaves_theta_alone(text_data,
                                                                                  tmp_path):
    every, third = str(tmp_path / "every"), str(tmp_path / "third")
    train_small(text_data[0], every, "--epochs", "5", "--mode", "average")
    assert train_small(text_data[0], third, "--epochs", "5", "--mode", "average",
                       "--valid-every", "3") == EXIT_OK
    a, b = load_run_state(every), load_run_state(third)
    assert a.theta.tobytes() == b.theta.tobytes()  # validation in the job never moves θ
    assert [m["valid_loss"] is not None for m in b.history] == [False, False, True, False, True]
    assert [b.history[i]["valid_loss"] for i in (2, 4)] == [a.history[i]["valid_loss"]
                                                            for i in (2, 4)]
    assert not any("valid_pending" in m for m in a.history + b.history)
    lines = [json.loads(x) for x in open(os.path.join(third, "metrics.jsonl"))]
    assert [m["valid_loss"] for m in lines] == [m["valid_loss"] for m in b.history]


@pytest.mark.parametrize("map_tasks", [None, 5])
def test_the_epoch_jobs_validation_tasks_and_the_scoring_job_give_the_same_bits(
        text_data, tmp_path, map_tasks):
    from jobs.data.dataset import Dataset
    from jobs.hadoop.launch import RunnerOptions
    from jobs.mr.loss_sums import LossSums
    from jobs.training import RunSpec
    from jobs.training.spec import new_state
    from jobs.training.epoch_job import run_epoch_job, score_validation

    dataset = Dataset(text_data[0])
    state = new_state(RunSpec(hidden=8, batch=4, mode="average"), dataset, text_data[0])
    options = RunnerOptions("inline", map_tasks=map_tasks)
    in_job = run_epoch_job(state, dataset, options, validate=True).output
    alone = run_epoch_job(state, dataset, options).output
    scored, _ = score_validation(state, dataset, options)
    assert in_job["theta"].tobytes() == alone["theta"].tobytes()
    assert alone["valid"] is None
    for name in ("loss_sum", "count", "records"):
        assert in_job["valid"][name].tobytes() == scored[name].tobytes()
    assert int(scored["records"]) == dataset.meta["counts"]["valid"]["records"]
    # scored in this process (as the driver did before): the same loss, up to rounding
    here = LossSums(state.theta, state.model).add_chunks(dataset.iter_chunks("valid", state.model))
    assert float(scored["loss_sum"]) == pytest.approx(float(here["loss_sum"]), rel=1e-6)
    assert float(scored["count"]) == float(here["count"])
