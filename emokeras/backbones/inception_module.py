import keras

from emokeras.backbones.conv_bn_relu import ConvBNReLU


@keras.saving.register_keras_serializable(package="emokeras")
class InceptionModule(keras.layers.Layer):
    """The four-branch Inception-v1 block, in 2D or 3D.

    Branch 0: 1x1 conv. Branch 1: 1x1 conv -> 3x3 conv. Branch 2: 1x1 conv ->
    3x3 conv. Branch 3: 3x3 max pool (stride 1) -> 1x1 conv. The branches are
    concatenated on the channel axis. In 3D every kernel is cubic (3x3x3), as
    in I3D. Each unit is named after its checkpoint scope, e.g.
    `Branch_1/Conv3d_0b_3x3` (see `units_by_scope`).

    Args:
        filters: six ints, `(branch_0, branch_1_reduce, branch_1,
            branch_2_reduce, branch_2, branch_3)`.
        rank: 3 for I3D, 2 for the per-frame Inception-v1.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: `(batch, T, H, W, C)` or `(batch, H, W, C)`.
        training: whether batch norm uses batch statistics.

    Returns:
        Same spatial shape, `filters[0] + filters[2] + filters[4] + filters[5]`
        channels.

    Example:

    >>> block = InceptionModule(filters=(4, 4, 8, 2, 4, 4), rank=3)
    >>> tuple(block(keras.ops.zeros((1, 4, 8, 8, 16))).shape)
    (1, 4, 8, 8, 20)
    """

    def __init__(self, filters, rank=3, **kwargs):
        super().__init__(**kwargs)
        filters = tuple(int(f) for f in filters)
        if len(filters) != 6:
            raise ValueError(
                "InceptionModule needs six filter counts (branch_0, "
                "branch_1_reduce, branch_1, branch_2_reduce, branch_2, "
                f"branch_3). Received: filters={filters}"
            )
        self.filters = filters
        self.rank = rank
        conv = f"Conv{rank}d"
        pool_class = keras.layers.MaxPooling3D if rank == 3 else keras.layers.MaxPooling2D
        b0, b1a, b1b, b2a, b2b, b3 = filters

        def unit(scope, count, kernel_size):
            return scope, ConvBNReLU(count, kernel_size, rank=rank, name=scope.replace("/", "_"))

        pool_scope = "Branch_3/" + ("MaxPool3d_0a_3x3" if rank == 3 else "MaxPool_0a_3x3")
        pool = pool_class(pool_size=3, strides=1, padding="same", name=pool_scope.replace("/", "_"))
        branches = [
            [unit(f"Branch_0/{conv}_0a_1x1", b0, 1)],
            [unit(f"Branch_1/{conv}_0a_1x1", b1a, 1), unit(f"Branch_1/{conv}_0b_3x3", b1b, 3)],
            [unit(f"Branch_2/{conv}_0a_1x1", b2a, 1), unit(f"Branch_2/{conv}_0b_3x3", b2b, 3)],
            [(pool_scope, pool), unit(f"Branch_3/{conv}_0b_1x1", b3, 1)],
        ]
        self.scopes = [[scope for scope, _ in branch] for branch in branches]
        self.branches = [[layer for _, layer in branch] for branch in branches]

    def units_by_scope(self):
        """The `ConvBNReLU` units keyed by their checkpoint scope."""
        return {
            scope: layer
            for scopes, layers in zip(self.scopes, self.branches)
            for scope, layer in zip(scopes, layers)
            if isinstance(layer, ConvBNReLU)
        }

    def build(self, inputs_shape):
        for branch in self.branches:
            shape = inputs_shape
            for layer in branch:
                layer.build(shape)
                shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        outputs = []
        for branch in self.branches:
            x = inputs
            for layer in branch:
                if isinstance(layer, ConvBNReLU):
                    x = layer(x, training=training)
                else:
                    x = layer(x)
            outputs.append(x)
        return keras.ops.concatenate(outputs, axis=-1)

    def compute_output_shape(self, inputs_shape):
        b0, _, b1, _, b2, b3 = self.filters
        return tuple(inputs_shape[:-1]) + (b0 + b1 + b2 + b3,)

    def get_config(self):
        config = super().get_config()
        config.update({"filters": self.filters, "rank": self.rank})
        return config
