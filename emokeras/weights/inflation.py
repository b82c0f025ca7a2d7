"""ImageNet Inception-v1 -> I3D: loading TF-Slim checkpoints and inflating
2D weights to 3D (Carreira & Zisserman's "boring video" initialisation)."""

import os

import numpy as np

from emokeras.backbones.checkpoint_variable_maps import SLIM_INCEPTION_V1_PREFIX
from emokeras.backbones.checkpoint_variable_maps import conv_units
from emokeras.backbones.checkpoint_variable_maps import inception_v1_variable_map
from emokeras.backbones.checkpoint_variable_maps import names_of_absent_layers
from emokeras.weights.named_arrays import assign_named_arrays
from emokeras.weights.named_arrays import checkpoint_prefix
from emokeras.weights.named_arrays import read_tf_checkpoint


def load_inception_v1_weights(model, source, prefix=SLIM_INCEPTION_V1_PREFIX):
    """Loads a TF-Slim `inception_v1` checkpoint into an `InceptionV1`.

    TF-Slim's names map one for one (`InceptionV1/Mixed_3b/Branch_1/
    Conv2d_0b_3x3/weights`, `.../BatchNorm/moving_mean`, ...;
    `Logits/Conv2d_0c_1x1/weights` and `biases` for the 1001-class top).
    Variables outside `prefix` (e.g. `global_step`) and layers the model does
    not have are skipped; anything else that does not match is an error.

    Args:
        model: an `emokeras.backbones.InceptionV1`.
        source: the checkpoint prefix (e.g. `inception_v1.ckpt`), its
            `.index` file, or its folder.
        prefix: the network's scope in the checkpoint.

    Raises:
        ValueError: listing every missing, unexpected or mis-shaped variable.
    """
    checkpoint = checkpoint_prefix(source)
    if checkpoint is None:
        raise ValueError(
            f"{os.fspath(source)} is not a TF checkpoint (a prefix such as "
            "inception_v1.ckpt, its .index file, or its folder)"
        )
    arrays = read_tf_checkpoint(checkpoint)
    outside = [name for name in arrays if not name.startswith(prefix + "/")]
    ignored = outside + names_of_absent_layers(arrays, model, prefix, rank=2)
    assign_named_arrays(inception_v1_variable_map(model, prefix), arrays, source, ignored)


def inflate_2d_to_3d(source, target):
    """Copies a 2D `InceptionV1`'s weights into an `I3D`, inflated.

    Each 2D kernel `(H, W, Cin, Cout)` is repeated along time to the 3D
    kernel's temporal size `T` and divided by `T`; batch-norm parameters and
    statistics are copied. On a "boring" video (one frame repeated) the I3D
    then computes the 2D network's activations at every time step away from
    the clip's ends. The classifiers are inflated too when both models have
    one with the same number of classes.

    Args:
        source: an `emokeras.backbones.InceptionV1`.
        target: an `emokeras.backbones.I3D` with the same `width_multiplier`
            and `final_endpoint`.

    Raises:
        ValueError: the two networks do not match layer for layer.
    """
    target_units = dict(conv_units(target, rank=3))
    source_units = {scope.replace("Conv2d", "Conv3d"): unit for scope, unit in conv_units(source, rank=2)}
    if set(source_units) != set(target_units):
        raise ValueError(
            "inflate_2d_to_3d needs the same layers in both networks (same "
            "final_endpoint). Only in the 2D network: "
            f"{sorted(set(source_units) - set(target_units))}; only in I3D: "
            f"{sorted(set(target_units) - set(source_units))}"
        )
    for scope, unit_3d in target_units.items():
        unit_2d = source_units[scope]
        _inflate_kernel(unit_2d.conv.kernel, unit_3d.conv.kernel, scope)
        for name in ("beta", "moving_mean", "moving_variance"):
            getattr(unit_3d.batch_norm, name).assign(getattr(unit_2d.batch_norm, name))
    top_2d = {layer.name: layer for layer in source.layers}.get("Logits_Conv2d_0c_1x1")
    top_3d = {layer.name: layer for layer in target.layers}.get("Logits_Conv3d_0c_1x1")
    if top_2d is not None and top_3d is not None:
        _inflate_kernel(top_2d.kernel, top_3d.kernel, "Logits")
        top_3d.bias.assign(top_2d.bias)


def _inflate_kernel(kernel_2d, kernel_3d, scope):
    kernel_2d = np.asarray(kernel_2d)
    time = kernel_3d.shape[0]
    if tuple(kernel_3d.shape[1:]) != kernel_2d.shape:
        raise ValueError(
            f"{scope}: a 2D kernel {kernel_2d.shape} cannot inflate to "
            f"{tuple(kernel_3d.shape)}; build both networks with the same "
            "width_multiplier and num_classes"
        )
    kernel_3d.assign(np.repeat(kernel_2d[None], time, axis=0) / time)
