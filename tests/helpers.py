"""What the tests share: small real datasets, the commands through the Python API, tiny runs,
reading a run's checkpoints, the dev Hadoop cluster, and a cluster's configuration and
NameNodes made up for a test.

Test files import these with ``from helpers import ...`` (pytest puts tests/ on sys.path: the
directory has no __init__.py); tests/conftest.py holds only the pytest fixtures.
"""
import contextlib
import http.server
import inspect
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from xml.sax.saxutils import escape
from pathlib import Path

import numpy as np
import pytest

from jobs.cli import parse_args
from jobs.commands.prepare import prepare_kwargs
from jobs.commands.train import exit_code, train_kwargs
from jobs.data.chunks import cut_chunks
from jobs.data.dataset import write_dataset
from jobs.preparing import prepare
from jobs.run.checkpoint import LATEST, read_checkpoint
from jobs.storage import open_store
from jobs.training import train

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Yearly sunspot numbers 1700-1759, the start of statsmodels' sunspots data set.
SUNSPOTS_CSV = os.path.join(os.path.dirname(__file__), "data", "sunspots_1700_1759.csv")
# `hadoop-rnn prepare` flags of the sunspots series dataset: 12-year chunks, the last 20 % for
# validation and no test part (add "--out DIR")
SUNSPOTS_SERIES = ["--kind", "series", SUNSPOTS_CSV, "--column", "SUNACTIVITY", "--chunk", 12,
                   "--valid", 0.2, "--test", 0]

# `hadoop-rnn train` flags of a tiny model (the cell, bptt and seed are the defaults)
TINY = ["--hidden", "8", "--batch", "4", "--dtype", "float64", "--lr", "0.01"]
# `hadoop-rnn train` flags of a small GRU, seeded: the driver, fault and Hadoop tests' model
SMALL = ["--cell", "gru", "--hidden", "12", "--batch", "4", "--bptt", "8", "--dtype", "float64",
         "--seed", "5"]


# -- datasets ----------------------------------------------------------------------------------

def text_chunks(text, vocab, chunk, prefix):
    """Cut ``text`` into chunk records of ``chunk`` ids overlapping by one."""
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = np.array([index[ch] for ch in text], dtype=np.int64)
    return [(f"{prefix}/{n}", values) for n, (values, _) in enumerate(cut_chunks(ids, chunk))]


def write_text_data(data_dir, validation=True):
    """A character dataset from real text (textwrap's source), with shards of unequal size.

    ``validation``: whether it has a validation split (without one, training runs no
    scoring job: tests on the cluster that do not check validation save a job per run).
    Returns (data_dir, meta).
    """
    source = inspect.getsource(textwrap)
    train_text, valid_text = source[:6000], source[6000:7500]
    vocab = sorted(set(train_text) | set(valid_text))
    train = text_chunks(train_text, vocab, 33, "textwrap")
    valid = text_chunks(valid_text, vocab, 33, "textwrap-valid") if validation else []
    train_counts = [train_text.count(symbol) for symbol in vocab]  # the unigram baseline's
    meta = write_dataset(str(data_dir), "text", {"train": train, "valid": valid}, shards=3,
                         vocab=vocab, chunk=33, train_counts=train_counts)
    # make the shards unequal: move lines from the first shard to the last
    first, last = data_dir / meta["train"][0], data_dir / meta["train"][-1]
    lines = first.read_text().splitlines(keepends=True)
    first.write_text("".join(lines[:7]))
    last.write_text(last.read_text() + "".join(lines[7:]))
    return str(data_dir), meta


def prepare_sunspots(out):
    """The sunspots series dataset (:data:`SUNSPOTS_SERIES`) prepared in ``out``; returns
    ``out`` as a string."""
    out = str(out)
    prepare_cli(*SUNSPOTS_SERIES, "--out", out)
    return out


def tree(path):
    """Every file under ``path`` with its bytes: compare to prove nothing changed."""
    return {os.path.relpath(os.path.join(d, n), path): open(os.path.join(d, n), "rb").read()
            for d, _, names in os.walk(path) for n in names}


def siblings(path):
    """Entries beside ``path`` whose name starts with its name (staging leftovers)."""
    base = os.path.basename(path)
    return sorted(n for n in os.listdir(os.path.dirname(path)) if n.startswith(base))


# -- the commands, through the Python API ------------------------------------------------------

def cli_args(*argv):
    """The Namespace ``hadoop-rnn argv...`` gives its command's main."""
    return parse_args([str(a) for a in argv])


def quiet(line):
    """A log function that drops its lines."""


def prepare_cli(*argv, log=None):
    """``hadoop-rnn prepare argv...`` through the Python API; returns the meta dict."""
    return prepare(**prepare_kwargs(cli_args("prepare", *argv)), log=log or quiet)


def train_cli(*argv, log=None):
    """``hadoop-rnn train argv...`` through the Python API; returns the exit code."""
    return exit_code(train(**train_kwargs(cli_args("train", *argv)), log=log or quiet))


def train_small(data_dir, run_dir, *flags, log=None):
    """``hadoop-rnn train`` of the :data:`SMALL` model, with more ``flags``; the exit code."""
    return train_cli("--data", data_dir, "--run", run_dir, *SMALL, *flags, log=log)


def make_run(tmp, prepare_argv, epochs=2):
    """Prepare a dataset and train a tiny model on it; return (data_dir, run_dir)."""
    data, run = str(tmp / "data"), str(tmp / "run")
    prepare_cli(*prepare_argv, "--out", data)
    train_cli("--data", data, "--run", run, "--epochs", epochs, *TINY)
    return data, run


def run_hadoop_rnn(*args, env=None):
    """``python -m jobs.cli args...`` in a subprocess; the finished process (text output).

    It runs in a directory of its own: Hadoop's local framework links a job's files into its
    client's working directory, and keeps a link that is already there."""
    with tempfile.TemporaryDirectory(prefix="hadoop-rnn-cli-") as cwd:
        return subprocess.run([sys.executable, "-m", "jobs.cli", *map(str, args)], cwd=cwd,
                              env={**(os.environ if env is None else env), "PYTHONPATH": REPO},
                              capture_output=True, text=True, timeout=900)


def hadoop_rnn(*args, env=None):
    """:func:`run_hadoop_rnn`, which must succeed; the finished process."""
    done = run_hadoop_rnn(*args, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def start_cli(*args, env=None):
    """``python -m jobs.cli args...`` started in a subprocess (stdout and stderr piped, text)."""
    return subprocess.Popen([sys.executable, "-m", "jobs.cli", *map(str, args)], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": REPO, **(env or {})},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def signal_once_loaded(proc, library, signum):
    """Send ``signum`` to ``proc`` as soon as a shared object whose path contains ``library``
    (e.g. "/pandas/_libs/") is mapped into it: a moment inside that library's import."""
    maps = f"/proc/{proc.pid}/maps"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with open(maps) as f:
                if library in f.read():
                    proc.send_signal(signum)
                    return
        except OSError:
            pass
        time.sleep(0.001)
    raise AssertionError(f"{library} was never loaded (exit code {proc.poll()})")


# -- runs --------------------------------------------------------------------------------------

def load_run_state(run_dir, name=LATEST):
    """The TrainingState in the checkpoint ``name`` (latest.npz, best.npz, ckpt-000002.npz...)
    of a run directory: a local path or a store URI such as hdfs:///..."""
    return read_checkpoint(open_store(str(run_dir)), name)[0]


# -- the dev Hadoop cluster --------------------------------------------------------------------

def require_dev_cluster():
    """Skip the test unless the dev Hadoop cluster's environment is set; under CI=true, fail."""
    missing = [what for what, ok in [
        ("HADOOP_RNN_WEBHDFS_URL is not set", os.environ.get("HADOOP_RNN_WEBHDFS_URL")),
        ("no `hadoop` on PATH", shutil.which("hadoop"))] if not ok]
    if missing:
        msg = (f"Hadoop dev cluster not available ({'; '.join(missing)}); run "
               'eval "$(scripts/hadoop-dev-cluster start)" first')
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg, pytrace=False)
        pytest.skip(msg)


def shape_cluster_env(shape):
    """os.environ with the exports of the dev cluster started with ``start --<shape>``
    (kerberos, ha, no-webhdfs) in the state directory named by HADOOP_RNN_<SHAPE>_CLUSTER_DIR;
    skips the test when that variable is not set, fails when that cluster is not running."""
    var = f"HADOOP_RNN_{shape.upper().replace('-', '_')}_CLUSTER_DIR"
    if not os.environ.get(var):
        pytest.skip(f"no {shape} dev cluster: set {var} to the state directory of "
                    f"`scripts/hadoop-dev-cluster start --{shape}`")
    done = subprocess.run(
        ["bash", "-c", 'eval "$(scripts/hadoop-dev-cluster env)" && env -0'], cwd=REPO,
        env={**os.environ, "HADOOP_RNN_DEV_CLUSTER_DIR": os.environ[var]},
        capture_output=True, text=True)
    if done.returncode:
        pytest.fail(f"{var}={os.environ[var]}: {done.stderr.strip()}", pytrace=False)
    return dict(line.split("=", 1) for line in done.stdout.split("\0") if "=" in line)


def kinit(env, cache):
    """``env`` with the ticket cache ``cache`` (a path) holding the dev KDC's user rnn's ticket,
    from its keytab."""
    env = {**env, "KRB5CCNAME": f"FILE:{cache}"}
    keytab = os.path.join(env["HADOOP_RNN_DEV_CLUSTER_DIR"], "rnn.keytab")
    subprocess.run(["kinit", "-kt", keytab, "rnn"], env=env, check=True)
    return env


_HDFS_TREE = """
import sys
from jobs.storage import open_store
store = open_store(sys.argv[1])
for (root, _), dirs, files in store.client.walk(store.root, status=True):
    for name, status in dirs + files:
        print(root, name, status["length"], status["modificationTime"])
"""


def hdfs_tree(uri, env):
    """Sorted lines "directory name length modification-time" of everything under the
    hdfs:// ``uri``, listed by a subprocess with ``env`` (e.g. a shape cluster's)."""
    done = subprocess.run([sys.executable, "-c", _HDFS_TREE, str(uri)], check=True,
                          env={**env, "PYTHONPATH": REPO}, capture_output=True, text=True)
    return sorted(done.stdout.splitlines())


def hdfs_test_dir():
    """A generator for a fixture: yields a fresh HDFS directory as an hdfs:// URI, removes it
    when resumed (needs the dev cluster)."""
    require_dev_cluster()
    uri = f"hdfs:///tmp/hadoop-rnn-tests/{uuid.uuid4().hex}"
    store = open_store(uri)
    store.makedirs()
    yield uri
    store.client.delete(store.root, recursive=True)


def write_local_framework_conf(directory):
    """An mrjob.conf in ``directory`` that runs the hadoop runner's jobs in Hadoop's local
    framework; returns its path as a string."""
    path = Path(directory) / "mrjob-local-framework.conf"
    path.write_text(f"""include: {REPO}/conf/mrjob.conf
runners:
  hadoop:
    hadoop_tmp_dir: file://{directory}/hadoop-tmp
    jobconf:
      mapreduce.framework.name: local
""")
    return str(path)


def copy_to_store(local_dir, uri):
    """Copy a local directory tree (e.g. a dataset) to a store URI; return the store."""
    store = open_store(uri)
    for path in Path(local_dir).rglob("*"):
        if path.is_file():
            store.write_bytes(path.relative_to(local_dir).as_posix(), path.read_bytes())
    return store


# -- a cluster's configuration and NameNodes, made up for a test -------------------------------

# What a standby NameNode answers every WebHDFS request with
STANDBY = (403, {"RemoteException": {
    "exception": "StandbyException", "javaClassName": "org.apache.hadoop.ipc.StandbyException",
    "message": "Operation category READ is not supported in state standby"}})


def write_hadoop_conf(directory, core=None, hdfs=None):
    """A Hadoop client configuration directory: core-site.xml and hdfs-site.xml holding the
    properties of the dicts ``core`` and ``hdfs``; returns the directory as a string."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name, properties in [("core-site.xml", core or {}), ("hdfs-site.xml", hdfs or {})]:
        lines = [f"  <property><name>{escape(k)}</name><value>{escape(v)}</value></property>"
                 for k, v in properties.items()]
        (directory / name).write_text("<?xml version=\"1.0\"?>\n<configuration>\n"
                                      + "\n".join(lines) + "\n</configuration>\n")
    return str(directory)


@contextlib.contextmanager
def fake_namenode(status, body):
    """An HTTP server on a free local port answering every request with ``status`` and the
    JSON ``body`` (e.g. ``*STANDBY``); yields (its base URL, the request lines it got)."""
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def answer(self):
            received.append(self.requestline)
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = do_DELETE = answer

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def unused_port():
    """A local TCP port that nothing listens on (connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


STATIONS = {"north": 0.0, "south": 1.0, "east-2": 2.0}   # a panel: the phase of each station
DAYS = 120


def station_values(name):
    """Daily values of one station: a seasonal wave with noise, (DAYS,)."""
    rng = np.random.default_rng(len(name))
    t = np.arange(DAYS)
    return 10 + 5 * np.sin(t / 9 + STATIONS[name]) + rng.standard_normal(DAYS)


def write_station_table(directory):
    """The stations' rows shuffled into two Parquet files (station, day as a date, temp) in
    ``directory``; returns it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [(name, np.datetime64("2026-01-01") + np.timedelta64(day, "D"), value)
            for name in STATIONS
            for day, value in enumerate(station_values(name))]
    order = np.random.default_rng(0).permutation(len(rows))
    directory = Path(directory)
    directory.mkdir(parents=True)
    for part, idx in enumerate(np.array_split(order, 2)):
        pq.write_table(pa.table({"station": [rows[i][0] for i in idx],
                                 "day": pa.array(np.array([rows[i][1] for i in idx],
                                                          "datetime64[D]"), pa.date32()),
                                 "temp": [float(rows[i][2]) for i in idx]}),
                       directory / f"part-{part}.parquet")
    return directory


def network_lost(load_run):
    """``load_run`` (a function that returns (state, dataset)) whose runs read as if their
    network lost to its base on validation in every epoch (loss 1.0 against the base's 0.5)."""
    from dataclasses import replace

    def losing(*args, **kwargs):
        state, dataset = load_run(*args, **kwargs)
        history = [{**h, "valid_loss": 1.0, "valid_base_loss": 0.5} for h in state.history]
        return replace(state, history=history), dataset
    return losing


# -- another CPU's float kernels ---------------------------------------------------------------

def cpu_flags():
    """The CPU's feature flags (/proc/cpuinfo: "avx2", "avx512f", ...); empty where there is
    no /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return next((line for line in f if line.startswith("flags")), "").split()
    except OSError:
        return []


def float_kernels():
    """The newest x86 vector instruction set of this CPU, which numpy's SIMD loops and
    OpenBLAS's kernels (both chosen by CPU) use: "avx512f", "avx2", or None for another CPU
    (none of them, or not x86); figures to the last bit are recorded per set, as measured on
    an Intel Xeon (AVX-512) and an AMD EPYC (AVX2): a CPU whose OpenBLAS picks other kernels
    for the same set could differ."""
    flags = cpu_flags()
    return next((name for name in ("avx512f", "avx2") if name in flags), None)


def another_cpus_kernels():
    """Environment variables under which numpy, in a new process, computes as on a CPU one
    generation older than this one (an AVX2 CPU here if this one has AVX-512, else an AVX
    one): OpenBLAS's kernels for it (OPENBLAS_CORETYPE) and numpy's own SIMD loops without
    the newer instructions (NPY_DISABLE_CPU_FEATURES). Skips the test where neither can be
    simulated (no /proc/cpuinfo, no AVX2, a numpy without OpenBLAS)."""
    flags = cpu_flags()
    blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
    if "avx2" not in flags or "openblas" not in blas.lower():
        pytest.skip(f"cannot simulate another CPU's kernels here (CPU flags: {len(flags)}, "
                    f"BLAS: {blas}): it needs an x86 CPU with AVX2 and numpy's OpenBLAS")
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__
    except ImportError:  # numpy 1
        from numpy.core._multiarray_umath import __cpu_dispatch__
    newer = ("AVX512", "X86_V4") if "avx512f" in flags else ("AVX512", "X86_V4", "X86_V3", "AVX2",
                                                               "FMA3")
    return {"OPENBLAS_CORETYPE": "Haswell" if "avx512f" in flags else "Sandybridge",
            "NPY_DISABLE_CPU_FEATURES": " ".join(t for t in __cpu_dispatch__
                                                 if t.startswith(newer))}


def slow_set(in_ci):
    """The marks of a test case in the slow set (pytest.ini): marked ``slow`` and skipped
    unless HADOOP_RNN_SLOW_TESTS=1; ``in_ci`` says what covers it in CI."""
    return [pytest.mark.slow,
            pytest.mark.skipif(os.environ.get("HADOOP_RNN_SLOW_TESTS") != "1",
                               reason=f"slow: set HADOOP_RNN_SLOW_TESTS=1; in CI, {in_ci}")]
