import time

import numpy as np

from emokeras.serving.data_contract import parse_data_contract
from emokeras.serving.names import DEFAULT_MODEL_NAME
from emokeras.serving.serving_error import ServingError
from emokeras.serving.serving_error import check_input_names


class GrpcClient:
    """A client of TensorFlow Serving's gRPC API (`PredictionService`).

    Raw tensors travel as `TensorProto`s (the compact way to send uint8
    video). `UNAVAILABLE` (server starting or restarting) is retried with
    exponential backoff; other failures raise `ServingError` quoting the
    server's details. Before a request is sent, its input names are checked
    against the signature in the server's metadata (read once and cached,
    read again when a request does not match, as a new model version may
    have other inputs): missing, extra or misnamed inputs raise
    `ServingError` naming them and every input the signature takes, with
    its dtype and shape.

    Args:
        target: `"host:port"`, e.g. `"localhost:8500"`.
        model_name: the served model's name.
        version: a model version to pin, or `None` for the latest.
        timeout: seconds per attempt.
        retries: extra attempts after a transient failure.
        backoff: seconds before the first retry (doubled each time).
        max_message_mb: gRPC message size limit (a 128-frame 224 px window
            is 19 MB of uint8).
        check_inputs: check input names against the server's metadata
            before sending (`False` for a server that hides its metadata).

    Example:

    >>> client = GrpcClient("localhost:8500", model_name="emokeras")
    >>> # client.predict({"video": video, "audio": audio})["arousal"]
    """

    def __init__(
        self,
        target,
        model_name=DEFAULT_MODEL_NAME,
        version=None,
        timeout=60.0,
        retries=3,
        backoff=0.5,
        max_message_mb=256,
        check_inputs=True,
    ):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        self.target = target
        self.model_name = model_name
        self.version = version
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.check_inputs = check_inputs
        self._signatures = None
        limit = max_message_mb * 1024 * 1024
        self._channel = grpc.insecure_channel(
            target,
            options=[("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)],
        )
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def _model_spec(self, spec, signature_name=None):
        spec.name = self.model_name
        if self.version is not None:
            spec.version.value = int(self.version)
        if signature_name is not None:
            spec.signature_name = signature_name

    def predict(self, inputs, signature_name="serving_default"):
        """Runs one request; returns `{output name: np.ndarray}`.

        Raises:
            ServingError: the server refused or failed the request, or the
                input names are not the signature's (nothing is sent then).
        """
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        if self.check_inputs:
            self._signatures = check_input_names(
                self._signatures, self.metadata, signature_name, list(inputs), self.target
            )
        request = predict_pb2.PredictRequest()
        self._model_spec(request.model_spec, signature_name)
        for name, value in inputs.items():
            request.inputs[name].CopyFrom(tf.make_tensor_proto(np.asarray(value)))
        response = self._call(self._stub.Predict, request)
        return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}

    def data_contract(self):
        """The served model's data contract (its `data_contract` signature)."""
        return parse_data_contract(
            self.predict({"request": np.zeros(1, np.int32)}, signature_name="data_contract"), self.target
        )

    def metadata(self):
        """`{signature name: {"inputs": {name: (dtype, shape)}, "outputs": ...}}`."""
        import tensorflow as tf
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._model_spec(request.model_spec)
        response = self._call(self._stub.GetModelMetadata, request)
        signatures = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signatures)

        def describe(tensors):
            return {
                name: (
                    tf.dtypes.as_dtype(info.dtype).name,
                    tuple(None if d.size < 0 else d.size for d in info.tensor_shape.dim),
                )
                for name, info in tensors.items()
            }

        return {
            name: {"inputs": describe(sig.inputs), "outputs": describe(sig.outputs)}
            for name, sig in signatures.signature_def.items()
        }

    def _call(self, method, request):
        import grpc

        last_error = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return method(request, timeout=self.timeout)
            except grpc.RpcError as error:
                code = error.code()
                last_error = ServingError(
                    f"{self.target}: {code.name}: {error.details()}",
                    status=code.name,
                    retryable=code == grpc.StatusCode.UNAVAILABLE,
                )
                if not last_error.retryable:
                    raise last_error from None
        raise ServingError(
            f"{last_error} (gave up after {self.retries + 1} attempts)",
            status=last_error.status,
            retryable=True,
        )

    def close(self):
        self._channel.close()
