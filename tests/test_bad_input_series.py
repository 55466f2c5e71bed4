"""Bad series tables, and inputs with directories inside: what `prepare` does with each.

Each test is one case of input that has no single reading (a row without a series, two values
at one time, an infinity, ...): `prepare` refuses it with a one-line error naming the file and
row (or the files) that show it, before anything is written; nothing is guessed and nothing
dropped without a word. docs/operations.md names the tests that back each guarantee.
"""
import pytest
from helpers import prepare_cli, siblings

from jobs.cli import main as cli_main
from jobs.data import corpus
from jobs.data.dataset import Dataset
from jobs.data.series_io import denormalize
from jobs.generating import dataset_series


def table(tmp_path, name, *lines):
    """A CSV file of ``lines`` in tmp/name; returns its path."""
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def refused(tmp_path, capsys, *argv):
    """``hadoop-rnn prepare argv... --out tmp/ds``, which must fail with a one-line error and
    leave no dataset and no staging directory; returns the error."""
    out = tmp_path / "ds"
    assert cli_main(["prepare", *map(str, argv), "--out", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hadoop-rnn prepare: error: "), lines
    assert not out.exists() and siblings(str(out)) == []
    return lines[0]


def refused_series(tmp_path, capsys, *argv):
    return refused(tmp_path, capsys, "--kind", "series", "--column", "v", "--chunk", 2,
                   "--context", 0, "--valid", 0, *argv)


@pytest.mark.parametrize("ids", [["a", "a", "", "b", "b"], [1, 1, "", 2, 2]],
                         ids=["text ids", "number ids"])
def test_a_row_without_an_id_is_an_error_naming_the_file_and_row(tmp_path, capsys, ids):
    path = table(tmp_path, "t.csv", "site,t,v", *(f"{i},{t},{t}" for t, i in enumerate(ids)))
    err = refused_series(tmp_path, capsys, path, "--id", "site", "--time", "t")
    assert err.endswith(f"{path}: id column 'site' has 1 empty value(s), the first in row 3 "
                        "(line 4)")


def test_two_rows_of_a_series_at_one_time_are_an_error_naming_the_series_time_and_rows(
        tmp_path, capsys):
    path = table(tmp_path, "t.csv", "site,t,v", "a,1,1", "b,2,5", "a,2,2", "a,2,9", "a,3,3")
    err = refused_series(tmp_path, capsys, path, "--id", "site", "--time", "t")
    assert err.endswith(f"series 'a' in {path}: two rows at time 2: row 3 (line 4) and "
                        "row 4 (line 5)")


def test_rows_of_a_series_at_one_time_in_two_files_are_an_error_naming_both_files(
        tmp_path, capsys):
    first = table(tmp_path, "p1.csv", "site,t,v", "a,2026-03-01,1", "a,2026-03-02,2")
    second = table(tmp_path, "p2.csv", "site,t,v", "b,2026-03-01,5", "a,2026-03-02,2")
    err = refused_series(tmp_path, capsys, first, second, "--id", "site", "--time", "t")
    assert err.endswith(f"series 'a': two rows at time 2026-03-02: in {first} and in {second}")


@pytest.mark.parametrize("value", ["inf", "-inf", "1e400"])
def test_an_infinite_value_is_an_error_naming_the_row_not_a_missing_value(tmp_path, capsys,
                                                                         value):
    path = table(tmp_path, "t.csv", "t,v", "1,1", f"2,{value}", "3,", "4,4")
    err = refused_series(tmp_path, capsys, path, "--time", "t")
    assert f"{path}: column 'v', row 2 (line 3): " in err and "not a finite number" in err


@pytest.mark.parametrize("kind", ["text", "series"])
def test_a_directory_inside_an_input_directory_is_an_error_naming_it(tmp_path, capsys, kind):
    table(tmp_path, "in/a.csv", "t,v", "1,1", "2,2", "3,3")
    table(tmp_path, "in/2026/b.csv", "t,v", "1,5", "2,6", "3,7")
    (tmp_path / "in" / ".cache").mkdir()  # hidden, as hidden files are: skipped
    err = refused(tmp_path, capsys, "--kind", kind, tmp_path / "in", "--column", "v")
    assert f"{tmp_path / 'in' / '2026'} is a directory: inputs are read one level deep" in err


class HdfsDirectory:
    """A stand-in for the store of an HDFS input directory, as the input listing sees it."""

    def __init__(self, uri):
        self.root = uri

    def uri(self, name=""):
        return f"{self.root}/{name}" if name else self.root

    def exists(self):
        return True

    def is_dir(self):
        return True

    def files(self):
        return {"part-0.csv": 10, "_SUCCESS": 0}

    def directories(self):
        return ["2026", "_temporary"]  # a partition, and a running job's (hidden): skipped


@pytest.mark.parametrize("item", ["hdfs:///raw", "hdfs:///raw/*"])
def test_a_directory_inside_an_hdfs_input_directory_is_an_error_as_on_a_local_disk(
        monkeypatch, item):
    monkeypatch.setattr(corpus, "open_store", HdfsDirectory)
    with pytest.raises(corpus.CorpusError, match=r"^hdfs:///raw/2026 is a directory: "):
        corpus.expand_inputs([item])


def test_a_series_with_numbers_as_times_in_one_file_and_timestamps_in_another_is_an_error(
        tmp_path, capsys):
    first = table(tmp_path, "p1.csv", "site,t,v", "a,1,1", "a,2,2")
    second = table(tmp_path, "p2.csv", "site,t,v", "a,2026-03-01,3", "a,2026-03-02,4")
    err = refused_series(tmp_path, capsys, first, second, "--id", "site", "--time", "t")
    assert err.endswith(f"series 'a': time column 't' holds numbers in {first} and timestamps "
                        f"in {second}")


def test_a_column_named_twice_in_the_header_is_an_error_naming_it(tmp_path, capsys):
    path = table(tmp_path, "t.csv", "t,v,v", "1,1,5", "2,2,6", "3,3,7")
    err = refused_series(tmp_path, capsys, path)
    assert err.endswith(f"{path}: 2 columns are named 'v': which one is meant is ambiguous; "
                        "rename them")


def test_a_file_with_only_a_header_is_an_error_like_an_empty_file_even_among_others(
        tmp_path, capsys):
    rows = table(tmp_path, "a.csv", "site,v", "x,1", "x,2", "x,3")
    header = table(tmp_path, "b.csv", "site,v")
    err = refused_series(tmp_path, capsys, rows, header, "--id", "site")
    assert err.endswith(f"{header}: no data rows")


def test_without_a_time_column_a_series_over_two_files_keeps_file_and_row_order(tmp_path):
    first = table(tmp_path, "p1.csv", "site,v", "a,1", "b,10", "a,2", "b,20")
    second = table(tmp_path, "p2.csv", "site,v", "a,3", "b,30", "a,4")
    prepare_cli("--kind", "series", first, second, "--column", "v", "--id", "site",
                "--chunk", 2, "--context", 0, "--valid", 0, "--out", tmp_path / "ds")
    dataset = Dataset(str(tmp_path / "ds"))

    def restored(site):
        values, norm, _ = dataset_series(dataset, site)
        return list(denormalize(values, norm)[:, 0].round(9))

    assert restored("a") == [1, 2, 3, 4] and restored("b") == [10, 20, 30]
