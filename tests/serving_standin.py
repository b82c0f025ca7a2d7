"""A test-only stand-in for TensorFlow Serving: the REST predict / status /
metadata routes and the gRPC Predict / GetModelMetadata calls, implemented
with the official `tensorflow-serving-api` protos on top of an exported
SavedModel. It follows TF Serving's wire formats (columnar "inputs" and row
"instances", {"b64": ...} strings, {"error": ...} bodies), so the clients are
tested against the same contract the real server has."""

import base64
import concurrent.futures
import http.server
import json
import pathlib
import re
import threading

import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2


class ModelStandIn:
    def __init__(self, base_dir, model_name="emokeras", fail_first=0):
        base_dir = pathlib.Path(base_dir)
        self.version = max(int(p.name) for p in base_dir.iterdir() if p.name.isdigit())
        path = base_dir / str(self.version)
        self.model_name = model_name
        self.loaded = tf.saved_model.load(str(path))
        graph = saved_model_pb2.SavedModel()
        graph.ParseFromString((path / "saved_model.pb").read_bytes())
        self.signature_defs = {
            name: sig for name, sig in graph.meta_graphs[0].signature_def.items() if not name.startswith("__")
        }
        self.fail_first = fail_first  # transient failures to serve before working
        self.requests = 0
        self.lock = threading.Lock()

    def transient_failure(self):
        with self.lock:
            self.requests += 1
            return self.requests <= self.fail_first

    def run(self, signature_name, inputs):
        """`inputs`: {name: np.ndarray}. Returns {name: np.ndarray} or raises
        ValueError with TF Serving-like messages."""
        if signature_name not in self.signature_defs:
            raise ValueError(f'Serving signature name: "{signature_name}" not found in signature def')
        expected = self.signature_defs[signature_name].inputs
        # TF Serving's own checks and messages (predict_util.cc): first the
        # number of inputs, then each name.
        if len(inputs) != len(expected):
            sent, wanted = sorted(inputs), sorted(expected)
            raise ValueError(
                f"input size does not match signature: {len(sent)}!={len(wanted)} "
                f"len({{{','.join(sent)}}}) != len({{{','.join(wanted)}}}). "
                f"Sent extra: {{{','.join(sorted(set(sent) - set(wanted)))}}}. "
                f"Missing but required: {{{','.join(sorted(set(wanted) - set(sent)))}}}."
            )
        for alias in sorted(inputs):
            if alias not in expected:
                raise ValueError(
                    f"input tensor alias not found in signature: {alias}. "
                    f"Inputs expected to be in the set {{{','.join(sorted(expected))}}}."
                )
        arguments = {}
        for name, info in expected.items():
            dtype = tf.dtypes.as_dtype(info.dtype)
            value = inputs[name]
            if dtype != tf.string and np.asarray(value).dtype.kind in "SUO":
                raise ValueError(f"Expects arg[{name}] to be {dtype.name} but string is provided")
            try:
                arguments[name] = tf.constant(value, dtype=dtype)
            except (TypeError, ValueError) as error:
                raise ValueError(f"Expects arg[{name}] to be {dtype.name}: {error}") from None
        try:
            outputs = self.loaded.signatures[signature_name](**arguments)
        except tf.errors.InvalidArgumentError as error:
            raise ValueError(error.message) from None
        return {name: value.numpy() for name, value in outputs.items()}


def _from_json(value, dtype):
    if dtype == tf.string:
        return np.vectorize(lambda item: base64.b64decode(item["b64"]), otypes=[object])(np.array(value, dtype=object))
    return np.array(value)


def _to_json(name, value):
    """TF Serving's REST encoding of an output: string tensors as text, or
    as {"b64": ...} when the output's name ends in `_bytes`."""
    if value.dtype.kind not in "SO":
        return value.tolist()
    if name.endswith("_bytes"):
        encode = lambda item: {"b64": base64.b64encode(item).decode()}
    else:
        encode = lambda item: item.decode()
    return np.vectorize(encode, otypes=[object])(value).tolist()


def make_rest_server(stand_in, port=0):
    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _send(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _model_path(self):
            match = re.fullmatch(
                rf"/v1/models/{stand_in.model_name}(?:/versions/(\d+))?(/metadata|:predict)?", self.path
            )
            if not match:
                self._send(404, {"error": f"Malformed request: {self.command} {self.path}"})
                return None
            return match

        def do_GET(self):
            match = self._model_path()
            if match is None:
                return
            if match.group(2) == "/metadata":
                # As TF Serving renders it: the SignatureDefMap proto as JSON
                # (dtypes as "DT_FLOAT", sizes as strings, "-1" for any).
                signatures = get_model_metadata_pb2.SignatureDefMap()
                for name, sig in stand_in.signature_defs.items():
                    signatures.signature_def[name].CopyFrom(sig)
                signatures = json_format.MessageToDict(signatures, preserving_proto_field_name=True)["signature_def"]
                self._send(
                    200,
                    {
                        "model_spec": {"name": stand_in.model_name, "version": str(stand_in.version)},
                        "metadata": {"signature_def": {"signature_def": signatures}},
                    },
                )
            else:
                self._send(
                    200,
                    {
                        "model_version_status": [
                            {
                                "version": str(stand_in.version),
                                "state": "AVAILABLE",
                                "status": {"error_code": "OK", "error_message": ""},
                            }
                        ]
                    },
                )

        def do_POST(self):
            match = self._model_path()
            if match is None:
                return
            if stand_in.transient_failure():
                self._send(503, {"error": "Servable not available yet (stand-in transient failure)"})
                return
            try:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            except ValueError as error:
                self._send(400, {"error": f"JSON Parse error: {error}"})
                return
            signature_name = body.get("signature_name", "serving_default")
            try:
                dtypes = (
                    {k: tf.dtypes.as_dtype(v.dtype) for k, v in stand_in.signature_defs[signature_name].inputs.items()}
                    if signature_name in stand_in.signature_defs
                    else {}
                )
                if "inputs" in body:
                    inputs = {k: _from_json(v, dtypes.get(k, tf.float32)) for k, v in body["inputs"].items()}
                    row_format = False
                elif "instances" in body:
                    rows = body["instances"]
                    inputs = {k: _from_json([row[k] for row in rows], dtypes.get(k, tf.float32)) for k in rows[0]}
                    row_format = True
                else:
                    raise ValueError("Missing 'inputs' or 'instances' key")
                outputs = stand_in.run(signature_name, inputs)
            except ValueError as error:
                self._send(400, {"error": str(error)})
                return
            outputs = {k: _to_json(k, v) for k, v in outputs.items()}
            if row_format:
                count = len(next(iter(outputs.values())))
                self._send(200, {"predictions": [{k: v[i] for k, v in outputs.items()} for i in range(count)]})
            else:
                self._send(200, {"outputs": outputs})

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def make_grpc_server(stand_in):
    import grpc
    from tensorflow_serving.apis import get_model_metadata_pb2
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_service_pb2_grpc

    class Servicer(prediction_service_pb2_grpc.PredictionServiceServicer):
        def Predict(self, request, context):
            if stand_in.transient_failure():
                context.abort(grpc.StatusCode.UNAVAILABLE, "stand-in transient failure")
            if request.model_spec.name != stand_in.model_name:
                context.abort(
                    grpc.StatusCode.NOT_FOUND, f"Servable not found for request: Latest({request.model_spec.name})"
                )
            inputs = {name: tf.make_ndarray(proto) for name, proto in request.inputs.items()}
            try:
                outputs = stand_in.run(request.model_spec.signature_name or "serving_default", inputs)
            except ValueError as error:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(error))
            response = predict_pb2.PredictResponse()
            response.model_spec.name = stand_in.model_name
            response.model_spec.version.value = stand_in.version
            for name, value in outputs.items():
                response.outputs[name].CopyFrom(tf.make_tensor_proto(value))
            return response

        def GetModelMetadata(self, request, context):
            signatures = get_model_metadata_pb2.SignatureDefMap()
            for name, sig in stand_in.signature_defs.items():
                signatures.signature_def[name].CopyFrom(sig)
            response = get_model_metadata_pb2.GetModelMetadataResponse()
            response.model_spec.name = stand_in.model_name
            response.model_spec.version.value = stand_in.version
            response.metadata["signature_def"].Pack(signatures)
            return response

    limit = 256 * 1024 * 1024
    server = grpc.server(
        concurrent.futures.ThreadPoolExecutor(max_workers=4),
        options=[("grpc.max_send_message_length", limit), ("grpc.max_receive_message_length", limit)],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, f"127.0.0.1:{port}"
