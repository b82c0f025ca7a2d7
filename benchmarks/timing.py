"""Timing helpers shared by the benchmarks."""

import statistics
import time


def median_seconds(function, repeats=5, warmup=1):
    """Median wall time of `function()` over `repeats` runs after `warmup`."""
    for _ in range(warmup):
        function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def alternating_medians(functions, repeats):
    """Times the functions in turns (a, b, a, b, ...) so that drift of the
    machine hits each alike; returns their median seconds."""
    for function in functions:
        function()
    times = [[] for _ in functions]
    for _ in range(repeats):
        for index, function in enumerate(functions):
            start = time.perf_counter()
            function()
            times[index].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def print_table(title, rows):
    """Prints `rows` (dicts with the same keys) as a markdown table."""
    print(f"\n### {title}\n")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        cells = [_format(v) for v in row.values()]
        print("| " + " | ".join(cells) + " |")


def _format(value):
    if not isinstance(value, float):
        return str(value)
    return f"{value:.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def run_in_fresh_process(module, arguments, environment=None, timeout=1200):
    """Runs `python -m module *arguments` (a probe printing one JSON object
    on its last line) in a new process and returns that object: settings
    TensorFlow reads once at start-up, and peak memory, need their own
    process."""
    import json
    import os
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(environment or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{module} {' '.join(arguments)} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])
