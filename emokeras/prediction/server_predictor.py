import numpy as np

from emokeras.data.shard_format import encode_jpeg
from emokeras.serving.names import DEFAULT_MODEL_NAME


class ServerPredictor:
    """Predicts batches of windows on a TensorFlow Serving server.

    The model's data contract (window geometry, rates, image size, targets,
    how its training data was processed) is read from the served
    `data_contract` signature, so the client cuts the windows the model
    expects.

    Args:
        server: `http(s)://host:port` for REST, which sends JPEG frames
            through the `serving_jpeg` signature (far smaller than raw pixels
            in JSON; `serving_default` for an audio-only model), or
            `host:port` for gRPC (raw uint8 tensors, `serving_default`).
        model_name: the served model's name.
        signature_name: the signature to call (default as above).

    Call arguments:
        windows: `{"video": uint8 (batch, L*T, S, S, 3), "audio": float32
            (batch, samples), "valid_frames": int32 (batch,)}` (the
            modalities the model reads).

    Returns:
        `{target: (batch, clips)}` NumPy arrays.
    """

    def __init__(self, server, model_name=DEFAULT_MODEL_NAME, signature_name=None):
        rest = server.startswith(("http://", "https://"))
        if rest:
            from emokeras.serving import RestClient

            self.client = RestClient(server, model_name=model_name)
        else:
            from emokeras.serving import GrpcClient

            self.client = GrpcClient(server, model_name=model_name)
        self.contract = self.client.data_contract()
        # An audio-only model has no JPEG signature.
        jpeg = rest and "video" in self.contract["inputs"]
        self.signature_name = signature_name or ("serving_jpeg" if jpeg else "serving_default")

    def __call__(self, windows):
        inputs = dict(windows)
        if self.signature_name == "serving_jpeg":
            jpegs = [[encode_jpeg(frame) for frame in window] for window in inputs.pop("video")]
            inputs["video_jpeg"] = np.array(jpegs, dtype=object).astype(bytes)
        return self.client.predict(inputs, signature_name=self.signature_name)
