"""emokeras benchmarks: every figure is a ratio against a baseline measured
in the same run (these machines are shared and noisy). Run `python -m
benchmarks` (add `--quick` for the smoke run CI does)."""

import emokeras  # noqa: F401  (first: its TensorFlow settings apply to every benchmark)
