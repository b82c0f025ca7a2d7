"""emokeras: audio-visual dimensional emotion recognition in Keras.

Subpackages are imported on use (`from emokeras.layers import
CrossAttention`), so that importing `emokeras` itself stays cheap.
"""

import os

# TensorFlow's oneDNN CPU kernels run the I3D much faster than its Eigen ones
# (README, Performance), but TensorFlow leaves them off on many CPUs. The
# switch is read once, when TensorFlow loads: it only takes effect if
# emokeras is imported first, and an explicit TF_ENABLE_ONEDNN_OPTS=0 still
# wins.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
