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


def print_table(title, rows):
    """Prints `rows` (dicts with the same keys) as a markdown table."""
    print(f"\n### {title}\n")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in row.values()]
        print("| " + " | ".join(cells) + " |")
