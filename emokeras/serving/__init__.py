"""TensorFlow Serving: SavedModel export and REST / gRPC clients."""

from emokeras.serving.export import export_saved_model
from emokeras.serving.grpc_client import GrpcClient
from emokeras.serving.rest_client import RestClient
from emokeras.serving.serving_error import ServingError

__all__ = ["GrpcClient", "RestClient", "ServingError", "export_saved_model"]
