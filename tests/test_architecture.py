"""The import rules of docs/architecture.md: who may import whom, and no cycles."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package (or module) -> the project packages/modules it may import (besides itself)
ALLOWED = {
    "rnn_core": set(),
    "jobs.storage": {"jobs.hadoop.cluster_conf", "jobs.hadoop.namenodes",
                     "jobs.hadoop.kerberos", "jobs.hadoop.fs_shell"},
    "jobs.hadoop.cluster_conf": set(),
    "jobs.hadoop.namenodes": {"jobs.hadoop.kerberos"},
    "jobs.hadoop.kerberos": set(),
    "jobs.hadoop.fs_shell": {"jobs.hadoop.namenodes"},
    "jobs.interrupts": set(),
    "jobs.data": {"rnn_core", "jobs.storage"},
    "jobs.run": {"rnn_core", "jobs.storage", "jobs.data"},
    "jobs.mr": {"rnn_core", "jobs.data", "jobs.run.state"},
    "jobs.hadoop.webhdfs": {"jobs.storage"},
    "jobs.hadoop.launch": {"rnn_core", "jobs.hadoop.webhdfs", "jobs.interrupts"},
    "jobs.hadoop.resources": {"jobs.hadoop.launch", "jobs.mr.slices"},
}
API = ("jobs.preparing", "jobs.training", "jobs.scoring", "jobs.generating", "jobs.plotting",
       "jobs.demo")


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_imports(path):
    """The project modules (rnn_core..., jobs...) that a source file imports, anywhere in it."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if n.split(".")[0] in ("rnn_core", "jobs")}


MODULES = {module_name(p): p for package in ("rnn_core", "jobs")
           for p in sorted((ROOT / package).rglob("*.py"))}


def within(name, prefix):
    return name == prefix or name.startswith(prefix + ".")


def owner(name):
    """The ALLOWED key that governs module ``name`` (None: not restricted)."""
    return next((key for key in sorted(ALLOWED, key=len, reverse=True) if within(name, key)), None)


@pytest.mark.parametrize("name", sorted(n for n in MODULES if owner(n)))
def test_lower_layers_import_only_what_they_may(name):
    key = owner(name)
    allowed = ALLOWED[key] | {key}
    wrong = sorted(i for i in project_imports(MODULES[name])
                   if i in MODULES or i.rsplit(".", 1)[0] in MODULES
                   if not any(within(i, a) or within(i.rsplit(".", 1)[0], a) for a in allowed))
    assert wrong == [], f"{name} may import only {sorted(allowed)}"


@pytest.mark.parametrize("name", sorted(n for n in MODULES if not within(n, "jobs.commands")
                                        and n != "jobs.cli"))
def test_nothing_below_the_command_line_imports_it_or_argparse(name):
    source = MODULES[name].read_text(encoding="utf-8")
    imports = project_imports(MODULES[name])
    assert not any(within(i, "jobs.commands") or within(i, "jobs.cli") for i in imports)
    assert "import argparse" not in source


@pytest.mark.parametrize("name", sorted(n for n in MODULES if within(n, "jobs.commands")))
def test_command_modules_import_the_api_only_inside_main(name):
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    top = {node.module for node in tree.body if isinstance(node, ast.ImportFrom)}
    assert not top & set(API), "import the API inside main() so --help stays cheap"


def test_the_plot_commands_parser_does_not_load_mrjob():
    import subprocess
    import sys

    code = ("import sys; from jobs.cli import parse_args; "
            "parse_args(['plot', '--run', 'r', '--out', 'o.png']); print('mrjob' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_there_are_no_import_cycles():
    graph = {}
    for name, path in MODULES.items():
        targets = set()
        for i in project_imports(path):
            target = i if i in MODULES else i.rsplit(".", 1)[0]
            if target in MODULES and target != name:
                targets.add(target)
        graph[name] = targets
    visiting, done = [], set()

    def visit(node):
        if node in done:
            return
        assert node not in visiting, "import cycle: " + " -> ".join(
            visiting[visiting.index(node):] + [node])
        visiting.append(node)
        for target in sorted(graph[node]):
            visit(target)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)
