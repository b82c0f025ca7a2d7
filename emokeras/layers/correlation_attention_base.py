import keras


class CorrelationAttentionBase(keras.layers.Layer):
    """What `CrossAttention` and `SelfAttention` share: the kernel `W` and its
    configuration. Not a public layer."""

    def __init__(
        self,
        kernel_initializer="glorot_normal",
        kernel_regularizer=None,
        kernel_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)

    def add_correlation_kernel(self, features):
        """Creates `kernel`, the paper's `W`, of shape `(features, features)`."""
        self.kernel = self.add_weight(
            name="kernel",
            shape=(features, features),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "kernel_regularizer": keras.regularizers.serialize(self.kernel_regularizer),
                "kernel_constraint": keras.constraints.serialize(self.kernel_constraint),
            }
        )
        return config
