"""hadoop-rnn: distributed BPTT training of RNN, LSTM and GRU models as Hadoop Streaming jobs."""
from setuptools import find_packages, setup

setup(
    name="hadoop-rnn",
    version="0.1.0",
    description="Train recurrent neural networks (RNN, LSTM, GRU) by BPTT as Hadoop Streaming jobs",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    packages=find_packages(include=["rnn_core", "rnn_core.*", "jobs", "jobs.*"]),
    package_data={"jobs": ["data/*"]},
    python_requires=">=3.9,<3.14",
    install_requires=[
        "numpy>=1.22",
        "mrjob>=0.7.4",
        "pyarrow>=10",
        "hdfs>=2.7",
        # mrjob 0.7.4 imports distutils, which Python 3.12 no longer ships; setuptools provides it.
        "setuptools",
        # ... and pipes, which Python 3.13 no longer ships; the "dead battery" package provides it.
        'standard-pipes; python_version >= "3.13"',
        # evaluate's ETS baseline (rnn_core.smoothing); the driver imports it, map tasks never
        "statsmodels>=0.13",
    ],
    extras_require={
        "test": ["pytest>=7", "pytest-xdist>=3"],
        # WebHDFS over SPNEGO on a Kerberos cluster (jobs/hadoop/kerberos.py); gssapi builds
        # against MIT Kerberos (Debian: apt-get install libkrb5-dev)
        "kerberos": ["requests-gssapi>=1.2"],
        "plot": ["matplotlib>=3.5"],
        "mutation": ["mutmut==3.8.1"],
        # scripts/benchmark_series.py converts R's datasets (pickled pandas frames) once
        "examples": ["pandas>=1.3"],
    },
    entry_points={"console_scripts": ["hadoop-rnn=jobs.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3.9",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    ],
)
