"""scripts/cpu_by_process.py: CPU seconds by where a process ran and what it was, from the
text of `dump-acct` (Linux process accounting)."""
import json
import subprocess
import sys

from helpers import REPO


def dump_line(command, cpu_ticks, elapsed_ticks, pid, ppid):
    """A `dump-acct` line: command|version|utime|stime|etime|uid|gid|mem|io|pid|ppid|..."""
    return (f"{command:<16}|v3|{cpu_ticks:9.2f}|{0:9.2f}|{elapsed_ticks:9.2f}|0|0|1.00|0.00|"
            f"{pid:8d}|{ppid:8d}|     |0|__|Mon Dec  7 03:24:02 2026\n")


def test_cpu_is_summed_by_the_long_lived_process_it_ran_under_and_by_kind(tmp_path):
    dump = tmp_path / "pacct.txt"
    dump.write_text("".join([
        dump_line("python", 26000, 70000, 10, 1),            # a pytest worker, 700 s
        dump_line("sh", 0, 50, 11, 10),
        dump_line("python", 50, 60, 12, 11),                 # a task under it
        dump_line("python", 70, 80, 13, 11),
        dump_line("Reference Handl", 300, 400, 14, 10),      # a hadoop JVM under it
        dump_line("chmod", 0, 1, 15, 14),
        dump_line("Common-Cleaner", 6800, 75000, 20, 1),     # a cluster JVM
        dump_line("bash", 10, 20, 21, 20),
        dump_line("java", 200, 900, 22, 21),                 # a container under it
        dump_line("python", 5, 5, 30, 99),                   # its parent never ended
    ]))
    done = subprocess.run([sys.executable, f"{REPO}/scripts/cpu_by_process.py", str(dump),
                           "--root-seconds", "600"], capture_output=True, text=True, check=True)
    split = {(line["where"], line["what"]): (line["processes"], line["cpu_seconds"])
             for line in map(json.loads, done.stdout.splitlines())}
    assert split == {("python (itself)", "python"): (1, 260.0),
                     ("under python", "python"): (2, 1.2),
                     ("under python", "jvm"): (1, 3.0),
                     ("under python", "tools"): (2, 0.0),
                     ("jvm (itself)", "jvm"): (1, 68.0),
                     ("under jvm", "tools"): (1, 0.1),
                     ("under jvm", "jvm"): (1, 2.0),
                     ("elsewhere", "python"): (1, 0.1)}


def test_a_missing_dump_is_a_one_line_error(tmp_path):
    done = subprocess.run([sys.executable, f"{REPO}/scripts/cpu_by_process.py",
                           str(tmp_path / "none.txt")], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.startswith("cpu_by_process:") and len(done.stderr.splitlines()) == 1
