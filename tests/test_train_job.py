"""The training job: distributed results equal the in-process computation on the same data."""
import os
import subprocess
import sys

import numpy as np
import pytest

from jobs.data.batches import make_batch, read_chunk
from jobs.data.dataset import Dataset
from jobs.hadoop.launch import RunnerOptions, run_job
from jobs.mr.counters import BAD_BY_REASON, BAD_BY_SHARD, COUNTERS
from jobs.mr.train_epoch import MRTrainEpoch, slice_plan
from jobs.mr.protocol import SliceProtocol
from jobs.training.epoch_job import assemble_slices
from jobs.data.records import encode_record
from jobs.run.state import RunSettings, TrainingState
from rnn_core import ModelConfig, init_params, loss_and_grad
from rnn_core.optimizers import OptimizerConfig, apply, init_state
from rnn_core.serialization import save_arrays

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_state(meta, mode="gradient", optimizer="adam", dtype="float64"):
    model = ModelConfig(cell="lstm", hidden=16, vocab_size=len(meta["vocab"]), dtype=dtype)
    opt = OptimizerConfig(name=optimizer, lr=0.01, clip_norm=5.0)
    theta = init_params(model, seed=3)
    return TrainingState(model=model, optimizer=opt, theta=theta,
                         settings=RunSettings(mode=mode, batch=4, bptt=8, seed=3),
                         opt_state=init_state(opt, theta))


def run_epoch_job(data_dir, state, tmp_path, runner="inline", mode="gradient", keep=None,
                  reducers=1, extra_args=()):
    """Run the epoch job; its ``output`` is the assembled result dict. With ``keep`` (a
    directory) mrjob's working files are kept there. The job's mode is the state's."""
    assert state.settings.mode == mode
    state_file = str(tmp_path / "state.npz")
    save_arrays(state_file, state.to_arrays())
    dataset = Dataset(data_dir)
    extra = ["--cleanup", "NONE", "--local-tmp-dir", str(keep)] if keep else []
    return run_job(MRTrainEpoch, ["--state", state_file, "--reducers", str(reducers)],
                   dataset.shard_uris("train"),
                   RunnerOptions(runner=runner, extra_args=extra + list(extra_args)),
                   collect=lambda pairs: assemble_slices(pairs, state))


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
    out = result.output
    theta, loss = reference_step(data_dir, state)
    assert relative_error(out["theta"], theta) < 1e-9
    assert float(out["loss_sum"]) / float(out["count"]) == pytest.approx(loss, rel=1e-9)


@pytest.mark.matrix
def test_gradient_mode_local_runner_with_several_tasks_equals_in_process_step(text_data, tmp_path):
    data_dir, meta = text_data
    state = make_state(meta)
    result = run_epoch_job(data_dir, state, tmp_path, "local")
    theta, _ = reference_step(data_dir, state)
    assert relative_error(result.output["theta"], theta) < 1e-9
    assert result.counters[COUNTERS]["records"] == meta["counts"]["train"]["records"]


def test_each_map_task_emits_one_record_per_slice_tagged_with_its_task(text_data, tmp_path):
    data_dir, meta = text_data
    state = make_state(meta, mode="average")
    work = tmp_path / "mrjob"
    run_epoch_job(data_dir, state, tmp_path, "local", mode="average", reducers=3,
                  extra_args=["--cleanup", "NONE", "--local-tmp-dir", str(work)])
    plan = slice_plan(state.model, state.optimizer, 3)
    assert plan.count == 3
    outputs = sorted(work.glob("*/step/000/mapper/*/output"))
    assert len(outputs) >= 3  # at least one map task per shard
    tags = set()
    for path in outputs:
        lines = path.read_bytes().splitlines()
        records = [SliceProtocol().read(line) for line in lines]
        assert [key for key, _ in records] == [plan.key(s) for s in range(plan.count)]
        assert len({record.tag for _, record in records}) == 1  # one task, one tag
        tags.add(records[0][1].tag)
        for s, (_, record) in enumerate(records):
            lo, hi = plan.range(s)
            assert record.arrays["theta"].shape == (hi - lo,)
            assert record.arrays["opt.m"].dtype == state.theta.dtype
    assert len(tags) == len(outputs)
    # the shuffle carries O(tasks x parameters) bytes: θ and two Adam moments, base64
    shuffled = sum(p.stat().st_size for p in work.glob("*/step/000/reducer/*/input"))
    assert shuffled < len(outputs) * (3 * state.theta.nbytes * 4 / 3 + 3 * 8192)


@pytest.mark.matrix
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


def local_training(state, chunks, batch=4, bptt=8):
    """What one average-mode map task does, in plain Python: from the shared θ and optimizer
    state, one optimizer step per minibatch of ``batch`` chunks, in input order.

    Returns (θ, optimizer state, scored steps) at the end of the task's split.
    """
    theta, opt_state, count = state.theta.copy(), state.opt_state, 0.0
    for start in range(0, len(chunks), batch):
        inputs, targets, mask = make_batch(chunks[start:start + batch], state.model)
        _, n, grad_sum = loss_and_grad(theta, state.model, inputs, targets, mask, bptt)
        theta, opt_state = apply(state.optimizer, theta, grad_sum / n, opt_state)
        count += n
    return theta, opt_state, count


def average_mode_reference(state, task_chunks):
    """The average-mode epoch from the chunks of each map task: θ plus the scored-step-weighted
    mean of the tasks' changes, and the weighted mean of their optimizer states."""
    tasks = [local_training(state, chunks) for chunks in task_chunks if chunks]
    total = sum(count for _, _, count in tasks)
    theta = state.theta + sum((t - state.theta) * count for t, _, count in tasks) / total
    opt_state = {}
    for name, start in state.opt_state.items():
        mean = sum(np.asarray(o[name], np.float64) * count for _, o, count in tasks) / total
        opt_state[name] = (mean if start.dtype.kind == "f" else np.rint(mean)).astype(start.dtype)
    return theta, opt_state


def map_task_chunks(work, model):
    """The chunks each map task of a finished local/inline job read, from its kept input splits."""
    splits = sorted(work.glob("*/step/000/mapper/*/input"))
    return [[read_chunk(line, model) for line in path.read_bytes().splitlines()]
            for path in splits]


@pytest.mark.parametrize("runner", ["inline", "local"])
def test_average_mode_emits_the_count_weighted_mean_change_of_local_training(text_data, tmp_path,
                                                                             runner):
    data_dir, meta = text_data
    state = make_state(meta, mode="average")
    work = tmp_path / "mrjob"
    out = run_epoch_job(data_dir, state, tmp_path, runner, mode="average", keep=work).output
    task_chunks = map_task_chunks(work, state.model)
    assert len({len(chunks) for chunks in task_chunks}) > 1  # tasks of unequal sizes
    theta, opt_state = average_mode_reference(state, task_chunks)
    assert relative_error(out["theta"], theta) < 1e-12
    for name, value in opt_state.items():
        assert relative_error(out["opt." + name], value) < 1e-12, name


def test_job_file_runs_standalone_from_the_command_line(text_data, tmp_path):
    data_dir, meta = text_data
    state = make_state(meta)
    state_file = str(tmp_path / "state.npz")
    save_arrays(state_file, state.to_arrays())
    shards = Dataset(data_dir).shard_uris("train")
    proc = subprocess.run([sys.executable, "-m", "jobs.mr.train_epoch", "-r", "inline",
                           "--no-conf", "--state", state_file, *shards], cwd=REPO, capture_output=True, check=True)
    pairs = [SliceProtocol().read(line) for line in proc.stdout.splitlines()]
    out = assemble_slices(pairs, state)
    theta, _ = reference_step(data_dir, state)
    assert relative_error(out["theta"], theta) < 1e-9


def test_warm_up_steps_run_forward_but_are_not_scored(tmp_path):
    """Each record's first W steps only build up the state: masked out, so every training
    step after a sequence's first is scored exactly once, whatever the context."""
    from helpers import SUNSPOTS_CSV, prepare_cli
    from jobs.data.chunks import split_point
    from rnn_core import loss_only, predict

    prepare_cli("--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--chunk", 6,
                "--context", 4, "--valid", 0.2, "--test", 0, "--out", tmp_path / "data")
    cfg = ModelConfig(cell="gru", hidden=5, input_size=1, output_size=1, dtype="float64")
    theta = init_params(cfg, seed=1)
    records = list(Dataset(str(tmp_path / "data")).iter_chunks("train", cfg))
    assert [r.warmup for r in records[:3]] == [0, 4, 4]
    inputs, targets, mask = make_batch(records, cfg)
    for row, record in enumerate(records):
        n = len(record.values) - 1
        assert mask[row].tolist() == [0] * record.warmup + [1] * (n - record.warmup) + \
            [0] * (mask.shape[1] - n)
    loss_sum, count = loss_only(theta, cfg, inputs, targets, mask)
    assert count == split_point(60, 0.2) - 1
    # the loss is the error of the scored predictions alone, made after the warm-up
    errors = (predict(theta, cfg, inputs) - targets)[..., 0] ** 2
    assert loss_sum == pytest.approx(sum(errors[row, r.warmup:len(r.values) - 1].sum()
                                         for row, r in enumerate(records)), rel=1e-12)
    # and the warm-up is not wasted: the predictions after it differ from a zero-state start
    second = records[1]
    cold = predict(theta, cfg, second.values[None, second.warmup:-1])[0]
    warm = predict(theta, cfg, second.values[None, :-1])[0, second.warmup:]
    assert not np.allclose(cold, warm)
