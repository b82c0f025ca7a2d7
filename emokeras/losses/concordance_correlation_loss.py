import keras

from emokeras.metrics.ccc import concordance_correlation


@keras.saving.register_keras_serializable(package="emokeras")
class ConcordanceCorrelationLoss(keras.losses.Loss):
    """`1 - CCC` over the flattened batch, the paper's training loss.

    For a model with several outputs, Keras applies the loss to each target
    separately (one CCC per target, over all clips of all windows in the
    batch) and sums the results. The CCC is a corpus statistic, not a mean of
    per-sample terms, so the loss is computed over the whole batch at once;
    `sample_weight` weights elements inside that CCC (0 drops a missing
    label) instead of scaling per-sample losses.

    Under a TensorFlow distribution strategy the CCC is that of the global
    batch (its statistics are summed over the replicas), and each replica
    returns `1/replicas` of the loss, as Keras' own losses do, so that the
    summed gradients equal those of one device on the whole batch.

    Args:
        name: loss name.
        dtype: dtype of the loss computation (float32 default, also under
            mixed precision).

    Example:

    >>> loss = ConcordanceCorrelationLoss()
    >>> float(loss([[1.0, 2.0, 3.0]], [[1.0, 2.0, 3.0]]))
    0.0
    """

    def __init__(self, name="concordance_correlation_loss", dtype=None):
        super().__init__(name=name, reduction="none", dtype=dtype)

    def __call__(self, y_true, y_pred, sample_weight=None):
        with keras.name_scope(self.name):
            ccc = concordance_correlation(y_true, y_pred, sample_weight)
            return keras.ops.cast((1.0 - ccc) / _replicas_in_sync(), self.dtype)

    def call(self, y_true, y_pred):
        return 1.0 - concordance_correlation(y_true, y_pred)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


def _replicas_in_sync():
    if keras.backend.backend() != "tensorflow":
        return 1.0
    import tensorflow as tf

    return float(tf.distribute.get_strategy().num_replicas_in_sync)
