import keras

from emokeras.backbones.inception_v1_trunk import build_inception_v1


@keras.saving.register_keras_serializable(package="emokeras")
class I3D(keras.Model):
    """DeepMind's Inflated 3D ConvNet (InceptionI3d), RGB stream.

    Inception-v1 with batch norm, inflated to 3D (Carreira & Zisserman,
    CVPR 2017), layer for layer as DeepMind's `kinetics-i3d`: the same
    endpoint names (`Conv3d_1a_7x7` ... `Mixed_5c`, then `Logits`), TF "SAME"
    padding, batch norm without scale and epsilon 1e-3. The weight shapes
    match DeepMind's checkpoints one for one (see
    `emokeras.backbones.i3d_variable_map`).

    Args:
        include_top: add DeepMind's classifier (average pool, dropout, 1x1
            conv with bias, averaged over time): output `(batch, num_classes)`
            logits.
        final_endpoint: cut the network after this endpoint (one of
            `I3D_ENDPOINTS`); `include_top` needs `"Mixed_5c"`.
        pooling: without the top, `None` returns the feature map of
            `final_endpoint`, `"avg"` / `"max"` pool it globally (`"avg"`
            after `Mixed_5c` gives the 1024-d clip features).
        frames: frames per clip, or `None` for any number (>= 8 recommended).
        image_size: frame height and width in pixels (224 or 112 typical), or
            `None` for any size.
        num_classes: classes of the top (400 for Kinetics-400).
        dropout_rate: dropout before the classifier (DeepMind trained with
            keep probability 0.5; inference uses none).
        classifier_activation: `None` for logits (as DeepMind), or
            `"softmax"`.
        width_multiplier: scales every channel count; 1.0 is I3D. Smaller
            values give tiny networks for tests and quick experiments (no
            pretrained weights exist for them).
        weights: optional path to a `.weights.h5` file of this architecture
            (e.g. written by the weights converter).
        **kwargs: `name`, `trainable`.

    Call arguments:
        inputs: `(batch, frames, image_size, image_size, 3)` RGB in [-1, 1].
        training: whether batch norm and dropout run in training mode.

    Returns:
        Logits `(batch, num_classes)` with the top; otherwise the pooled
        features `(batch, 1024 * width_multiplier)` or the feature map.

    Example:

    >>> i3d = I3D(include_top=False, pooling="avg", frames=16, image_size=112)
    >>> tuple(i3d(keras.ops.zeros((1, 16, 112, 112, 3))).shape)
    (1, 1024)
    """

    def __init__(
        self,
        include_top=True,
        final_endpoint="Mixed_5c",
        pooling=None,
        frames=None,
        image_size=224,
        num_classes=400,
        dropout_rate=0.0,
        classifier_activation=None,
        width_multiplier=1.0,
        weights=None,
        **kwargs,
    ):
        inputs = keras.Input((frames, image_size, image_size, 3), name="frames")
        outputs = build_inception_v1(
            inputs,
            rank=3,
            include_top=include_top,
            final_endpoint=final_endpoint,
            pooling=pooling,
            num_classes=num_classes,
            dropout_rate=dropout_rate,
            classifier_activation=classifier_activation,
            width_multiplier=width_multiplier,
        )
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.include_top = include_top
        self.final_endpoint = final_endpoint
        self.pooling = pooling
        self.frames = frames
        self.image_size = image_size
        self.num_classes = num_classes
        self.dropout_rate = dropout_rate
        self.classifier_activation = classifier_activation
        self.width_multiplier = width_multiplier
        if weights is not None:
            self.load_weights(weights)

    def get_config(self):
        # The weights file is not part of the architecture: a saved model
        # carries its own weights.
        return {
            "name": self.name,
            "trainable": self.trainable,
            "include_top": self.include_top,
            "final_endpoint": self.final_endpoint,
            "pooling": self.pooling,
            "frames": self.frames,
            "image_size": self.image_size,
            "num_classes": self.num_classes,
            "dropout_rate": self.dropout_rate,
            "classifier_activation": self.classifier_activation,
            "width_multiplier": self.width_multiplier,
        }
