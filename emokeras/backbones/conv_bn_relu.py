import keras

# DeepMind's I3D and TF-Slim's Inception-v1 use batch norm without a learned
# scale (gamma) and epsilon 1e-3. The moving statistics follow the authors'
# PyTorch training (momentum 0.1 there, i.e. 0.9 in Keras' convention): they
# settle within tens of steps, so short fine-tuning runs evaluate well.
BATCH_NORM_EPSILON = 1e-3
BATCH_NORM_MOMENTUM = 0.9


@keras.saving.register_keras_serializable(package="emokeras")
class ConvBNReLU(keras.layers.Layer):
    """Convolution (TF "SAME" padding, no bias) -> batch norm -> ReLU.

    The unit of DeepMind's I3D (`Unit3D`) and of TF-Slim's Inception-v1, in 2D
    or 3D. Its sub-layers are named like the checkpoints' scopes: `conv_3d`
    (or `conv_2d`) and `batch_norm`; batch norm has no scale (gamma) and
    epsilon 1e-3.

    Args:
        filters: number of output channels.
        kernel_size: int or tuple of `rank` ints.
        strides: int or tuple of `rank` ints.
        rank: 3 for video clips `(T, H, W, C)`, 2 for frames `(H, W, C)`.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, T, H, W, C)` (rank 3) or `(batch, H, W, C)` (rank 2).
        training: whether batch norm uses batch statistics.

    Returns:
        The activations, `filters` channels, spatial size divided by the
        strides (rounded up).

    Example:

    >>> unit = ConvBNReLU(filters=8, kernel_size=3, strides=2, rank=3)
    >>> tuple(unit(keras.ops.zeros((1, 8, 16, 16, 3))).shape)
    (1, 4, 8, 8, 8)
    """

    def __init__(self, filters, kernel_size, strides=1, rank=3, **kwargs):
        super().__init__(**kwargs)
        if rank not in (2, 3):
            raise ValueError(f"rank must be 2 or 3. Received: rank={rank}")
        self.filters = filters
        self.kernel_size = kernel_size
        self.strides = strides
        self.rank = rank
        conv_class = keras.layers.Conv3D if rank == 3 else keras.layers.Conv2D
        self.conv = conv_class(
            filters,
            kernel_size,
            strides=strides,
            padding="same",
            use_bias=False,
            name=f"conv_{rank}d",
        )
        self.batch_norm = keras.layers.BatchNormalization(
            scale=False,
            epsilon=BATCH_NORM_EPSILON,
            momentum=BATCH_NORM_MOMENTUM,
            # Built under a strategy with several replicas, the batch
            # statistics are those of the global batch, so N replicas train
            # as one device would on the whole batch.
            synchronized=_replicated(),
            name="batch_norm",
        )

    def build(self, inputs_shape):
        self.conv.build(inputs_shape)
        self.batch_norm.build(self.conv.compute_output_shape(inputs_shape))

    def call(self, inputs, training=None):
        x = self.conv(inputs)
        x = self.batch_norm(x, training=training)
        return keras.ops.relu(x)

    def compute_output_shape(self, inputs_shape):
        return self.conv.compute_output_shape(inputs_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "rank": self.rank,
            }
        )
        return config


def _replicated():
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return tf.distribute.has_strategy() and tf.distribute.get_strategy().num_replicas_in_sync > 1
