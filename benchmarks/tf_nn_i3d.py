"""The baseline users would otherwise run: DeepMind's I3D written directly
with `tf.nn` ops in a `tf.function`, reading its weights from a Keras
`emokeras.backbones.I3D` so that both compute the same function (checked in
tests/test_benchmarks.py)."""

import numpy as np
import tensorflow as tf

from emokeras.backbones.conv_bn_relu import BATCH_NORM_EPSILON
from emokeras.backbones.inception_v1_trunk import INCEPTION_V1_SPEC


def _unit(layer):
    """Kernel and the batch norm folded to scale / shift, as constants."""
    bn = layer.batch_norm
    scale = 1.0 / np.sqrt(np.asarray(bn.moving_variance) + BATCH_NORM_EPSILON)
    shift = np.asarray(bn.beta) - np.asarray(bn.moving_mean) * scale
    return tf.constant(np.asarray(layer.conv.kernel)), tf.constant(scale), tf.constant(shift), layer.strides


def _conv_bn_relu(x, unit):
    kernel, scale, shift, strides = unit
    strides = (strides,) * 3 if isinstance(strides, int) else tuple(strides)
    y = tf.nn.conv3d(x, kernel, (1, *strides, 1), "SAME")
    return tf.nn.relu(y * scale + shift)


def _max_pool(x, size, strides):
    return tf.nn.max_pool3d(x, (1, *size, 1), (1, *strides, 1), "SAME")


def tf_nn_i3d(keras_i3d):
    """A `tf.function` `clips (batch, T, H, W, 3) -> (batch, 1024)` pooled
    Mixed_5c features, the same computation as `keras_i3d` (built with
    `include_top=False`) in inference mode."""
    plan = []
    for name, kind, arguments in INCEPTION_V1_SPEC:
        layer = keras_i3d.get_layer(name)
        if kind == "conv":
            plan.append(("conv", _unit(layer)))
        elif kind == "pool":
            plan.append(("pool", arguments))
        else:
            branches = [[_unit(unit) if hasattr(unit, "conv") else None for unit in branch] for branch in layer.branches]
            plan.append(("inception", branches))

    @tf.function(jit_compile=False, reduce_retracing=True)
    def features(clips):
        x = clips
        for kind, value in plan:
            if kind == "conv":
                x = _conv_bn_relu(x, value)
            elif kind == "pool":
                x = _max_pool(x, *value)
            else:
                (b0,), (b1a, b1b), (b2a, b2b), (_, b3) = value
                x = tf.concat(
                    [
                        _conv_bn_relu(x, b0),
                        _conv_bn_relu(_conv_bn_relu(x, b1a), b1b),
                        _conv_bn_relu(_conv_bn_relu(x, b2a), b2b),
                        _conv_bn_relu(_max_pool(x, (3, 3, 3), (1, 1, 1)), b3),
                    ],
                    axis=-1,
                )
        return tf.reduce_mean(x, axis=(1, 2, 3))

    return features


def i3d_flops(keras_i3d, frames, image_size):
    """FLOPs (2 x multiply-adds) of the convolutions of one clip, from the
    spec table with TensorFlow's SAME-padding shape arithmetic."""
    t, h, w, channels = frames, image_size, image_size, 3
    flops = 0

    def shrink(t, h, w, strides):
        return -(-t // strides[0]), -(-h // strides[1]), -(-w // strides[2])

    for name, kind, arguments in INCEPTION_V1_SPEC:
        layer = keras_i3d.get_layer(name)
        if kind == "conv":
            _, kernel, strides = arguments
            t, h, w = shrink(t, h, w, strides)
            flops += 2 * t * h * w * layer.filters * channels * int(np.prod(kernel))
            channels = layer.filters
        elif kind == "pool":
            t, h, w = shrink(t, h, w, arguments[1])
        else:
            b0, b1a, b1b, b2a, b2b, b3 = layer.filters
            for filters, kernel, inputs in (
                (b0, 1, channels), (b1a, 1, channels), (b1b, 27, b1a),
                (b2a, 1, channels), (b2b, 27, b2a), (b3, 1, channels),
            ):
                flops += 2 * t * h * w * filters * inputs * kernel
            channels = b0 + b1b + b2b + b3
    return flops
