"""Benchmarks and the data sets they run on (see bench/README.md)."""
