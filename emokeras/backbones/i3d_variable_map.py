from emokeras.backbones.conv_bn_relu import ConvBNReLU
from emokeras.backbones.inception_module import InceptionModule
from emokeras.backbones.inception_v1_trunk import I3D_ENDPOINTS

DEEPMIND_RGB_PREFIX = "RGB/inception_i3d"

# DeepMind's checkpoints (and TF-Slim's Inception-v1 before them) name one
# unit differently from its twins in every other block.
DEEPMIND_SCOPE_QUIRKS = {
    "Mixed_5b/Branch_2/Conv3d_0b_3x3": "Mixed_5b/Branch_2/Conv3d_0a_3x3",
}


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
    variables = {}

    def add_unit(scope, unit):
        scope = f"{prefix}/{DEEPMIND_SCOPE_QUIRKS.get(scope, scope)}"
        variables[f"{scope}/conv_3d/w"] = unit.conv.kernel
        variables[f"{scope}/batch_norm/beta"] = unit.batch_norm.beta
        variables[f"{scope}/batch_norm/moving_mean"] = unit.batch_norm.moving_mean
        variables[f"{scope}/batch_norm/moving_variance"] = (
            unit.batch_norm.moving_variance
        )

    layer_names = {layer.name for layer in model.layers}
    for endpoint in I3D_ENDPOINTS:
        if endpoint not in layer_names:
            continue
        layer = model.get_layer(endpoint)
        if isinstance(layer, ConvBNReLU):
            add_unit(endpoint, layer)
        elif isinstance(layer, InceptionModule):
            for scope, unit in layer.units_by_scope().items():
                add_unit(f"{endpoint}/{scope}", unit)
    if "Logits_Conv3d_0c_1x1" in layer_names:
        logits = model.get_layer("Logits_Conv3d_0c_1x1")
        variables[f"{prefix}/Logits/Conv3d_0c_1x1/conv_3d/w"] = logits.kernel
        variables[f"{prefix}/Logits/Conv3d_0c_1x1/conv_3d/b"] = logits.bias
    return variables
