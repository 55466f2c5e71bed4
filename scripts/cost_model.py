#!/usr/bin/env python
"""What one training epoch costs on a cluster: a model from constants measured here.

    epoch = job_fixed                                   submission, ApplicationMaster, commit
          + waves × (task_start + tokens/N / tok_s)     map tasks, ``waves = ceil(N / slots)``
          + N × record / R / net                        the shuffle into the busiest reducer
          + reduce_start + N × record / R × decode      the reduce wave: decoding and adding
          + driver                                      reading θ back, the checkpoint (and,
                                                        before issue 11, the validation pass)

``record`` is the bytes one map task sends: |θ| × k values of θ's dtype in base64 (k = 1
in gradient mode; 1 + the optimizer's slots in average mode: 3 for Adam). ``tok_s`` is BPTT
tokens per second per core for the model, fitted as ``1 / (a + b·|θ|)``.

Three uses:

    python scripts/cost_model.py measure > docs/cost_constants.json
        BPTT speed (two model sizes), decode cost per byte, and from a bench_yarn_phases.py
        output (``--phases FILE``) the fixed cost per job and per task wave.
    python scripts/cost_model.py check --constants docs/cost_constants.json --runs FILE
        predicted against measured epochs: FILE holds JSON lines of metrics.jsonl epochs
        with the shape of the run ({"tokens", "params", "map_tasks", "reducers", "nodes",
        "valid_tokens", "mode", "job_seconds"}).
    python scripts/cost_model.py project --constants docs/cost_constants.json [--png FILE]
        epoch time and speedup over one node for 1-1,000 nodes for two workloads, with the
        assumptions printed.
    python scripts/cost_model.py report --constants docs/cost_constants.json \
            --runs docs/scaling-runs.jsonl --png docs/scaling-projection.png
        docs/scaling.md's check and projection tables in Markdown, and the plot.

Everything else prints JSON lines.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time
from dataclasses import asdict, dataclass

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

RECORD_VALUES = {"gradient": 1, "average": 3}  # values per parameter in a task record (Adam)
BASE64 = 4 / 3


@dataclass
class Constants:
    """Costs measured on one machine (``measure``); seconds and bytes."""

    token_seconds_a: float      # BPTT seconds per token = a + b·|θ| (one core)
    token_seconds_b: float
    decode_seconds_per_byte: float  # reducer: base64 + npz + add, per record byte
    job_fixed_seconds: float    # per job: everything but the map waves and the reduce
    task_start_seconds: float   # per wave of map tasks: container, JVM, Python, imports
    reduce_start_seconds: float  # the reduce wave: container, JVM, Python, shuffle set-up
    driver_seconds: float       # per epoch, besides validation: read θ, commit
    valid_token_seconds_a: float  # the driver's forward-only pass, per token = a + b·|θ|
    valid_token_seconds_b: float


@dataclass
class Cluster:
    nodes: int = 1
    slots_per_node: int = 2          # map containers per node at once (cores)
    net_bytes_per_s: float = 117e6   # into one node: 1 Gbit/s Ethernet


@dataclass
class Workload:
    name: str
    tokens: float          # training tokens (characters) per epoch
    valid_tokens: float    # scored per epoch (map tasks; before issue 11 the driver)
    params: int            # |θ|
    mode: str = "average"
    itemsize: int = 4      # bytes per value: float32


def predict(w, cluster, map_tasks, reducers, c, validate_on_cluster=False):
    """Seconds of one epoch, by component.

    ``validate_on_cluster``: the validation split is scored in the map tasks (spread like the
    training split), as the code does since issue 11; False models the driver's pass of
    before, for comparison.
    """
    slots = cluster.nodes * cluster.slots_per_node
    waves = math.ceil(map_tasks / slots)
    token_s = c.token_seconds_a + c.token_seconds_b * w.params
    record = w.params * RECORD_VALUES[w.mode] * w.itemsize * BASE64
    into_reducer = map_tasks * record / reducers
    parts = {
        "fixed": c.job_fixed_seconds,
        "maps": waves * (c.task_start_seconds + w.tokens / map_tasks * token_s),
        "shuffle": into_reducer / cluster.net_bytes_per_s,
        "reduce": c.reduce_start_seconds + into_reducer * c.decode_seconds_per_byte,
        "driver": c.driver_seconds,
    }
    valid_s = w.valid_tokens * (c.valid_token_seconds_a + c.valid_token_seconds_b * w.params)
    if validate_on_cluster:
        parts["maps"] += waves * valid_s / map_tasks
    else:
        parts["driver"] += valid_s
    parts["total"] = sum(parts.values())
    return parts


# -- measure ---------------------------------------------------------------------------------

def token_seconds(hidden, forward_only, repeats=9):
    """(|θ|, seconds per token) of BPTT (or forward only) for a character LSTM: the fastest
    of ``repeats`` runs, i.e. the speed of a core this process has to itself."""
    import numpy as np

    from rnn_core import ModelConfig, init_params, loss_and_grad, loss_only
    from rnn_core.heap import keep_freed_memory

    keep_freed_memory()  # as in a map task
    cfg = ModelConfig(cell="lstm", hidden=hidden, vocab_size=84, dtype="float32")  # as trained
    theta = init_params(cfg, seed=0)
    rng = np.random.default_rng(0)
    inputs, targets = rng.integers(0, 84, (32, 64)), rng.integers(0, 84, (32, 64))
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        if forward_only:
            loss_only(theta, cfg, inputs, targets)
        else:
            loss_and_grad(theta, cfg, inputs, targets)
        times.append(time.perf_counter() - started)
    return theta.size, min(times) / inputs.size


def linear_fit(points):
    """(a, b) of y = a + b·x through two (x, y) points."""
    (x0, y0), (x1, y1) = points
    b = (y1 - y0) / (x1 - x0)
    return y0 - b * x0, b


def decode_seconds_per_byte(values=1_000_000, tasks=4):
    """Reducer cost: decode ``tasks`` records of ``values`` float64 and add them, per byte."""
    import numpy as np

    from jobs.mr.protocol import ArraysProtocol, add_sums

    protocol = ArraysProtocol()
    lines = [protocol.write("sums", {"delta_sum": np.full(values, float(i))}) for i in range(tasks)]
    started = time.perf_counter()
    add_sums(protocol.read(line)[1] for line in lines)
    return (time.perf_counter() - started) / sum(len(line) for line in lines)


def measure(phases_file):
    from jobs.hadoop.launch import default_blas_threads

    default_blas_threads()
    train = [token_seconds(h, forward_only=False) for h in (64, 256)]
    valid = [token_seconds(h, forward_only=True) for h in (64, 256)]
    (a, b), (va, vb) = linear_fit(train), linear_fit(valid)
    rows = [json.loads(line) for line in open(phases_file) if '"summary"' not in line]
    rows = [r for r in rows if r["variant"] == "containers"] or rows
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if isinstance(rows[0][k], float)}
    return Constants(
        token_seconds_a=a, token_seconds_b=b, valid_token_seconds_a=va, valid_token_seconds_b=vb,
        decode_seconds_per_byte=decode_seconds_per_byte(),
        job_fixed_seconds=sum(med[k] for k in ("driver_before", "submit", "am_start",
                                               "job_commit", "client_notice")),
        task_start_seconds=med["containers"] + med["maps"],
        reduce_start_seconds=med["reduce"],
        driver_seconds=med["driver_after"])


def collect(sizes, hidden, reducers, epochs=2):
    """Train ``epochs`` epochs on the dev cluster for each text size; print one run line each.

    The dev cluster is one machine: every NodeManager shares its cores, so the model sees
    one node with as many slots as the machine has cores. The epochs run in task containers
    (``uber=False``), as every job that is not tiny does.
    """
    import inspect
    import textwrap
    import uuid

    from jobs.hadoop.launch import RunnerOptions
    from jobs.preparing import prepare
    from jobs.run.checkpoint import load_latest
    from jobs.storage import open_store
    from jobs.training import RunSpec, train

    state = os.environ.get("HADOOP_RNN_DEV_CLUSTER_DIR", "")
    nodemanagers = open(os.path.join(state, "nodes.env")).read().split()[0].split("=")[1]
    source = inspect.getsource(textwrap)
    for size in sizes:
        work = f"/tmp/cost-model-{uuid.uuid4().hex}"
        os.makedirs(work)
        with open(f"{work}/corpus.txt", "w") as f:
            f.write((source * (size // len(source) + 1))[:size])
        hdfs = f"hdfs:///tmp/cost-model/{uuid.uuid4().hex}"
        # two equal training shards, one map task each, and no validation split: the
        # epoch is the training job alone, split as the model assumes
        prepare([f"{work}/corpus.txt"], f"{hdfs}/data", "text", chunk=65, valid=0,
                shards=2, log=lambda line: None)
        for r in reducers:
            spec = RunSpec(hidden=hidden, batch=32)
            train(f"{hdfs}/data", f"{hdfs}/run-{r}", epochs, spec,
                  RunnerOptions(runner="hadoop", reducers=r, uber=False), log=lambda line: None)
            run = open_store(f"{hdfs}/run-{r}")
            last = json.loads(run.read_bytes("metrics.jsonl").decode().splitlines()[-1])
            params = load_latest(run).theta.size
            print(json.dumps({"name": f"text{size}-h{hidden}", "nodemanagers": int(nodemanagers),
                              "nodes": 1, "slots_per_node": os.cpu_count(),
                              "tokens": last["tokens"], "params": params,
                              "valid_tokens": 0,
                              "map_tasks": sum(last["tasks_by_node"].values()),
                              "reducers": r, "mode": "average",
                              "job_seconds": round(last["seconds"], 2)}), flush=True)


# -- check and project -----------------------------------------------------------------------

def check_rows(constants, runs_file):
    """Each measured run of ``runs_file`` with the model's prediction and its error."""
    rows = []
    for line in open(runs_file):
        run = json.loads(line)
        w = Workload(run.get("name", ""), run["tokens"], run["valid_tokens"], run["params"],
                     run.get("mode", "average"))
        cluster = Cluster(nodes=run["nodes"], slots_per_node=run.get("slots_per_node", 2),
                          net_bytes_per_s=run.get("net_bytes_per_s", 1e9))
        p = predict(w, cluster, run["map_tasks"], run["reducers"], constants)
        rows.append({**run, "predicted_seconds": round(p["total"], 1),
                     "measured_seconds": run["job_seconds"],
                     "error": round(p["total"] / run["job_seconds"] - 1, 3)})
    return rows


def check(constants, runs_file):
    for row in check_rows(constants, runs_file):
        print(json.dumps(row))


WORKLOADS = [
    # the README's Shakespeare model: LSTM-128, 84 symbols, 4.6 M training characters
    Workload("shakespeare-lstm128", 4.6e6, 0.5e6, 153_172),
    # LSTM-512 x 2 on 1 TB of text, 10 % held out
    Workload("lstm512x2-1TB", 0.9e12, 0.1e12, 3_280_980),
]


ASSUMPTIONS = {"slots_per_node": 8, "net_bytes_per_s": 1.25e9, "min_split": 1 << 20}


def project_rows(constants, slots_per_node, net_bytes_per_s, min_split):
    """(rows, curves): the projected epoch of each workload on 1 to 1,000 nodes, with R = 1
    and R = nodes and validation in the driver (before issue 11) or in the map tasks; the
    curves (workload, on_cluster) -> {nodes: seconds} with R = nodes, for the plot."""
    rows, curves = [], {}
    for w in WORKLOADS:
        one = {}  # seconds on one node, by where validation runs
        for nodes in (1, 10, 100, 1000):
            cluster = Cluster(nodes, slots_per_node, net_bytes_per_s)
            tasks = max(1, min(math.ceil(w.tokens / min_split), nodes * slots_per_node))
            for reducers, on_cluster in sorted({(1, False), (nodes, False), (nodes, True)}):
                p = predict(w, cluster, tasks, reducers, constants, on_cluster)
                one.setdefault(on_cluster, p["total"])
                rows.append({
                    "workload": w.name, "nodes": nodes, "map_tasks": tasks, "reducers": reducers,
                    "validation": "cluster" if on_cluster else "driver",
                    **{k: round(v, 1) for k, v in p.items()},
                    "hours": round(p["total"] / 3600, 2),
                    "speedup": round(one[on_cluster] / p["total"], 1)})
                if reducers == nodes:
                    curves.setdefault((w.name, on_cluster), {})[nodes] = p["total"]
    return rows, curves


def project(constants, png=None):
    print(json.dumps({"assumptions": {
        **ASSUMPTIONS,
        "map_tasks": "one wave (--map-tasks = nodes x slots), at most one per MB of input",
        "reducers": "1, or one per node (--reducers)",
        "validation": "in the map tasks (the code), or in the driver (before issue 11)"}}))
    rows, curves = project_rows(constants, **ASSUMPTIONS)
    for row in rows:
        print(json.dumps(row))
    if png:
        plot(curves, png)


def report(constants, runs_file, png):
    """docs/scaling.md's two tables in Markdown (the check, the projection); the plot."""
    def seconds(x):
        return f"{x:,.1f} s" if x < 3600 else f"{x / 3600:,.1f} h"

    print("| text | NodeManagers | map tasks | measured | predicted | error |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in check_rows(constants, runs_file):
        size = r["tokens"] / 1000
        print(f"| {f'{size / 1000:g} MB' if size >= 1000 else f'{size:g} KB'} | "
              f"{r['nodemanagers']} | {r['map_tasks']} | {seconds(r['measured_seconds'])} | "
              f"{seconds(r['predicted_seconds'])} | {r['error'] * 100:+.0f} % |")
    print()
    rows, curves = project_rows(constants, **ASSUMPTIONS)
    print("| workload | nodes | map tasks | R | validation | epoch | speedup over 1 node |")
    print("| --- | ---: | ---: | ---: | --- | ---: | ---: |")
    for r in rows:
        where = "map tasks" if r["validation"] == "cluster" else "driver (before issue 11)"
        print(f"| {r['workload']} | {r['nodes']:,} | {r['map_tasks']:,} | {r['reducers']:,} | "
              f"{where} | {seconds(r['total'])} | {r['speedup']:g} |")
    plot(curves, png)


def plot(curves, png):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for (name, on_cluster), by_nodes in sorted(curves.items()):
        xs = sorted(by_nodes)
        ax.plot(xs, [by_nodes[x] for x in xs], "o-" if on_cluster else "s--",
                label=f"{name}, R = nodes, validation in the "
                f"{'map tasks' if on_cluster else 'driver'}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("nodes")
    ax.set_ylabel("projected seconds per epoch")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--phases", required=True, help="JSON lines of scripts/bench_yarn_phases.py")
    c = sub.add_parser("collect")
    c.add_argument("--sizes", default="20000,200000,1000000")
    c.add_argument("--hidden", type=int, default=64)
    c.add_argument("--reducers", default="1")
    for name in ("check", "project", "report"):
        p = sub.add_parser(name)
        p.add_argument("--constants", required=True)
    for name in ("check", "report"):
        sub.choices[name].add_argument("--runs", required=True)
    sub.choices["project"].add_argument("--png")
    sub.choices["report"].add_argument("--png", required=True)
    args = parser.parse_args()
    if args.what == "measure":
        print(json.dumps(asdict(measure(args.phases)), indent=1))
        return
    if args.what == "collect":
        collect([int(x) for x in args.sizes.split(",")], args.hidden,
                [int(x) for x in args.reducers.split(",")])
        return
    constants = Constants(**json.load(open(args.constants)))
    if args.what == "check":
        check(constants, args.runs)
    elif args.what == "report":
        report(constants, args.runs, args.png)
    else:
        project(constants, args.png)


if __name__ == "__main__":
    main()
