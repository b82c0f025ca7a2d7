"""Inception-v1 (with batch norm) as a spec table, built in 2D or 3D.

One table drives both DeepMind's I3D and the per-frame 2D network it
inflates. Names are DeepMind's I3D endpoint names; the 2D network uses
TF-Slim's (`Conv3d_...` -> `Conv2d_...`, `MaxPool3d_...` -> `MaxPool_...`),
so every 2D layer has exactly one 3D twin. Kernel, pool and stride sizes are
written `(time, height, width)`; 2D drops the time entry.
"""

import keras

from emokeras.backbones.conv_bn_relu import ConvBNReLU
from emokeras.backbones.inception_module import InceptionModule

# (endpoint, kind, arguments). "conv": filters, kernel, strides;
# "pool": pool size, strides (TF "SAME" max pooling); "inception": the six
# branch filter counts of `InceptionModule`.
INCEPTION_V1_SPEC = (
    ("Conv3d_1a_7x7", "conv", (64, (7, 7, 7), (2, 2, 2))),
    ("MaxPool3d_2a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Conv3d_2b_1x1", "conv", (64, (1, 1, 1), (1, 1, 1))),
    ("Conv3d_2c_3x3", "conv", (192, (3, 3, 3), (1, 1, 1))),
    ("MaxPool3d_3a_3x3", "pool", ((1, 3, 3), (1, 2, 2))),
    ("Mixed_3b", "inception", (64, 96, 128, 16, 32, 32)),
    ("Mixed_3c", "inception", (128, 128, 192, 32, 96, 64)),
    ("MaxPool3d_4a_3x3", "pool", ((3, 3, 3), (2, 2, 2))),
    ("Mixed_4b", "inception", (192, 96, 208, 16, 48, 64)),
    ("Mixed_4c", "inception", (160, 112, 224, 24, 64, 64)),
    ("Mixed_4d", "inception", (128, 128, 256, 24, 64, 64)),
    ("Mixed_4e", "inception", (112, 144, 288, 32, 64, 64)),
    ("Mixed_4f", "inception", (256, 160, 320, 32, 128, 128)),
    ("MaxPool3d_5a_2x2", "pool", ((2, 2, 2), (2, 2, 2))),
    ("Mixed_5b", "inception", (256, 160, 320, 32, 128, 128)),
    ("Mixed_5c", "inception", (384, 192, 384, 48, 128, 128)),
)

I3D_ENDPOINTS = tuple(name for name, _, _ in INCEPTION_V1_SPEC)

# DeepMind's classifier: average pool (time 2, space 7), VALID, stride 1.
LOGITS_POOL_SIZE = (2, 7, 7)


def endpoint_name(i3d_name, rank):
    """The name of an I3D endpoint in the `rank`-D network."""
    if rank == 3:
        return i3d_name
    return i3d_name.replace("Conv3d", "Conv2d").replace("MaxPool3d", "MaxPool")


def scale_filters(filters, width_multiplier):
    """Channel count after `width_multiplier` (at least 1)."""
    return max(1, int(round(filters * width_multiplier)))


def check_final_endpoint(final_endpoint, rank, include_top):
    names = [endpoint_name(name, rank) for name in I3D_ENDPOINTS]
    if final_endpoint not in names:
        raise ValueError(f"Unknown final_endpoint={final_endpoint!r}. Allowed values: {', '.join(names)}")
    if include_top and final_endpoint != names[-1]:
        raise ValueError(
            "include_top=True needs the whole network, final_endpoint="
            f"{names[-1]!r}. Received: final_endpoint={final_endpoint!r}; "
            "pass include_top=False to cut the network earlier."
        )


def build_trunk(x, rank, final_endpoint, width_multiplier=1.0):
    """Applies the spec table to `x` up to and including `final_endpoint`."""
    for i3d_name, kind, arguments in INCEPTION_V1_SPEC:
        name = endpoint_name(i3d_name, rank)
        if kind == "conv":
            filters, kernel_size, strides = arguments
            x = ConvBNReLU(
                scale_filters(filters, width_multiplier),
                kernel_size[3 - rank :],
                strides=strides[3 - rank :],
                rank=rank,
                name=name,
            )(x)
        elif kind == "pool":
            pool_size, strides = arguments
            pool_class = keras.layers.MaxPooling3D if rank == 3 else keras.layers.MaxPooling2D
            x = pool_class(
                pool_size[3 - rank :],
                strides=strides[3 - rank :],
                padding="same",
                name=name,
            )(x)
        else:
            x = InceptionModule(
                [scale_filters(f, width_multiplier) for f in arguments],
                rank=rank,
                name=name,
            )(x)
        if name == final_endpoint:
            return x
    raise AssertionError("final_endpoint was checked by check_final_endpoint")


def build_classifier_top(x, rank, num_classes, dropout_rate, classifier_activation):
    """DeepMind's `Logits` block: average pool, dropout, 1x1 conv with bias,
    then the mean over the remaining positions (over time, for I3D)."""
    # The pool is (2, 7, 7) as DeepMind's, shrunk where the feature map is
    # smaller (short clips, 112 px), so that any valid input works.
    feature_shape = x.shape[1:-1]
    pool_size = tuple(
        standard if size is None else min(standard, size)
        for standard, size in zip(LOGITS_POOL_SIZE[3 - rank :], feature_shape)
    )
    if rank == 3:
        x = keras.layers.AveragePooling3D(pool_size, strides=1, name="Logits_AvgPool")(x)
        conv_class = keras.layers.Conv3D
        average = keras.layers.GlobalAveragePooling3D(name="Logits")
    else:
        x = keras.layers.AveragePooling2D(pool_size, strides=1, name="Logits_AvgPool")(x)
        conv_class = keras.layers.Conv2D
        average = keras.layers.GlobalAveragePooling2D(name="Logits")
    x = keras.layers.Dropout(dropout_rate, name="Logits_Dropout")(x)
    x = conv_class(num_classes, 1, use_bias=True, name=f"Logits_Conv{rank}d_0c_1x1")(x)
    x = average(x)
    if classifier_activation is not None:
        x = keras.layers.Activation(classifier_activation, dtype="float32", name="Predictions")(x)
    return x


def build_pooling(x, rank, pooling):
    """Global pooling of the feature map: None, "avg" or "max"."""
    if pooling is None:
        return x
    layers = {
        ("avg", 3): keras.layers.GlobalAveragePooling3D,
        ("max", 3): keras.layers.GlobalMaxPooling3D,
        ("avg", 2): keras.layers.GlobalAveragePooling2D,
        ("max", 2): keras.layers.GlobalMaxPooling2D,
    }
    if (pooling, rank) not in layers:
        raise ValueError(f"pooling must be None, 'avg' or 'max'. Received: pooling={pooling!r}")
    return layers[(pooling, rank)](name=f"{pooling}_pool")(x)


def build_inception_v1(
    inputs,
    rank,
    include_top,
    final_endpoint,
    pooling,
    num_classes,
    dropout_rate,
    classifier_activation,
    width_multiplier,
):
    """The whole network on `inputs`: trunk, then classifier top or pooling."""
    check_final_endpoint(final_endpoint, rank, include_top)
    x = build_trunk(inputs, rank, final_endpoint, width_multiplier)
    if include_top:
        return build_classifier_top(x, rank, num_classes, dropout_rate, classifier_activation)
    return build_pooling(x, rank, pooling)
