"""The serving contract checks its inputs: non-finite values, batch sizes that
differ between inputs, and missing, extra or misnamed inputs fail with a
message naming the input, through the reloaded SavedModel and through the
REST and gRPC clients talking to the stand-in server."""

import json
import urllib.request

import keras
import numpy as np
import pytest
import tensorflow as tf

from emokeras.models import build_av_model
from emokeras.serving import GrpcClient
from emokeras.serving import RestClient
from emokeras.serving import ServingError
from emokeras.serving import export_saved_model
from tests.serving_standin import ModelStandIn
from tests.serving_standin import make_grpc_server
from tests.serving_standin import make_rest_server
from tests.tiny import TINY_AV
from tests.tiny import tiny_window

FIX = r"send finite samples, the padding after `valid_frames` too \(silence is 0\)"


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(15)
    return build_av_model(**TINY_AV)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    return export_saved_model(model, tmp_path_factory.mktemp("models") / "emokeras", version=1)


@pytest.fixture(scope="module")
def signatures(exported):
    return tf.saved_model.load(str(exported)).signatures


@pytest.fixture(scope="module")
def servers(exported):
    stand_in = ModelStandIn(exported.parent)
    rest, rest_url = make_rest_server(stand_in)
    grpc_server, grpc_target = make_grpc_server(stand_in)
    yield rest_url, grpc_target
    rest.shutdown()
    grpc_server.stop(0)


@pytest.fixture(scope="module")
def requests(model):
    """A valid request of 3 windows for each signature."""
    window = tiny_window(batch=3, seed=2, valid_frames=[16, 9, 16])
    jpegs = np.array(
        [[tf.io.encode_jpeg(frame).numpy() for frame in sample] for sample in window["video"]], dtype=object
    ).astype(bytes)
    return {
        "serving_default": window,
        "serving_jpeg": {"video_jpeg": jpegs, "audio": window["audio"], "valid_frames": window["valid_frames"]},
        "serving_features": {
            "visual_features": model.visual_encoder.predict(window["video"], verbose=0),
            "audio_features": model.audio_encoder.predict(window["audio"], verbose=0),
            "valid_clips": np.array([2, 2, 2], np.int32),
        },
    }


def _call(signatures, name, inputs):
    return signatures[name](**{k: tf.constant(v) for k, v in inputs.items()})


def _changed(inputs, name, change):
    value = np.array(inputs[name], copy=True)
    change(value)
    return dict(inputs, **{name: value})


def _set(index, value):
    def change(array):
        array[index] = value

    return change


# (signature, input, change, the server's message)
NON_FINITE = [
    pytest.param(
        "serving_default",
        "audio",
        _set(np.s_[0], np.nan),
        r"input `audio` holds 10240 NaN and 0 inf values \(windows \[0\] of the batch; the first at sample 0 of "
        r"window 0\); " + FIX,
        id="all-nan-audio",
    ),
    pytest.param(
        "serving_default",
        "audio",
        _set(np.s_[2, 17], np.inf),
        r"input `audio` holds 0 NaN and 1 inf values \(windows \[2\] of the batch; "
        r"the first at sample 17 of window 2\)",
        id="one-inf-sample",
    ),
    pytest.param(
        # Window 1 holds 9 real frames (5760 samples): NaN in its padding is refused too.
        "serving_default",
        "audio",
        _set(np.s_[1, 9000:], np.nan),
        r"input `audio` holds 1240 NaN and 0 inf values \(windows \[1\] of the batch; the first at sample 9000",
        id="nan-in-padding",
    ),
    pytest.param(
        "serving_jpeg",
        "audio",
        _set(np.s_[1:, 5], -np.inf),
        r"input `audio` holds 0 NaN and 2 inf values \(windows \[1 2\] of the batch; "
        r"the first at sample 5 of window 1\)",
        id="jpeg-signature",
    ),
    pytest.param(
        "serving_features",
        "visual_features",
        _set(np.s_[0, 1, 3], np.nan),
        r"input `visual_features` holds 1 NaN and 0 inf values \(windows \[0\] of the batch; the first at clip 1 of "
        r"window 0\); send finite features, the padding after `valid_clips` too",
        id="nan-feature",
    ),
    pytest.param(
        "serving_features",
        "audio_features",
        _set(np.s_[2], np.inf),
        r"input `audio_features` holds 0 NaN and 128 inf values \(windows \[2\] of the batch; the first at clip 0",
        id="inf-features",
    ),
]


@pytest.mark.parametrize("signature, name, change, message", NON_FINITE)
def test_non_finite_values_fail_naming_the_input_in_the_reloaded_saved_model(
    signatures, requests, signature, name, change, message
):
    inputs = requests[signature]
    assert all(np.isfinite(v).all() for v in _call(signatures, signature, inputs).values())
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _call(signatures, signature, _changed(inputs, name, change))


@pytest.mark.parametrize("signature, name, change, message", NON_FINITE[::2])
def test_non_finite_values_fail_through_the_rest_and_grpc_clients(servers, requests, signature, name, change, message):
    rest_url, grpc_target = servers
    inputs = _changed(requests[signature], name, change)
    with pytest.raises(ServingError, match="(?s)HTTP 400: .*" + message) as rest_error:
        RestClient(rest_url, retries=0).predict(inputs, signature)
    with pytest.raises(ServingError, match="(?s)INVALID_ARGUMENT: .*" + message) as grpc_error:
        GrpcClient(grpc_target, retries=0).predict(inputs, signature)
    assert rest_error.value.status == 400 and grpc_error.value.status == "INVALID_ARGUMENT"
    assert not rest_error.value.retryable and not grpc_error.value.retryable


# (signature, {input: rows kept}, the message)
BATCH_MISMATCHES = [
    pytest.param(
        "serving_default",
        {"audio": 2},
        r"inputs `video`, `audio` must have the same batch size \(one row per window\); "
        r"received batch sizes `video` 3, `audio` 2",
        id="video-audio",
    ),
    pytest.param(
        # The inputs disagree with each other before `valid_frames` is judged.
        "serving_default",
        {"video": 1, "valid_frames": 1},
        r"received batch sizes `video` 1, `audio` 3",
        id="before-valid-frames",
    ),
    pytest.param(
        "serving_jpeg",
        {"video_jpeg": 2},
        r"inputs `video_jpeg`, `audio` must have the same batch size \(one row per window\); "
        r"received batch sizes `video_jpeg` 2, `audio` 3",
        id="jpeg-audio",
    ),
    pytest.param(
        "serving_features",
        {"audio_features": 1},
        r"inputs `visual_features`, `audio_features` must have the same batch size \(one row per window\); "
        r"received batch sizes `visual_features` 3, `audio_features` 1",
        id="features",
    ),
    pytest.param(
        "serving_features",
        {"valid_clips": 2},
        r"input `valid_clips` needs one value per window of the batch",
        id="valid-clips",
    ),
]


@pytest.mark.parametrize("signature, rows, message", BATCH_MISMATCHES)
def test_batch_size_mismatches_fail_at_the_entrance(signatures, servers, requests, signature, rows, message):
    inputs = dict(requests[signature], **{k: requests[signature][k][:n] for k, n in rows.items()})
    with pytest.raises(tf.errors.InvalidArgumentError, match=message):
        _call(signatures, signature, inputs)
    rest_url, grpc_target = servers
    with pytest.raises(ServingError, match="(?s)HTTP 400: .*" + message):
        RestClient(rest_url, retries=0).predict(inputs, signature)
    with pytest.raises(ServingError, match="(?s)INVALID_ARGUMENT: .*" + message):
        GrpcClient(grpc_target, retries=0).predict(inputs, signature)


DEFAULT_INPUTS = (
    r"signature `serving_default` takes inputs `audio` float32 \(batch, 10240\), "
    r"`valid_frames` int32 \(batch,\), `video` uint8 \(batch, 16, 16, 16, 3\)"
)
NOTHING_SENT = r" \(checked against the server's metadata; nothing was sent\)"
# (inputs sent, what the clients say, what the server says)
NAME_ERRORS = [
    pytest.param(
        ("video", "valid_frames"),
        DEFAULT_INPUTS + "; missing `audio`" + NOTHING_SENT,
        r"input size does not match signature: 2!=3 len\({valid_frames,video}\) != "
        r"len\({audio,valid_frames,video}\)\. Sent extra: {}\. Missing but required: {audio}\.",
        id="missing",
    ),
    pytest.param(
        ("video", "audio", "valid_frames", "valid_clips"),
        DEFAULT_INPUTS + "; not inputs of the signature: `valid_clips`" + NOTHING_SENT,
        r"input size does not match signature: 4!=3 .*Sent extra: {valid_clips}\. Missing but required: {}\.",
        id="extra",
    ),
    pytest.param(
        ("video", "sound", "valid_frames"),
        DEFAULT_INPUTS + "; missing `audio`; not inputs of the signature: `sound`" + NOTHING_SENT,
        r"input tensor alias not found in signature: sound\. "
        r"Inputs expected to be in the set {audio,valid_frames,video}\.",
        id="misnamed",
    ),
]


@pytest.mark.parametrize("names, client_message, server_message", NAME_ERRORS)
def test_missing_extra_or_misnamed_inputs_are_named_with_the_expected_shapes(
    signatures, servers, requests, names, client_message, server_message
):
    window = dict(requests["serving_default"])
    inputs = {name: window.get(name, window["audio"] if name == "sound" else window["valid_frames"]) for name in names}
    # The reloaded SavedModel refuses the call before running the graph.
    with pytest.raises(TypeError, match="audio|valid_clips|sound"):
        _call(signatures, "serving_default", inputs)

    rest_url, grpc_target = servers
    # The clients compare the names with the server's metadata and send nothing.
    with pytest.raises(ServingError, match=f"^{rest_url}/v1/models/emokeras: {client_message}$"):
        RestClient(rest_url, retries=0).predict(inputs)
    with pytest.raises(ServingError, match=f"^{grpc_target}: {client_message}$"):
        GrpcClient(grpc_target, retries=0).predict(inputs)
    # A client that sends anyway gets TF Serving's own answer.
    with pytest.raises(ServingError, match=f"HTTP 400: {server_message}"):
        RestClient(rest_url, retries=0, check_inputs=False).predict(inputs)
    with pytest.raises(ServingError, match=f"INVALID_ARGUMENT: {server_message}"):
        GrpcClient(grpc_target, retries=0, check_inputs=False).predict(inputs)


def test_an_unknown_signature_is_named_with_the_served_ones(servers, requests):
    rest_url, grpc_target = servers
    served = r"the model has `data_contract`, `serving_default`, `serving_features`, `serving_jpeg`"
    for client in (RestClient(rest_url, retries=0), GrpcClient(grpc_target, retries=0)):
        with pytest.raises(ServingError, match=f"signature `serving_jpg` is not served; {served}"):
            client.predict(requests["serving_jpeg"], "serving_jpg")


def test_the_clients_read_the_metadata_once_and_again_when_a_request_does_not_match(servers, requests, monkeypatch):
    rest_url, grpc_target = servers
    for client, read in ((RestClient(rest_url), "signatures"), (GrpcClient(grpc_target), "metadata")):
        reads = []
        real = getattr(client, read)
        monkeypatch.setattr(client, read, lambda real=real, reads=reads: reads.append(1) or real())
        for signature in ("serving_default", "serving_features", "serving_default"):
            client.predict(requests[signature], signature)
        assert len(reads) == 1
        # A request that does not match the cached signatures reads them again
        # (a newer model version may take other inputs) before refusing it.
        with pytest.raises(ServingError, match="missing `audio`"):
            client.predict({"video": requests["serving_default"]["video"], "valid_frames": [16, 16, 16]})
        assert len(reads) == 2


def test_the_stand_in_renders_metadata_as_tf_serving_does(servers):
    rest_url, grpc_target = servers
    with urllib.request.urlopen(f"{rest_url}/v1/models/emokeras/metadata") as response:
        metadata = json.loads(response.read())
    audio = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]["audio"]
    assert audio["dtype"] == "DT_FLOAT" and audio["tensor_shape"]["dim"] == [{"size": "-1"}, {"size": "10240"}]
    # Both clients read it alike.
    assert RestClient(rest_url).signatures() == GrpcClient(grpc_target).metadata()
