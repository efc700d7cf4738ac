"""Load benchmarks: each drives the real HTTP stack and compares with a baseline."""
