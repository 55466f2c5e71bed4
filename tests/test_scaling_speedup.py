"""scripts/bench_scaling_quality.py's speedup to a target loss: S(N) = N × e₁ / e_N, e_N the
epochs N tasks need to reach the validation loss one task reaches after e₁ epochs."""
import json
import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "scripts"))
import bench_scaling_quality as bench  # noqa: E402
from cost_model import Constants  # noqa: E402

ONE_TASK = {1: 2.0, 2: 1.8, 3: 1.7, 4: 1.65}


def rows_by(rows, tasks, e1):
    return next(r for r in rows if r["tasks"] == tasks and r["target_epochs"] == e1)


def test_epochs_to_target_is_the_first_epoch_at_or_below_the_target():
    curve = {1: 2.5, 2: 2.0, 3: 1.9, 4: 1.8}
    assert bench.epochs_to_target(curve, 2.0, budget=10) == 2
    assert bench.epochs_to_target(curve, 1.85, budget=10) == 4


def test_epochs_to_target_ignores_epochs_past_the_budget():
    assert bench.epochs_to_target({1: 2.5, 2: 2.2, 3: 1.9}, 2.0, budget=2) is None


def test_epochs_to_target_skips_epochs_without_a_validation_loss():
    assert bench.epochs_to_target({1: None, 2: 1.9}, 2.0, budget=5) == 2


def test_the_speedup_is_n_times_e1_over_the_epochs_n_tasks_need():
    rows = bench.speedup_rows(ONE_TASK, {8: {1: 3.0, 2: 2.1, 3: 1.95}}, [1], records=1024,
                              batch=32)
    row = rows_by(rows, 8, 1)
    assert row["epochs"] == 3 and row["target_loss"] == 2.0
    assert row["s_n"] == pytest.approx(8 * 1 / 3, abs=0.01)


def test_one_task_has_speedup_one_at_every_target():
    rows = bench.speedup_rows(ONE_TASK, {}, [1, 2, 4], records=1024, batch=32)
    assert [(r["tasks"], r["epochs"], r["s_n"]) for r in rows] == [(1, 1, 1), (1, 2, 1), (1, 4, 1)]


def test_a_target_not_reached_in_the_budget_gives_an_upper_bound_instead_of_a_speedup():
    rows = bench.speedup_rows(ONE_TASK, {4: {e: 1.9 for e in range(1, 10)}}, [2], records=1024,
                              batch=32)
    row = rows_by(rows, 4, 2)
    assert row["epochs"] is None and row["s_n"] is None
    assert row["budget_epochs"] == 6 and row["trained_epochs"] == 6
    assert row["speedup_below"] == pytest.approx(4 * 2 / 6, abs=0.01)


def test_a_curve_shorter_than_the_budget_bounds_the_speedup_by_its_own_epochs():
    row = rows_by(bench.speedup_rows(ONE_TASK, {4: {1: 3.0, 2: 2.5}}, [2], 1024, 32), 4, 2)
    assert row["trained_epochs"] == 2 and row["speedup_below"] == 4


def test_steps_to_target_count_the_minibatches_of_one_task_in_sequence():
    # 1,024 chunks of 32 a minibatch: one task 32 steps an epoch, each of 8 tasks 4
    rows = bench.speedup_rows(ONE_TASK, {8: {1: 3.0, 2: 1.99}}, [1], records=1024, batch=32)
    assert rows_by(rows, 8, 1)["steps"] == 2 * 4
    assert rows_by(rows, 8, 1)["steps_one_task"] == 32


def test_minibatches_per_task_round_up_per_task_and_split_over_the_syncs():
    assert bench.minibatches_per_task(4225, 8, 32) == 17
    assert bench.minibatches_per_task(4225, 8, 32, syncs=4) == 17 / 4


def test_minibatches_per_task_refuse_zero_tasks():
    with pytest.raises(ValueError, match="map_tasks must be a number >= 1, got 0"):
        bench.minibatches_per_task(100, 0, 32)


def test_a_missing_one_task_epoch_is_a_clear_error():
    with pytest.raises(ValueError, match="no validation loss after epoch 5"):
        bench.speedup_rows(ONE_TASK, {}, [5], records=1024, batch=32)


def constants(fixed):
    return Constants(token_seconds_a=1e-5, token_seconds_b=0.0, decode_seconds_per_byte=0.0,
                     job_fixed_seconds=fixed, task_start_seconds=0.0, reduce_start_seconds=0.0,
                     driver_seconds=0.0, valid_token_seconds_a=0.0, valid_token_seconds_b=0.0)


def test_without_fixed_costs_the_wall_clock_speedup_is_the_compute_bound_one():
    c = constants(fixed=0.0)

    def seconds(tasks, epochs):
        return bench.projected_seconds(c, tasks, epochs, 1e6, 0, 1000)
    row = rows_by(bench.speedup_rows(ONE_TASK, {8: {1: 3.0, 2: 1.99}}, [1], 1024, 32, seconds),
                  8, 1)
    assert row["wall_clock_speedup"] == pytest.approx(row["s_n"], abs=0.01)


def test_every_sync_round_pays_the_jobs_fixed_cost():
    c = constants(fixed=10.0)
    one_sync = bench.projected_seconds(c, 8, 3, 1e6, 0, 1000, syncs=1)
    four_syncs = bench.projected_seconds(c, 8, 3, 1e6, 0, 1000, syncs=4)
    assert four_syncs - one_sync == pytest.approx(3 * 3 * 10.0, rel=1e-3)  # and the shuffle


def test_from_jsonl_takes_the_target_from_the_corpus_default_one_task_curve(tmp_path):
    path = tmp_path / "curves.jsonl"
    lines = [{"corpus": "c", "config": "default", "tasks": 1, "epoch": e, "tokens": 65_000,
              "valid_loss": loss} for e, loss in ONE_TASK.items()]
    lines += [{"corpus": "c", "config": "lr", "tasks": 4, "epoch": e, "tokens": 65_000,
               "valid_loss": loss} for e, loss in {1: 2.4, 2: 1.99, 3: 1.8}.items()]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    rows = bench.from_jsonl_rows([str(path)], [1, 2], chunk=65, batch=32, valid=0.1, hidden=8)
    row = rows_by(rows, 4, 1)
    assert (row["config"], row["one_task_config"], row["epochs"]) == ("lr", "default", 2)
    assert row["s_n"] == 2 and row["steps"] == 2 * 8  # 1,000 chunks: 8 minibatches a task


def test_from_jsonl_takes_a_curve_given_twice_from_the_last_file(tmp_path):
    def write(name, losses):
        path = tmp_path / name
        path.write_text("".join(
            json.dumps({"corpus": "c", "config": "default", "tasks": n, "epoch": e,
                        "tokens": 65_000, "valid_loss": loss}) + "\n"
            for n, curve in losses.items() for e, loss in curve.items()))
        return str(path)
    first = write("a.jsonl", {1: ONE_TASK, 2: {1: 2.5, 2: 2.4}})
    second = write("b.jsonl", {2: {1: 1.9}})
    assert rows_by(bench.from_jsonl_rows([first, second], [1], 65, 32, 0.1, 8), 2, 1)["epochs"] == 1


def test_the_bench_from_jsonl_prints_speedup_lines_and_trains_nothing():
    done = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "bench_scaling_quality.py"),
                           "--from-jsonl", os.path.join(REPO, "docs", "scaling_quality.jsonl"),
                           "--targets", "2", "5", "--constants",
                           os.path.join(REPO, "docs", "cost_constants.json")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    rows = [r for r in lines if "speedup" in r]
    assert rows and all("speedup" in r or "fit" in r for r in lines)
    assert any(r.get("fit") and r["corpus"] == "shakespeare" for r in lines)
    stdlib = [r for r in rows if r["corpus"] == "stdlib" and r["config"] == "default"]
    assert rows_by(stdlib, 1, 5)["target_loss"] == 1.5245
    assert all("wall_clock_speedup" in r for r in stdlib if r["epochs"] is not None)


def test_the_bench_from_jsonl_refuses_a_missing_file_in_one_line(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(REPO, "scripts", "bench_scaling_quality.py"),
                           "--from-jsonl", str(tmp_path / "none.jsonl"), "--targets", "2"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert done.stderr.strip().count("\n") == 0 and "none.jsonl" in done.stderr


def test_the_markdown_table_shows_s_n_with_e_n_and_the_bound_where_not_reached():
    rows = [{"corpus": "c", "config": "default", **r} for r in bench.speedup_rows(
        ONE_TASK, {2: {1: 1.9, 2: 1.7}, 4: {1: 3.0, 2: 2.9}}, [1, 2], 1024, 32)]
    table = bench.markdown(rows)
    assert "| 2 | 2 (1) | 2 (2) |" in table
    assert "| 4 | < 2 (not in 2) | < 4 (not in 2) |" in table


def test_from_jsonl_keeps_another_size_of_a_corpus_apart(tmp_path):
    path = tmp_path / "curves.jsonl"
    lines = [{"corpus": "c", "config": "default", "tasks": n, "epoch": e, "tokens": 65_000,
              "valid_loss": loss, "chars": chars}
             for chars in (300_000, 1_200_000) for n in (1, 2) for e, loss in ONE_TASK.items()]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    corpora = {r["corpus"] for r in bench.from_jsonl_rows([str(path)], [1], 65, 32, 0.1, 8)}
    assert corpora == {"c", "c-1200000"}


def speedup_line(tasks, steps):
    return {"corpus": "c", "config": "default", "target_epochs": 5, "tasks": tasks,
            "steps": steps}


def test_the_fit_recovers_the_noise_scale_of_steps_that_follow_the_large_batch_model():
    # steps to target S_min (1 + B/(N·b)) with S_min 100, B 96, b 32
    rows = [speedup_line(n, 100 * (1 + 96 / (n * 32))) for n in (1, 2, 4, 8)]
    fit = bench.fitted_noise_scale(rows, batch=32)
    assert fit["noise_scale_chunks"] == pytest.approx(96, abs=0.1)
    assert fit["min_steps"] == pytest.approx(100, abs=0.1)
    assert fit["s_max"] == pytest.approx(4, abs=0.01) and fit["points"] == 4


def test_the_fit_leaves_out_the_tasks_that_did_not_reach_the_target():
    rows = [speedup_line(n, 100 * (1 + 96 / (n * 32))) for n in (1, 2, 4)]
    rows.append(speedup_line(16, None))
    assert bench.fitted_noise_scale(rows, batch=32)["points"] == 3


def test_the_fit_needs_three_numbers_of_tasks_that_reached_the_target():
    rows = [speedup_line(1, 400), speedup_line(2, 250), speedup_line(8, None)]
    assert bench.fitted_noise_scale(rows, 32) is None


def test_steps_that_grow_with_the_batch_fit_no_noise_scale():
    rows = [speedup_line(1, 100), speedup_line(2, 200), speedup_line(8, 400)]
    fit = bench.fitted_noise_scale(rows, batch=32)
    assert fit["noise_scale_chunks"] is None and fit["s_max"] is None


def test_the_markdown_table_ends_with_the_fitted_limit_of_s_n():
    rows = [{"corpus": "c", "config": "default", **r} for r in bench.speedup_rows(
        ONE_TASK, {2: {1: 1.9, 2: 1.7}, 4: {1: 3.0, 2: 1.9}, 8: {1: 3.0, 2: 2.5, 3: 1.95}},
        [1], 1024, 32)]
    table = bench.markdown(rows, bench.fit_rows(rows, 32))
    fit = bench.fit_rows(rows, 32)[0]
    assert f"| N → ∞, fitted: 1 + B/b (B) | {fit['s_max']:g} ({fit['noise_scale_chunks']:g}) |" \
        in table


def test_a_smaller_minibatch_per_task_raises_the_limit_of_s_n_by_the_ratio_of_the_batches():
    # one task at b = 32; N tasks at b = 8: effective batch 8N; S(N) in epochs is 4 × the
    # steps ratio
    rows = [dict(speedup_line(1, 100 * (1 + 96 / 32)), batch=32)]
    rows += [dict(speedup_line(n, 100 * (1 + 96 / (n * 8))), batch=8) for n in (2, 4, 8)]
    fit = bench.fitted_noise_scale(rows, batch=32)
    assert fit["noise_scale_chunks"] == pytest.approx(96, abs=0.1)
    assert fit["s_max"] == pytest.approx(4 * 4, abs=0.01)


def test_steps_to_target_of_n_tasks_count_their_own_minibatches():
    rows = bench.speedup_rows(ONE_TASK, {8: {1: 3.0, 2: 1.99}}, [1], records=1024, batch=32,
                              task_batch=8)
    assert rows_by(rows, 8, 1)["steps"] == 2 * 16 and rows_by(rows, 8, 1)["batch"] == 8
    assert rows_by(rows, 1, 1)["steps"] == 32 and rows_by(rows, 1, 1)["batch"] == 32


def test_the_last_value_of_a_train_flag_counts_as_argparse_takes_it():
    assert bench.flag_value(["--batch", "32", "--lr", "1", "--batch", "8"], "--batch", 32) == 8
    assert bench.flag_value(["--lr", "1"], "--batch", 32) == 32
    assert bench.syncs_of(["--syncs-per-epoch", "4"]) == 4


def test_a_config_of_another_minibatch_gets_no_wall_clock_projection():
    rows = bench.speedup_rows(ONE_TASK, {8: {1: 3.0, 2: 1.99}}, [1], records=1024, batch=32,
                              epoch_seconds=lambda tasks, epochs: 10.0 * epochs, task_batch=8)
    assert "wall_clock_speedup" not in rows_by(rows, 8, 1)
    assert rows_by(rows, 1, 1)["wall_clock_speedup"] == 1


def test_a_start_on_fewer_tasks_counts_each_epoch_as_one_over_its_own_tasks():
    # N = 8 after two epochs on 2 tasks: 1/2 + 1/2 + 1/8 of one task's epochs to the target
    rows = bench.speedup_rows(ONE_TASK, {8: {1: 2.5, 2: 2.0, 3: 1.79}}, [2], records=1024,
                              batch=32, epoch_tasks={8: {1: 2, 2: 2}})
    row = rows_by(rows, 8, 2)
    assert row["epochs"] == 3 and row["s_n"] == pytest.approx(2 / 1.125, abs=0.01)
    assert row["steps"] == 16 + 16 + 4


def test_from_jsonl_reads_the_map_tasks_each_epoch_ran_on(tmp_path):
    path = tmp_path / "curves.jsonl"
    lines = [{"corpus": "c", "config": "default", "tasks": 1, "map_tasks": 1, "epoch": e,
              "tokens": 65_000, "valid_loss": loss} for e, loss in ONE_TASK.items()]
    lines += [{"corpus": "c", "config": "start", "tasks": 8, "map_tasks": 2 if e <= 2 else 8,
               "epoch": e, "tokens": 65_000, "valid_loss": loss}
              for e, loss in {1: 2.5, 2: 2.0, 3: 1.79}.items()]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    row = rows_by(bench.from_jsonl_rows([str(path)], [2], 65, 32, 0.1, 8), 8, 2)
    assert row["s_n"] == pytest.approx(2 / 1.125, abs=0.01)


def test_from_jsonl_projects_each_run_with_its_own_syncs_and_one_task_with_one(tmp_path):
    path = tmp_path / "curves.jsonl"
    lines = [{"corpus": "c", "config": config, "tasks": n, "epoch": e, "tokens": 650_000,
              "valid_loss": loss, "syncs": syncs}
             for config, n, syncs in (("default", 1, 1), ("default", 8, 1), ("k4", 8, 4))
             for e, loss in ONE_TASK.items()]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    constants = Constants(**json.load(open(os.path.join(REPO, "docs", "cost_constants.json"))))
    rows = bench.from_jsonl_rows([str(path)], [2], 65, 32, 0.1, 8, constants)
    one = {r["config"]: rows_by([x for x in rows if x["config"] == r["config"]], 8, 2)
           for r in rows}
    assert one["k4"]["projected_seconds"] > one["default"]["projected_seconds"]
    assert one["k4"]["projected_seconds_one_task"] == one["default"]["projected_seconds_one_task"]
