"""Benchmarks: ``python -m lutcore.bench.<name>``."""
