"""The concordance correlation coefficient (CCC), written once.

CCC = 2 cov(x, y) / (var(x) + var(y) + (mean(x) - mean(y))^2), with
population (1/N) statistics as in the AVEC challenges. Every CCC in emokeras
(the loss, the streaming metric, evaluation) goes through
`ccc_from_moments`.

Degenerate input: where the denominator is zero (both series constant and
equal, or no data) the CCC is undefined; we return 0.0 rather than NaN, so a
training run never turns into NaN. A constant prediction against varying
targets has zero covariance and gets exactly 0.0 from the formula itself.
"""

from keras import ops


def _flat_weights(y_true, sample_weight):
    """Per-element float32 weights, flattened like `y_true`.

    `sample_weight` may have the shape of `y_true` or of its leading axes
    (e.g. `(batch,)` for `(batch, L)` targets); it is broadcast over the rest.
    """
    if sample_weight is None:
        return ops.ones((ops.size(y_true),), "float32")
    weight = ops.cast(sample_weight, "float32")
    while len(weight.shape) < len(y_true.shape):
        weight = ops.expand_dims(weight, -1)
    return ops.reshape(ops.broadcast_to(weight, ops.shape(y_true)), (-1,))


def sum_over_replicas(values):
    """Sums a tuple of scalars over the replicas of a TensorFlow distribution
    strategy, so that each replica sees the statistics of the global batch
    (identity outside one, and on other backends).

    Differentiable: TensorFlow's gradient of an all-reduce sum is itself an
    all-reduce sum, so every replica's gradient is that of the global-batch
    statistic.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return tuple(values)
    import tensorflow as tf

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return tuple(values)
    return tuple(context.all_reduce("SUM", list(values)))


def batch_moments(y_true, y_pred, sample_weight=None):
    """Sufficient statistics of one batch, over all its elements.

    Returns `(count, mean_true, mean_pred, m2_true, m2_pred, comoment)`, with
    `count = sum w`, `m2_true = sum w (t - mean_true)^2`, `m2_pred` likewise
    and `comoment = sum w (t - mean_true)(p - mean_pred)`. `merge_moments`
    combines them across batches without the cancellation of raw sums.

    Under a distribution strategy the batch is the global one: the sums run
    over every replica's share (the means first, then the deviations from
    them, so the two passes stay as exact as on one device).
    """
    y_true = ops.cast(y_true, "float32")
    y_pred = ops.reshape(ops.cast(y_pred, "float32"), (-1,))
    weight = _flat_weights(y_true, sample_weight)
    y_true = ops.reshape(y_true, (-1,))
    count, sum_true, sum_pred = sum_over_replicas((ops.sum(weight), ops.sum(weight * y_true), ops.sum(weight * y_pred)))
    safe_count = ops.maximum(count, 1e-12)
    mean_true = sum_true / safe_count
    mean_pred = sum_pred / safe_count
    dev_true = y_true - mean_true
    dev_pred = y_pred - mean_pred
    return (
        count,
        mean_true,
        mean_pred,
        *sum_over_replicas(
            (
                ops.sum(weight * dev_true * dev_true),
                ops.sum(weight * dev_pred * dev_pred),
                ops.sum(weight * dev_true * dev_pred),
            )
        ),
    )


def merge_moments(first, second):
    """Combines the moments of two disjoint sets of samples (Chan et al.)."""
    count_a, mean_true_a, mean_pred_a, m2_true_a, m2_pred_a, comoment_a = first
    count_b, mean_true_b, mean_pred_b, m2_true_b, m2_pred_b, comoment_b = second
    count = count_a + count_b
    share_b = count_b / ops.maximum(count, 1e-12)
    delta_true = mean_true_b - mean_true_a
    delta_pred = mean_pred_b - mean_pred_a
    # count_a * count_b / count, written so that count = 0 stays finite.
    cross = count_a * share_b
    return (
        count,
        mean_true_a + delta_true * share_b,
        mean_pred_a + delta_pred * share_b,
        m2_true_a + m2_true_b + delta_true * delta_true * cross,
        m2_pred_a + m2_pred_b + delta_pred * delta_pred * cross,
        comoment_a + comoment_b + delta_true * delta_pred * cross,
    )


def ccc_from_moments(count, mean_true, mean_pred, m2_true, m2_pred, comoment):
    """The CCC from sufficient statistics (0.0 where it is undefined)."""
    safe_count = ops.maximum(count, 1e-12)
    numerator = 2.0 * comoment / safe_count
    denominator = (m2_true + m2_pred) / safe_count + (mean_true - mean_pred) * (mean_true - mean_pred)
    defined = denominator > 0.0
    # Divide by 1 where undefined so that gradients stay finite too.
    safe_denominator = ops.where(defined, denominator, 1.0)
    return ops.where(defined, numerator / safe_denominator, 0.0)


def concordance_correlation(y_true, y_pred, sample_weight=None):
    """Concordance correlation coefficient over all elements of the inputs.

    Population statistics, as AVEC. Works on NumPy arrays and on tensors of
    any Keras backend (differentiable), so the loss, the metric and the
    evaluation share it.

    Args:
        y_true: ground truth, any shape (flattened).
        y_pred: predictions, same number of elements.
        sample_weight: optional weights, the shape of `y_true` or of its
            leading axes; 0 excludes an element (e.g. a missing label).

    Returns:
        A float32 scalar in [-1, 1]: 1 for perfect agreement, -1 for perfect
        reversed agreement, 0 for no agreement. Returns 0.0 where the CCC is
        undefined (both series constant and equal, or all weights zero).

    Example:

    >>> float(concordance_correlation([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]))
    1.0
    """
    return ccc_from_moments(*batch_moments(y_true, y_pred, sample_weight))
