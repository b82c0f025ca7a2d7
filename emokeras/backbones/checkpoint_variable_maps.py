"""Checkpoint variable names -> the variables of our Inception networks.

DeepMind's kinetics-i3d checkpoints and TF-Slim's Inception-v1 checkpoints
name every tensor by its scope; these maps tie each name to the matching
`keras.Variable`, so that loaders, converters and the inflation utility can
work by name.
"""

from emokeras.backbones.conv_bn_relu import ConvBNReLU
from emokeras.backbones.inception_module import InceptionModule
from emokeras.backbones.inception_v1_trunk import I3D_ENDPOINTS
from emokeras.backbones.inception_v1_trunk import endpoint_name

DEEPMIND_RGB_PREFIX = "RGB/inception_i3d"
SLIM_INCEPTION_V1_PREFIX = "InceptionV1"

# TF-Slim's Inception-v1 (and DeepMind's I3D after it) name one unit
# differently from its twins in every other block.
SCOPE_QUIRKS = {
    "Mixed_5b/Branch_2/Conv3d_0b_3x3": "Mixed_5b/Branch_2/Conv3d_0a_3x3",
    "Mixed_5b/Branch_2/Conv2d_0b_3x3": "Mixed_5b/Branch_2/Conv2d_0a_3x3",
}


def conv_units(model, rank):
    """Yields `(scope, unit)` for every `ConvBNReLU` of an Inception network,
    with checkpoint scopes such as `"Mixed_3b/Branch_1/Conv3d_0b_3x3"`."""
    layer_names = {layer.name for layer in model.layers}
    for i3d_name in I3D_ENDPOINTS:
        name = endpoint_name(i3d_name, rank)
        if name not in layer_names:
            continue
        layer = model.get_layer(name)
        if isinstance(layer, ConvBNReLU):
            yield name, layer
        elif isinstance(layer, InceptionModule):
            for scope, unit in layer.units_by_scope().items():
                yield f"{name}/{scope}", unit


def names_of_absent_layers(names, model, prefix, rank):
    """The checkpoint names (under `prefix`) of whole endpoints, or the
    classifier, that `model` does not have: it was cut with
    `final_endpoint` or built without its top. Loaders skip these."""
    present = {layer.name for layer in model.layers}
    absent = {endpoint_name(name, rank) for name in I3D_ENDPOINTS} - present
    if _logits_layer(model, rank) is None:
        absent.add("Logits")
    return [name for name in names if name.startswith(prefix + "/") and name[len(prefix) + 1 :].split("/")[0] in absent]


def _logits_layer(model, rank):
    name = f"Logits_Conv{rank}d_0c_1x1"
    if name in {layer.name for layer in model.layers}:
        return model.get_layer(name)
    return None


# Where each convention keeps a unit's tensors, relative to the unit's scope,
# and the classifier's.
_DEEPMIND_NAMES = {
    "kernel": "conv_3d/w",
    "beta": "batch_norm/beta",
    "moving_mean": "batch_norm/moving_mean",
    "moving_variance": "batch_norm/moving_variance",
    "logits_kernel": "Logits/Conv3d_0c_1x1/conv_3d/w",
    "logits_bias": "Logits/Conv3d_0c_1x1/conv_3d/b",
}
_SLIM_NAMES = {
    "kernel": "weights",
    "beta": "BatchNorm/beta",
    "moving_mean": "BatchNorm/moving_mean",
    "moving_variance": "BatchNorm/moving_variance",
    "logits_kernel": "Logits/Conv2d_0c_1x1/weights",
    "logits_bias": "Logits/Conv2d_0c_1x1/biases",
}


def _variable_map(model, rank, prefix, names):
    variables = {}
    for scope, unit in conv_units(model, rank):
        scope = f"{prefix}/{SCOPE_QUIRKS.get(scope, scope)}"
        variables[f"{scope}/{names['kernel']}"] = unit.conv.kernel
        for statistic in ("beta", "moving_mean", "moving_variance"):
            variables[f"{scope}/{names[statistic]}"] = getattr(unit.batch_norm, statistic)
    logits = _logits_layer(model, rank)
    if logits is not None:
        variables[f"{prefix}/{names['logits_kernel']}"] = logits.kernel
        variables[f"{prefix}/{names['logits_bias']}"] = logits.bias
    return variables


def i3d_variable_map(model, prefix=DEEPMIND_RGB_PREFIX):
    """Maps DeepMind's checkpoint variable names to the variables of an `I3D`.

    Args:
        model: an `emokeras.backbones.I3D` (any `final_endpoint`, with or
            without its top).
        prefix: the checkpoint's scope, `"RGB/inception_i3d"` for DeepMind's
            RGB checkpoints.

    Returns:
        A dict `{checkpoint name: keras.Variable}`, e.g.
        `"RGB/inception_i3d/Mixed_3b/Branch_1/Conv3d_0b_3x3/conv_3d/w"`, one
        entry per variable DeepMind stores for the layers the model has.
    """
    return _variable_map(model, 3, prefix, _DEEPMIND_NAMES)


def inception_v1_variable_map(model, prefix=SLIM_INCEPTION_V1_PREFIX):
    """Maps TF-Slim's `inception_v1` checkpoint names to an `InceptionV1`.

    Args:
        model: an `emokeras.backbones.InceptionV1`.
        prefix: the checkpoint's scope, `"InceptionV1"` in TF-Slim's
            published ImageNet checkpoint.

    Returns:
        A dict `{checkpoint name: keras.Variable}`, e.g.
        `"InceptionV1/Mixed_3b/Branch_1/Conv2d_0b_3x3/weights"` and
        `".../BatchNorm/moving_mean"`.
    """
    return _variable_map(model, 2, prefix, _SLIM_NAMES)
