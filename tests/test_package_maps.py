"""The maps of the code stay true: each package's index names the modules it holds, and every
repository path and every test the documentation names exists."""
import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The packages whose __init__ docstring is an index: bullets ("* ") that start with the
# names of the package's modules and subpackages (``name.py``, ``name/`` or :mod:`pkg.name`),
# then say what they are.
INDEXED = ("jobs", "jobs.mr", "jobs.run", "jobs.data", "jobs.hadoop", "jobs.preparing",
           "jobs.training")
# Packages without an index, and why.
NOT_INDEXED = {
    "jobs.commands": "one module per hadoop-rnn subcommand: the parser lists them",
}

NAME = r"(?::mod:`(?P<mod>[\w.]+)`|``(?P<file>\w+)(?:\.py|/)``)"
LEADING_NAME = re.compile(NAME + r"(?:,\s*|\s+and\s+)?")

# A repository path: a top-level folder, then the rest; one followed by a template character
# (DIR/test_<name>.py, part-*.txt, {a,b}) is a pattern, not a path.
REPO_PATH = re.compile(r"(?<![\w./-])((?:jobs|rnn_core|scripts|tests|conf|docs|\.ci)/[\w/.-]*)"
                       r"(?![\w/.-]*[*<{\[])")
# A module path relative to jobs/, as docs/architecture.md writes them (`mr/slices.py`).
JOBS_PATH = re.compile(r"(?<![\w./-])((?:commands|preparing|training|hadoop|mr|data|run)"
                       r"/\w+\.py)\b")
DOCS = ("README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")))

# A test named in the docs: test_name, tests/test_file.py::test_name, or a prefix (test_name_...).
# One inside a path (tests/test_core_*.py) is left to the repository paths' test.
TEST_NAME = re.compile(r"(?:tests/(?P<file>test_\w+\.py)::)?(?<![\w/])(?P<name>test_\w+)"
                       r"(?P<prefix>\.\.\.)?")
# Words that look like test names but are none, and what they are.
NOT_TESTS = {"test_NAME": "a placeholder in docs/testing.md's commands",
             "test_fraction": "a key of a dataset's meta.json"}


def index_names(package):
    """The module and subpackage names that the index in ``package``'s docstring starts its
    bullets with."""
    init = ROOT.joinpath(*package.split("."), "__init__.py")
    docstring = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
    bullets = re.split(r"\n(?=\* )", "\n" + docstring)[1:]
    names = set()
    for bullet in bullets:
        text, position = " ".join(bullet[2:].split()), 0
        while match := LEADING_NAME.match(text, position):
            if match["mod"]:
                parent, _, name = match["mod"].rpartition(".")
                assert parent == package, f"{package}'s index names {match['mod']}"
                names.add(name)
            else:
                names.add(match["file"])
            position = match.end()
    return names


def modules_on_disk(package):
    """The modules (``*.py`` but ``__init__.py``) and subpackages of ``package``."""
    folder = ROOT.joinpath(*package.split("."))
    return ({p.stem for p in folder.glob("*.py") if p.name != "__init__.py"}
            | {p.name for p in folder.iterdir() if (p / "__init__.py").is_file()})


def documented_paths():
    """(document, line number, path) of every repository path named in the docs."""
    for doc in DOCS:
        lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            for match in REPO_PATH.finditer(line):
                yield doc, number, match[1].rstrip(".")
            for match in JOBS_PATH.finditer(line):
                yield doc, number, "jobs/" + match[1]


@pytest.mark.parametrize("package", INDEXED)
def test_package_index_names_exactly_the_modules_and_subpackages_it_holds(package):
    named, held = index_names(package), modules_on_disk(package)
    assert {"not on disk": named - held, "not in the index": held - named} == {
        "not on disk": set(), "not in the index": set()}


def test_every_jobs_package_has_an_index_or_a_reason_not_to():
    packages = {".".join(p.parent.relative_to(ROOT).parts)
                for p in (ROOT / "jobs").rglob("__init__.py")}
    assert packages - set(INDEXED) - set(NOT_INDEXED) == set()


def test_every_repository_path_named_in_the_docs_exists():
    missing = [f"{doc}:{number}: {path}" for doc, number, path in documented_paths()
               if not (ROOT / path).exists()]
    assert missing == []


def defined_tests(path):
    """The names of the test functions defined in the test file ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {node.name for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_test_named_in_the_docs_exists():
    by_file = {path.name: defined_tests(path) for path in (ROOT / "tests").glob("test_*.py")}
    known = set().union(*by_file.values()) | {Path(name).stem for name in by_file}
    missing = []
    for doc in DOCS:
        lines = (ROOT / doc).read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines, 1):
            for match in TEST_NAME.finditer(line):
                name = match["name"]
                names = by_file.get(match["file"], set()) if match["file"] else known
                if name in NOT_TESTS or (name in names if not match["prefix"] else
                                         any(n.startswith(name) for n in names)):
                    continue
                missing.append(f"{doc}:{number}: {match[0]}")
    assert missing == []
