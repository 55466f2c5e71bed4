"""Datasets: record format, chunks, minibatches, corpus and series input."""
