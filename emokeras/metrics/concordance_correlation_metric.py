import keras
from keras import ops

from emokeras.metrics.ccc import batch_moments
from emokeras.metrics.ccc import ccc_from_moments
from emokeras.metrics.ccc import merge_moments

_STATISTICS = ("count", "mean_true", "mean_pred", "m2_true", "m2_pred", "comoment")


@keras.saving.register_keras_serializable(package="emokeras")
class ConcordanceCorrelation(keras.metrics.Metric):
    """Streaming concordance correlation coefficient over a whole corpus.

    Keeps running sufficient statistics (weighted count, means, squared
    deviations and co-deviation, merged batch by batch with Chan et al.'s
    parallel update), so that after any number of `update_state` calls
    `result()` equals the CCC of all the data seen, as papers and AVEC report
    it, not a mean of per-batch CCCs (which is what
    `keras.metrics.ConcordanceCorrelation` computes by default). All elements
    of `y_true` / `y_pred` are pooled, e.g. every clip of every window.

    Returns 0.0 while the CCC is undefined (no data, or both series constant
    and equal); see `emokeras.metrics.concordance_correlation`.

    Args:
        name: metric name.
        dtype: dtype of the result.

    Example:

    >>> metric = ConcordanceCorrelation()
    >>> metric.update_state([0.0, 1.0], [0.0, 1.0])
    >>> metric.update_state([2.0, 3.0], [2.0, 3.0])
    >>> float(metric.result())
    1.0
    """

    def __init__(self, name="ccc", dtype=None):
        super().__init__(name=name, dtype=dtype)
        # Under a distribution strategy every replica merges the global
        # batch's moments, so all replicas hold the same statistics.
        self.statistics = [
            self.add_variable(shape=(), initializer="zeros", aggregation="only_first_replica", name=name)
            for name in _STATISTICS
        ]

    def update_state(self, y_true, y_pred, sample_weight=None):
        batch = batch_moments(y_true, y_pred, sample_weight)
        merged = merge_moments(tuple(self.statistics), batch)
        for variable, value in zip(self.statistics, merged):
            variable.assign(value)

    def result(self):
        return ops.cast(ccc_from_moments(*self.statistics), self.dtype)

    def reset_state(self):
        for variable in self.statistics:
            variable.assign(ops.zeros((), variable.dtype))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
