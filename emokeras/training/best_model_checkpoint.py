"""Keeps the model of the best epoch by mean validation CCC."""

import json
import math
import pathlib

import keras

from emokeras.atomic_write import save_model_atomically
from emokeras.atomic_write import write_json_atomically


class BestModelCheckpoint(keras.callbacks.Callback):
    """Saves the model (`.keras`) whenever the mean of `monitor` improves.

    Adds that mean to the epoch logs as `summary_name` (e.g. `val_ccc`), so
    the CSV log and TensorBoard show it. Saves are atomic (temporary file,
    then rename) and the best value so far is kept beside the model, so a
    resumed run does not overwrite a better model from before the crash.

    Args:
        filepath: the `.keras` file to keep.
        monitor: log keys to average, e.g. `["val_valence_ccc",
            "val_arousal_ccc"]`; larger is better.
        summary_name: the log key of their mean.
    """

    def __init__(self, filepath, monitor, summary_name="val_ccc"):
        super().__init__()
        self.filepath = pathlib.Path(filepath)
        self.monitor = list(monitor)
        self.summary_name = summary_name
        self._record = self.filepath.with_name(self.filepath.name + ".json")
        self.best = -math.inf

    def on_train_begin(self, logs=None):
        if self._record.exists() and self.filepath.exists():
            self.best = json.loads(self._record.read_text())["value"]

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        missing = [key for key in self.monitor if key not in logs]
        if missing:
            raise ValueError(
                f"BestModelCheckpoint monitors {missing}, which the epoch logs lack "
                f"(they have {sorted(logs)}); is there validation data?"
            )
        value = float(sum(float(logs[key]) for key in self.monitor) / len(self.monitor))
        logs[self.summary_name] = value
        if not value > self.best:
            return
        self.best = value
        save_model_atomically(self.model, self.filepath)
        write_json_atomically(self._record, {"epoch": epoch + 1, "value": value, "monitor": self.monitor})
