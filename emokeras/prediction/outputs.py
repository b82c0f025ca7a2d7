"""Prediction outputs: the per-frame CSV and the plots, written atomically."""

import csv
import pathlib

import numpy as np

from emokeras.atomic_write import atomic_path


def write_predictions_csv(path, times, predictions, truth=None):
    """`time,<target>...[,<target>_true...]`, written atomically."""
    path = pathlib.Path(path)
    targets = sorted(predictions)
    truth = truth or {}
    with atomic_path(path) as temporary, open(temporary, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["time"] + targets + [f"{t}_true" for t in targets if t in truth])
        for index, time in enumerate(times):
            row = [f"{time:.4f}"] + [f"{predictions[t][index]:.5f}" for t in targets]
            row += [
                "" if index >= len(truth[t]) or np.isnan(truth[t][index]) else f"{truth[t][index]:.5f}"
                for t in targets
                if t in truth
            ]
            writer.writerow(row)
    return path


def plot_predictions(path, times, predictions, truth=None, title=None):
    """One panel per target: the prediction over time, and the ground truth
    (dashed) when given, like the paper's Fig. 4. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    targets = sorted(predictions)
    figure, axes = plt.subplots(len(targets), 1, figsize=(10, 2.6 * len(targets)), sharex=True, squeeze=False)
    for axis, target in zip(axes[:, 0], targets):
        axis.plot(times, predictions[target], label="prediction", color="tab:blue")
        if truth and target in truth:
            count = min(len(times), len(truth[target]))
            axis.plot(times[:count], truth[target][:count], "--", label="ground truth", color="tab:orange")
        axis.set_ylabel(target)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper right")
    axes[-1, 0].set_xlabel("time (s)")
    return save_figure(figure, path, title)


def plot_attention_maps(path, audio_map, visual_map, title=None):
    """Heat maps of `A_a` and `A_v` (each `(L, L)`, e.g. the mean over a
    video's windows), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    figure, axes = plt.subplots(1, 2, figsize=(9, 4))
    for axis, values, name in zip(axes, (audio_map, visual_map), ("A_a (audio)", "A_v (visual)")):
        image = axis.imshow(values, cmap="viridis", vmin=0.0, origin="upper")
        axis.set_title(name)
        axis.set_xlabel("attending clip j")
        axis.set_ylabel("attended clip i")
        figure.colorbar(image, ax=axis, fraction=0.046)
    return save_figure(figure, path, title)


def save_figure(figure, path, title=None):
    """Titles, lays out and writes a matplotlib figure atomically (the format
    from `path`'s suffix)."""
    import matplotlib.pyplot as plt

    if title:
        figure.suptitle(title)
    figure.tight_layout()
    try:
        with atomic_path(path, keep_suffix=True) as temporary:
            figure.savefig(temporary, dpi=100)
    finally:
        plt.close(figure)
    return path
