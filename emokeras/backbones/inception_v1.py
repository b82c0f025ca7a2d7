import keras

from emokeras.backbones.inception_v1_trunk import build_inception_v1


@keras.saving.register_keras_serializable(package="emokeras")
class InceptionV1(keras.Model):
    """2D Inception-v1 with batch norm, the network that I3D inflates.

    Per-frame visual backbone of the paper's "2D CNN" ablation rows. Layer
    names follow TF-Slim's `inception_v1` (`Conv2d_1a_7x7`, `MaxPool_2a_3x3`,
    ..., `Mixed_5c`), each the 2D twin of an I3D endpoint, so that
    `emokeras.backbones` can inflate its weights into `I3D`. Batch norm has no
    scale and epsilon 1e-3, as TF-Slim's.

    Args:
        include_top: add the classifier (average pool, dropout, 1x1 conv with
            bias): output `(batch, num_classes)` logits.
        final_endpoint: cut the network after this endpoint; `include_top`
            needs `"Mixed_5c"`.
        pooling: without the top, `None`, `"avg"` or `"max"`.
        image_size: frame height and width, or `None` for any size.
        num_classes: classes of the top (1001 for TF-Slim's ImageNet).
        dropout_rate: dropout before the classifier.
        classifier_activation: `None` for logits, or `"softmax"`.
        width_multiplier: scales every channel count; 1.0 is Inception-v1.
        weights: optional path to a `.weights.h5` file of this architecture.
        **kwargs: `name`, `trainable`.

    Call arguments:
        inputs: `(batch, image_size, image_size, 3)` RGB in [-1, 1].
        training: whether batch norm and dropout run in training mode.

    Returns:
        Logits, pooled features `(batch, 1024 * width_multiplier)`, or the
        feature map of `final_endpoint`.

    Example:

    >>> cnn = InceptionV1(include_top=False, pooling="avg", image_size=112)
    >>> tuple(cnn(keras.ops.zeros((2, 112, 112, 3))).shape)
    (2, 1024)
    """

    def __init__(
        self,
        include_top=False,
        final_endpoint="Mixed_5c",
        pooling=None,
        image_size=224,
        num_classes=1001,
        dropout_rate=0.0,
        classifier_activation=None,
        width_multiplier=1.0,
        weights=None,
        **kwargs,
    ):
        inputs = keras.Input((image_size, image_size, 3), name="frame")
        outputs = build_inception_v1(
            inputs,
            rank=2,
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
        self.image_size = image_size
        self.num_classes = num_classes
        self.dropout_rate = dropout_rate
        self.classifier_activation = classifier_activation
        self.width_multiplier = width_multiplier
        if weights is not None:
            self.load_weights(weights)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "include_top": self.include_top,
            "final_endpoint": self.final_endpoint,
            "pooling": self.pooling,
            "image_size": self.image_size,
            "num_classes": self.num_classes,
            "dropout_rate": self.dropout_rate,
            "classifier_activation": self.classifier_activation,
            "width_multiplier": self.width_multiplier,
        }
