"""emokeras: audio-visual dimensional emotion recognition in Keras.

Subpackages are imported on use (`from emokeras.layers import
CrossAttention`), so that importing `emokeras` itself stays cheap.
"""

__version__ = "0.1.0"
