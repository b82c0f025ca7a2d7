"""The baseline users would otherwise run: DeepMind's I3D written directly
with `tf.nn` ops in a `tf.function`, reading its weights from a Keras
`emokeras.backbones.I3D` so that both compute the same function (checked in
tests/test_benchmarks.py). Two versions: inference (batch norm folded to a
constant scale and shift) and a training step (batch statistics, moving
averages, gradients, plain SGD)."""

import numpy as np
import tensorflow as tf

from emokeras.backbones.conv_bn_relu import BATCH_NORM_EPSILON
from emokeras.backbones.conv_bn_relu import BATCH_NORM_MOMENTUM
from emokeras.backbones.inception_v1_trunk import INCEPTION_V1_SPEC


def _strides(layer):
    strides = layer.strides
    return (1, *((strides,) * 3 if isinstance(strides, int) else tuple(strides)), 1)


def _max_pool(x, size, strides, data_format="NDHWC"):
    if data_format == "NCDHW":
        return tf.nn.max_pool3d(x, (1, 1, *size), (1, 1, *strides), "SAME", data_format=data_format)
    return tf.nn.max_pool3d(x, (1, *size, 1), (1, *strides, 1), "SAME")


def _plan(keras_i3d, make_unit):
    """The network as a list of steps, each conv unit made by `make_unit(layer)`."""
    plan = []
    for name, kind, arguments in INCEPTION_V1_SPEC:
        layer = keras_i3d.get_layer(name)
        if kind == "conv":
            plan.append(("conv", make_unit(layer)))
        elif kind == "pool":
            plan.append(("pool", arguments))
        else:
            branches = [
                [make_unit(unit) if hasattr(unit, "conv") else None for unit in branch] for branch in layer.branches
            ]
            plan.append(("inception", branches))
    return plan


def _forward(plan, clips, unit_call, data_format="NDHWC"):
    """Pooled Mixed_5c features of `clips`, each unit run by `unit_call(x, unit)`."""
    x = clips
    channels = 1 if data_format == "NCDHW" else -1
    for kind, value in plan:
        if kind == "conv":
            x = unit_call(x, value)
        elif kind == "pool":
            x = _max_pool(x, *value, data_format)
        else:
            (b0,), (b1a, b1b), (b2a, b2b), (_, b3) = value
            x = tf.concat(
                [
                    unit_call(x, b0),
                    unit_call(unit_call(x, b1a), b1b),
                    unit_call(unit_call(x, b2a), b2b),
                    unit_call(_max_pool(x, (3, 3, 3), (1, 1, 1), data_format), b3),
                ],
                axis=channels,
            )
    spatial = (2, 3, 4) if data_format == "NCDHW" else (1, 2, 3)
    return tf.reduce_mean(x, axis=spatial)


def _folded_unit(layer):
    """Kernel and the batch norm folded to scale / shift, as constants."""
    bn = layer.batch_norm
    scale = 1.0 / np.sqrt(np.asarray(bn.moving_variance) + BATCH_NORM_EPSILON)
    shift = np.asarray(bn.beta) - np.asarray(bn.moving_mean) * scale
    return tf.constant(np.asarray(layer.conv.kernel)), tf.constant(scale), tf.constant(shift), _strides(layer)


def tf_nn_i3d(keras_i3d, data_format="NDHWC"):
    """A `tf.function` `clips (batch, T, H, W, 3) -> (batch, 1024)` pooled
    Mixed_5c features, the same computation as `keras_i3d` (built with
    `include_top=False`) in inference mode. `data_format="NCDHW"` runs the
    network channels-first (the clips are transposed once on the way in)."""
    plan = _plan(keras_i3d, _folded_unit)
    first = data_format == "NCDHW"

    def unit_call(x, unit):
        kernel, scale, shift, strides = unit
        if first:
            strides = (1, 1, *strides[1:4])
            scale, shift = tf.reshape(scale, (-1, 1, 1, 1)), tf.reshape(shift, (-1, 1, 1, 1))
        y = tf.nn.conv3d(x, kernel, strides, "SAME", data_format=data_format)
        return tf.nn.relu(y * scale + shift)

    @tf.function(jit_compile=False, reduce_retracing=True)
    def features(clips):
        if first:
            clips = tf.transpose(clips, (0, 4, 1, 2, 3))
        return _forward(plan, clips, unit_call, data_format)

    return features


class _TrainableUnit:
    """Copies of one unit's variables: kernel, beta, moving mean / variance."""

    def __init__(self, layer):
        bn = layer.batch_norm
        self.kernel = tf.Variable(np.asarray(layer.conv.kernel))
        self.beta = tf.Variable(np.asarray(bn.beta))
        self.moving_mean = tf.Variable(np.asarray(bn.moving_mean), trainable=False)
        self.moving_variance = tf.Variable(np.asarray(bn.moving_variance), trainable=False)
        self.strides = _strides(layer)


def _training_unit_call(x, unit):
    y = tf.nn.conv3d(x, unit.kernel, unit.strides, "SAME")
    mean, variance = tf.nn.moments(y, axes=(0, 1, 2, 3))
    unit.moving_mean.assign(unit.moving_mean * BATCH_NORM_MOMENTUM + mean * (1 - BATCH_NORM_MOMENTUM))
    unit.moving_variance.assign(unit.moving_variance * BATCH_NORM_MOMENTUM + variance * (1 - BATCH_NORM_MOMENTUM))
    return tf.nn.relu(tf.nn.batch_normalization(y, mean, variance, unit.beta, None, BATCH_NORM_EPSILON))


def tf_nn_i3d_training_step(keras_i3d, learning_rate):
    """A `tf.function` `clips -> loss` doing one SGD step on the mean squared
    pooled features, with batch statistics and moving-average updates: what
    `keras_i3d.compile(SGD(learning_rate), "mse"); train_on_batch(clips,
    zeros)` does, on copies of its variables. Returns `(step, variables,
    statistics)`: the copies in the order of `keras_i3d.trainable_variables`
    and of its `non_trainable_variables` (the moving statistics)."""
    copies = {}

    def make_unit(layer):
        unit = _TrainableUnit(layer)
        copies[id(layer.conv.kernel)] = unit.kernel
        copies[id(layer.batch_norm.beta)] = unit.beta
        copies[id(layer.batch_norm.moving_mean)] = unit.moving_mean
        copies[id(layer.batch_norm.moving_variance)] = unit.moving_variance
        return unit

    plan = _plan(keras_i3d, make_unit)
    variables = [copies[id(variable)] for variable in keras_i3d.trainable_variables]
    statistics = [copies[id(variable)] for variable in keras_i3d.non_trainable_variables]

    @tf.function(jit_compile=False, reduce_retracing=True)
    def step(clips):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(_forward(plan, clips, _training_unit_call)))
        for variable, gradient in zip(variables, tape.gradient(loss, variables)):
            variable.assign_sub(learning_rate * gradient)
        return loss

    return step, variables, statistics


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
                (b0, 1, channels),
                (b1a, 1, channels),
                (b1b, 27, b1a),
                (b2a, 1, channels),
                (b2b, 27, b2a),
                (b3, 1, channels),
            ):
                flops += 2 * t * h * w * filters * inputs * kernel
            channels = b0 + b1b + b2b + b3
    return flops
