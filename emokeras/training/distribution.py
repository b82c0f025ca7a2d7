"""Distribution strategies by name, and this process's place in a cluster.

`none` trains on one device; `mirrored` on every GPU of this machine (or
its logical CPUs); `multi_worker` on the machines `TF_CONFIG` lists
(`tf.distribute.MultiWorkerMirroredStrategy`, as Kubeflow's TFJob launches
it). In a cluster the chief is the `chief` task, or worker 0 when there is
none (TensorFlow's rule); it alone writes the run folder.
"""

import json
import os

import tensorflow as tf

TF_CONFIG_HELP = "https://www.tensorflow.org/guide/distributed_training#TF_CONFIG"


def distribution_strategy(name):
    """The `tf.distribute.Strategy` of config key `distribution`."""
    if name == "none":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        # All GPUs of this machine; without GPUs, its logical CPUs.
        devices = tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([device.name for device in devices])
    cluster_position(name)  # a clear error for a missing or odd TF_CONFIG
    return _MultiWorkerMirroredStrategy()


def cluster_position(distribution):
    """`(index, count)` of this process among the cluster's training tasks,
    index 0 the chief; `(0, 1)` when not `multi_worker`."""
    if distribution != "multi_worker":
        return 0, 1
    if "TF_CONFIG" not in os.environ:
        raise ValueError(
            "config key 'distribution' is 'multi_worker' but TF_CONFIG is not set; "
            f"set it on every machine ({TF_CONFIG_HELP})"
        )
    try:
        tf_config = json.loads(os.environ["TF_CONFIG"])
        cluster, task = tf_config["cluster"], tf_config["task"]
        chiefs, workers = len(cluster.get("chief", [])), len(cluster.get("worker", []))
        kind, index = task["type"], int(task["index"])
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(
            f"TF_CONFIG is not a cluster with a task ({error!r}): "
            f'e.g. {{"cluster": {{"worker": ["host0:2222", "host1:2222"]}}, "task": {{"type": "worker", "index": 0}}}}'
        ) from None
    if kind == "chief" and index < chiefs:
        return index, chiefs + workers
    if kind == "worker" and index < workers:
        return chiefs + index, chiefs + workers
    raise ValueError(
        f"TF_CONFIG task {kind!r} {index} is not in its cluster (chief: {chiefs}, worker: {workers}); "
        "emokeras trains with chief and worker tasks only"
    )


class _MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
    # Two calls Keras 3's `fit` makes that this strategy's collective reduce
    # rejects, reduced here as `MirroredStrategy` reduces them:
    # - the first distributed batch, a structure of inputs, to build the
    #   model (keras-team/keras#20329): leaf by leaf;
    # - each step's scalar logs, "MEAN" along axis 0, which a scalar lacks:
    #   the mean over the replicas.
    def reduce(self, reduce_op, value, axis):
        parent = super()

        def reduce_leaf(leaf):
            local = self.experimental_local_results(leaf)[0]
            scalar = getattr(local, "shape", None) is not None and local.shape.rank == 0
            return parent.reduce(reduce_op, leaf, None if scalar else axis)

        return tf.nest.map_structure(reduce_leaf, value)
