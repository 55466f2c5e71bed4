"""The training job: distributed results equal the in-process computation on the same data."""
import os
import subprocess
import sys

import numpy as np
import pytest

from jobs.data.batches import make_batch
from jobs.data.dataset import Dataset
from jobs.launch import RunnerOptions, run_job
from jobs.mr.counters import BAD_BY_REASON, BAD_BY_SHARD, COUNTERS
from jobs.mr.train_epoch import MRTrainEpoch
from jobs.mr.protocol import ArraysProtocol
from jobs.data.records import encode_record
from jobs.run.state import TrainingState
from rnn_core import ModelConfig, init_params, loss_and_grad
from rnn_core.optimizers import OptimizerConfig, apply, init_state
from rnn_core.serialization import save_arrays

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_state(meta, mode="gradient", optimizer="adam", dtype="float64"):
    model = ModelConfig(cell="lstm", hidden=16, vocab_size=len(meta["vocab"]), dtype=dtype)
    opt = OptimizerConfig(name=optimizer, lr=0.01, clip_norm=5.0)
    theta = init_params(model, seed=3)
    return TrainingState(model=model, optimizer=opt, theta=theta,
                         settings={"mode": mode, "batch": 4, "bptt": 8, "seed": 3},
                         opt_state=init_state(opt, theta))


def run_epoch_job(data_dir, state, tmp_path, runner="inline", mode="gradient"):
    state_file = str(tmp_path / "state.npz")
    save_arrays(state_file, state.to_arrays())
    dataset = Dataset(data_dir)
    return run_job(MRTrainEpoch, ["--state", state_file, "--mode", mode, "--batch", "4",
                                  "--bptt", "8"],
                   dataset.shard_uris("train"), RunnerOptions(runner=runner))


def reference_step(data_dir, state):
    """The in-process full-batch gradient step on the whole training split."""
    dataset = Dataset(data_dir)
    chunks = list(dataset.iter_chunks("train", state.model))
    inputs, targets, mask = make_batch(chunks, state.model)
    loss_sum, count, grad_sum = loss_and_grad(state.theta, state.model, inputs, targets, mask, 8)
    theta, _ = apply(state.optimizer, state.theta, grad_sum / count, state.opt_state)
    return theta, loss_sum / count


def relative_error(a, b):
    return np.max(np.abs(a - b)) / np.max(np.abs(b))


def test_gradient_mode_inline_equals_in_process_step_on_unequal_shards(text_data, tmp_path):
    data_dir, meta = text_data
    state = make_state(meta)
    result = run_epoch_job(data_dir, state, tmp_path, "inline")
    out = dict(result.output)["result"]
    theta, loss = reference_step(data_dir, state)
    assert relative_error(out["theta"], theta) < 1e-9
    assert float(out["loss_sum"]) / float(out["count"]) == pytest.approx(loss, rel=1e-9)


def test_gradient_mode_local_runner_with_several_tasks_equals_in_process_step(text_data, tmp_path):
    data_dir, meta = text_data
    state = make_state(meta)
    result = run_epoch_job(data_dir, state, tmp_path, "local")
    theta, _ = reference_step(data_dir, state)
    assert relative_error(dict(result.output)["result"]["theta"], theta) < 1e-9
    assert result.counters[COUNTERS]["records"] == meta["counts"]["train"]["records"]


def test_each_map_task_emits_one_record_of_sums(text_data, tmp_path):
    data_dir, meta = text_data
    state = make_state(meta)
    state_file = str(tmp_path / "state.npz")
    save_arrays(state_file, state.to_arrays())
    work = tmp_path / "mrjob"
    run_job(MRTrainEpoch, ["--state", state_file, "--mode", "gradient", "--batch", "4", "--bptt", "8"],
            Dataset(data_dir).shard_uris("train"),
            RunnerOptions(runner="local", extra_args=["--cleanup", "NONE",
                                                      "--local-tmp-dir", str(work)]))
    outputs = list(work.glob("*/step/000/mapper/*/output"))
    assert len(outputs) >= 3  # at least one map task per shard
    assert all(len(path.read_bytes().splitlines()) == 1 for path in outputs)
    # the shuffle carries O(tasks x parameters) bytes: one base64 npz of θ's size per task
    shuffled = sum(p.stat().st_size for p in work.glob("*/step/000/reducer/*/input"))
    assert shuffled < len(outputs) * (state.theta.nbytes * 4 / 3 + 4096)


def test_malformed_lines_are_skipped_and_counted_by_reason_and_shard(text_data, tmp_path):
    data_dir, meta = text_data
    shard = os.path.join(data_dir, meta["train"][1])
    first = open(shard).read().splitlines()[0].split("\t")
    with open(shard, "a") as f:
        f.write("not a record at all\n")
        f.write("\t".join(first[:3] + ["00000000", first[4]]) + "\n")  # wrong checksum
        f.write(encode_record("oov/0", np.array([0, 1, 9999])) + "\n")
    state = make_state(meta)
    counters = run_epoch_job(data_dir, state, tmp_path, "inline").counters
    assert counters[COUNTERS]["bad records"] == 3
    assert counters[BAD_BY_REASON] == {"bad encoding": 1, "bad checksum": 1,
                                       "token id out of vocabulary": 1}
    assert counters[BAD_BY_SHARD] == {os.path.basename(shard): 3}
    assert counters[COUNTERS]["records"] == meta["counts"]["train"]["records"]


def test_average_mode_emits_the_count_weighted_mean_change_of_local_training(text_data, tmp_path):
    data_dir, meta = text_data
    state = make_state(meta, mode="average")
    out = dict(run_epoch_job(data_dir, state, tmp_path, "inline", mode="average").output)["result"]
    assert not np.array_equal(out["theta"], state.theta)
    assert int(out["opt.t"]) > 1  # many local optimizer steps per job, not one
    assert np.all(np.isfinite(out["theta"]))


def test_job_file_runs_standalone_from_the_command_line(text_data, tmp_path):
    data_dir, meta = text_data
    state = make_state(meta)
    state_file = str(tmp_path / "state.npz")
    save_arrays(state_file, state.to_arrays())
    shards = Dataset(data_dir).shard_uris("train")
    proc = subprocess.run([sys.executable, "-m", "jobs.mr.train_epoch", "-r", "inline",
                           "--no-conf", "--state", state_file, "--mode", "gradient", "--bptt", "8",
                           "--batch", "4",
                           *shards], cwd=REPO, capture_output=True, check=True)
    key, out = ArraysProtocol().read(proc.stdout.strip())
    theta, _ = reference_step(data_dir, state)
    assert key == "result"
    assert relative_error(out["theta"], theta) < 1e-9
