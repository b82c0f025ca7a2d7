"""`keras.callbacks.BackupAndRestore` whose backups survive SIGKILL."""

import json
import os
import pathlib

import keras
import numpy as np

from emokeras.atomic_write import atomic_path
from emokeras.atomic_write import remove_stale_temporaries
from emokeras.atomic_write import write_json_atomically

STATE_FILE = "state.json"


def backed_up_epoch(backup_dir):
    """Epochs finished by the run backed up in `backup_dir` (0 if none), so
    the caller can build the data of the remaining epochs before `fit`."""
    state = pathlib.Path(backup_dir) / STATE_FILE
    return json.loads(state.read_text())["epoch"] if state.exists() else 0


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Backs up weights and optimizer state at the end of every epoch, so
    that rerunning a killed `fit` continues from the last finished epoch.

    Keras' own callback overwrites `latest.weights.h5` in place and writes
    the epoch number in a second file: a kill during either write leaves a
    torn file or weights that disagree with their epoch. Here every backup
    goes to a new `epoch-<N>.weights.h5` (temporary name, then rename) and
    only then does `state.json` (also renamed into place) point to it; the
    previous backup is deleted last. A kill at any instant leaves one
    complete, consistent backup.

    Args:
        backup_dir: where the backups are written.
        delete_checkpoint: delete `backup_dir` when `fit` ends normally.
        restore_from: where a resumed run reads its backup (default:
            `backup_dir`); in multi-worker training every worker restores
            the chief's backup, while the others write theirs apart.
    """

    def __init__(self, backup_dir, delete_checkpoint=False, restore_from=None):
        super().__init__(os.fspath(backup_dir), save_freq="epoch", delete_checkpoint=delete_checkpoint)
        self._directory = pathlib.Path(backup_dir)
        self._restore_from = pathlib.Path(restore_from or backup_dir)

    def _load_model(self):
        # What a killed run was writing is of no use; a resumed run starts clean.
        remove_stale_temporaries(self._directory)
        state_file = self._restore_from / STATE_FILE
        if not state_file.exists():
            return
        state = json.loads(state_file.read_text())
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)
        self.model.load_weights(self._restore_from / state["weights"])
        generators = _seed_generators(self.model)
        for generator, value in zip(generators, state.get("seed_generators", [])):
            generator.state.assign(np.asarray(value, generator.state.dtype))
        self.model._initial_epoch = state["epoch"]

    def _save_model(self):
        self._directory.mkdir(parents=True, exist_ok=True)
        state_file = self._directory / STATE_FILE
        previous = json.loads(state_file.read_text())["weights"] if state_file.exists() else None
        name = f"epoch-{self._current_epoch}.weights.h5"
        with atomic_path(self._directory / name, keep_suffix=True) as temporary:
            self.model.save_weights(temporary, overwrite=True)
        # `save_weights` leaves out the dropout layers' random state; without
        # it a resumed run would draw other dropout masks.
        seeds = [np.asarray(g.state.value).tolist() for g in _seed_generators(self.model)]
        write_json_atomically(state_file, {"epoch": self._current_epoch, "weights": name, "seed_generators": seeds})
        if previous and previous != name:
            (self._directory / previous).unlink(missing_ok=True)


def _seed_generators(model):
    """Every `SeedGenerator` of the model's layers, in a fixed order."""
    generators = []
    for layer in model._flatten_layers(include_self=True, recursive=True):
        generators.extend(getattr(layer, "_seed_generators", []))
    return generators
