"""Reading checkpoints as `{name: array}` and assigning them to variables by
name, with errors that list every missing, unexpected or mis-shaped name."""

import os
import pathlib

import numpy as np


def is_pickle(path):
    """True for a file that looks like a pickle: protocol >= 2 starts with
    PROTO (0x80); protocols 0 and 1 start with any opcode and, like every
    pickle, end with STOP (`.`), which a TF checkpoint's index never does."""
    import pickletools

    path = pathlib.Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with open(path, "rb") as file:
        first = file.read(1)
        file.seek(-1, 2)
        last = file.read(1)
    return first == b"\x80" or (first.decode("latin-1") in pickletools.code2op and last == b".")


def checkpoint_prefix(source):
    """The TF checkpoint prefix for `source`: the prefix itself (`.../model.ckpt`),
    its `.index` file, or a directory holding one checkpoint. `None` if
    `source` is none of these."""
    import tensorflow as tf

    source = pathlib.Path(source)
    if source.suffix == ".index" and source.is_file():
        return str(source.with_suffix(""))
    if source.with_name(source.name + ".index").is_file():
        return str(source)
    if source.is_dir():
        latest = tf.train.latest_checkpoint(str(source))
        if latest:
            return latest
        indexes = sorted(source.glob("*.index"))
        if len(indexes) == 1:
            return str(indexes[0].with_suffix(""))
    return None


def read_tf_checkpoint(prefix):
    """All tensors of a TF checkpoint (TF1 or TF2 names) as `{name: array}`;
    no graph or Sonnet needed."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()}


def assign_named_arrays(variables, arrays, source, ignored_names=()):
    """Assigns `arrays[name]` to `variables[name]` for every name, all or nothing.

    Args:
        variables: `{name: keras.Variable}` the model needs.
        arrays: `{name: array}` read from `source`.
        source: what `arrays` came from, for error messages.
        ignored_names: names in `arrays` that the model is known not to use
            (e.g. the classifier of a checkpoint loaded without the top).

    Raises:
        ValueError: listing every variable the source lacks, every name it
            has that the model does not know, and every shape that differs.
            Nothing is assigned in that case.
    """
    ignored_names = set(ignored_names)
    missing = sorted(set(variables) - set(arrays))
    unexpected = sorted(set(arrays) - set(variables) - ignored_names)
    misshaped = sorted(
        f"{name}: source {tuple(np.shape(arrays[name]))}, model {tuple(variables[name].shape)}"
        for name in set(variables) & set(arrays)
        if tuple(np.shape(arrays[name])) != tuple(variables[name].shape)
    )
    if missing or unexpected or misshaped:
        parts = [f"Cannot load {os.fspath(source)} into this model:"]
        for title, names in (
            ("missing from the source", missing),
            ("in the source but not in the model", unexpected),
            ("shapes differ", misshaped),
        ):
            if names:
                parts.append(f"{len(names)} {title}:\n  " + "\n  ".join(names))
        parts.append(
            "Check that the source is an RGB I3D / Inception-v1 checkpoint and "
            "that the model matches it (num_classes, width_multiplier)."
        )
        raise ValueError("\n".join(parts))
    for name, variable in variables.items():
        variable.assign(np.asarray(arrays[name], dtype=variable.dtype))
