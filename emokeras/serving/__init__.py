"""TensorFlow Serving: SavedModel export and REST / gRPC clients."""

from emokeras.serving.export import export_saved_model

__all__ = ["export_saved_model"]
