import base64
import json
import time
import urllib.error
import urllib.request

import numpy as np

from emokeras.serving.data_contract import parse_data_contract
from emokeras.serving.names import DEFAULT_MODEL_NAME
from emokeras.serving.serving_error import ServingError
from emokeras.serving.serving_error import check_input_names

# Worth retrying: the server is starting, overloaded or behind a proxy hiccup.
RETRYABLE_HTTP = (429, 502, 503, 504)


class RestClient:
    """A client of TensorFlow Serving's REST API (`/v1/models/...`).

    Sends the columnar `"inputs"` format; `bytes` / string arrays (e.g. the
    JPEG frames of the `serving_jpeg` signature) travel base64-encoded as
    `{"b64": ...}`, as TF Serving expects. Transient failures (connection
    refused or reset, timeouts, HTTP 429 / 502 / 503 / 504) are retried with
    exponential backoff; other errors raise `ServingError` quoting the
    server's message. Before a request is sent, its input names are checked
    against the signature in the server's metadata (read once and cached,
    read again when a request does not match, as a new model version may
    have other inputs): missing, extra or misnamed inputs raise
    `ServingError` naming them and every input the signature takes, with
    its dtype and shape.

    Args:
        url: the server, e.g. `"http://localhost:8501"`.
        model_name: the served model's name.
        version: a model version to pin, or `None` for the latest.
        timeout: seconds per attempt.
        retries: extra attempts after a transient failure.
        backoff: seconds before the first retry (doubled each time).
        check_inputs: check input names against the server's metadata
            before sending (`False` for a server that hides its metadata).

    Example:

    >>> client = RestClient("http://localhost:8501", model_name="emokeras")
    >>> # client.predict({"video": video, "audio": audio})["valence"]
    """

    def __init__(
        self,
        url,
        model_name=DEFAULT_MODEL_NAME,
        version=None,
        timeout=60.0,
        retries=3,
        backoff=0.5,
        check_inputs=True,
    ):
        self.url = url.rstrip("/")
        self.model_name = model_name
        self.version = version
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.check_inputs = check_inputs
        self._signatures = None

    @property
    def model_url(self):
        url = f"{self.url}/v1/models/{self.model_name}"
        return url if self.version is None else f"{url}/versions/{self.version}"

    def status(self):
        """The model's version status (`GET /v1/models/<name>`)."""
        return self._request(self.model_url)

    def metadata(self):
        """The model's signatures (`GET /v1/models/<name>/metadata`)."""
        return self._request(f"{self.model_url}/metadata")

    def predict(self, inputs, signature_name="serving_default"):
        """Runs one request.

        Args:
            inputs: `{input name: array}` with the batch as the first axis.
            signature_name: the signature to call.

        Returns:
            `{output name: np.ndarray}`.

        Raises:
            ServingError: the server refused or failed the request, or the
                input names are not the signature's (nothing is sent then).
        """
        if self.check_inputs:
            self._signatures = check_input_names(
                self._signatures, self.signatures, signature_name, list(inputs), self.model_url
            )
        body = {"signature_name": signature_name, "inputs": {k: _to_json(v) for k, v in inputs.items()}}
        answer = self._request(f"{self.model_url}:predict", body)
        outputs = answer.get("outputs")
        if not isinstance(outputs, dict):  # a single output comes unnamed
            outputs = {"output": outputs}
        return {name: _from_json(value) for name, value in outputs.items()}

    def data_contract(self):
        """The served model's data contract (its `data_contract` signature)."""
        return parse_data_contract(self.predict({"request": [0]}, signature_name="data_contract"), self.model_url)

    def signatures(self):
        """`{signature name: {"inputs": {name: (dtype, shape)}, "outputs":
        ...}}` from the model's metadata, as `GrpcClient.metadata` gives it
        (dtypes as NumPy names, `None` for the batch dimension)."""
        answer = self.metadata()
        signature_defs = answer["metadata"]["signature_def"]["signature_def"]
        return {
            name: {"inputs": _describe(sig.get("inputs", {})), "outputs": _describe(sig.get("outputs", {}))}
            for name, sig in signature_defs.items()
        }

    def _request(self, url, body=None):
        data = None if body is None else json.dumps(body).encode()
        last_error = None
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as error:
                message = _server_message(error)
                last_error = ServingError(
                    f"{url}: HTTP {error.code}: {message}",
                    status=error.code,
                    retryable=error.code in RETRYABLE_HTTP,
                )
                if not last_error.retryable:
                    raise last_error from None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                reason = getattr(error, "reason", error)
                last_error = ServingError(f"{url}: {reason}", retryable=True)
        raise ServingError(
            f"{last_error} (gave up after {self.retries + 1} attempts)",
            status=last_error.status,
            retryable=True,
        )


def _server_message(error):
    text = error.read().decode(errors="replace")
    try:
        return json.loads(text).get("error", text)
    except (ValueError, AttributeError):
        return text


# TF Serving's JSON metadata names dtypes as in types.proto.
_DTYPES = {
    "DT_FLOAT": "float32",
    "DT_DOUBLE": "float64",
    "DT_HALF": "float16",
    "DT_BFLOAT16": "bfloat16",
    "DT_INT8": "int8",
    "DT_INT16": "int16",
    "DT_INT32": "int32",
    "DT_INT64": "int64",
    "DT_UINT8": "uint8",
    "DT_UINT16": "uint16",
    "DT_BOOL": "bool",
    "DT_STRING": "string",
}


def _describe(tensors):
    """`{name: (dtype, shape)}` from TF Serving's JSON `TensorInfo`s."""
    described = {}
    for name, info in tensors.items():
        dtype = str(info.get("dtype", ""))
        dims = info.get("tensor_shape", {}).get("dim", [])
        shape = tuple(None if int(d.get("size", -1)) < 0 else int(d["size"]) for d in dims)
        described[name] = (_DTYPES.get(dtype, dtype.removeprefix("DT_").lower()), shape)
    return described


def _from_json(value):
    array = np.asarray(value)
    return array.astype(np.float32) if array.dtype.kind in "biuf" else array


def _to_json(value):
    array = np.asarray(value)
    if array.dtype.kind in "SO":
        return np.vectorize(lambda item: {"b64": base64.b64encode(item).decode()}, otypes=[object])(array).tolist()
    return array.tolist()
