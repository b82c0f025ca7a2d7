"""Export for TF Serving and the REST / gRPC clients, against `saved_model_cli`,
`tf.saved_model.load` and a stand-in server speaking TF Serving's protocols."""

import json
import pathlib
import subprocess
import sys

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
from tests.tiny import SAMPLES
from tests.tiny import TINY_AV
from tests.tiny import tiny_window

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def model():
    keras.utils.set_random_seed(5)
    return build_av_model(**TINY_AV)


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    base = tmp_path_factory.mktemp("models") / "emokeras"
    return export_saved_model(model, base, version=1)


def _jpeg_window(window):
    """JPEG-encoded frames and the pixels a decoder gets back from them."""
    jpegs = np.array(
        [[tf.io.encode_jpeg(frame, quality=95).numpy() for frame in sample] for sample in window["video"]],
        dtype=object,
    )
    decoded = np.stack([np.stack([tf.io.decode_jpeg(j).numpy() for j in sample]) for sample in jpegs])
    return jpegs, decoded


def test_layout_warmup_requests_and_saved_model_cli(exported, tmp_path):
    from tensorflow_serving.apis import prediction_log_pb2

    assert (exported / "saved_model.pb").exists() and (exported / "variables").is_dir()
    assert exported.name == "1" and not list(exported.parent.glob(".*"))
    records = list(tf.data.TFRecordDataset(str(exported / "assets.extra" / "tf_serving_warmup_requests")))
    logs = [prediction_log_pb2.PredictionLog.FromString(r.numpy()) for r in records]
    requests = [log.predict_log.request for log in logs]
    assert [request.model_spec.signature_name for request in requests] == [
        "serving_default",
        "serving_default",
        "serving_features",
        "serving_features",
    ]
    assert requests[0].inputs["video"].tensor_shape.dim[1].size == 16
    # A whole window, then a 2.2 s utterance (the whole 16-frame window of this tiny model).
    assert [tf.make_ndarray(r.inputs["valid_frames"]).tolist() for r in requests[:2]] == [[16], [16]]
    assert [tf.make_ndarray(r.inputs["valid_clips"]).tolist() for r in requests[2:]] == [[2], [2]]

    show = subprocess.run(
        [pathlib.Path(sys.executable).parent / "saved_model_cli", "show", "--dir", str(exported), "--all"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert show.returncode == 0, show.stderr[-2000:]
    for text in (
        "signature_def['serving_default']",
        "signature_def['serving_jpeg']",
        "signature_def['serving_features']",
        "dtype: DT_UINT8",
        "shape: (-1, 16, 16, 16, 3)",
        "shape: (-1, 10240)",
        "outputs['valence']",
        "shape: (-1, 2)",
    ):
        assert text in show.stdout, text

    window = tiny_window(batch=2)
    np.save(tmp_path / "video.npy", window["video"])
    np.save(tmp_path / "audio.npy", window["audio"])
    np.save(tmp_path / "valid.npy", window["valid_frames"])
    run = subprocess.run(
        [
            pathlib.Path(sys.executable).parent / "saved_model_cli",
            "run",
            "--dir",
            str(exported),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--inputs",
            f"video={tmp_path / 'video.npy'};audio={tmp_path / 'audio.npy'};valid_frames={tmp_path / 'valid.npy'}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Result for output key valence" in run.stdout and "Result for output key arousal" in run.stdout


@pytest.mark.parametrize("batch", [1, 3])
def test_reloaded_signatures_match_keras(model, exported, batch):
    loaded = tf.saved_model.load(str(exported))
    window = tiny_window(batch=batch, seed=batch)
    expected = model.predict(window, verbose=0)
    outputs = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in window.items()})
    for target in ("valence", "arousal"):
        assert outputs[target].dtype == tf.float32 and outputs[target].shape == (batch, 2)
        np.testing.assert_allclose(outputs[target].numpy(), expected[target], atol=1e-5)

    jpegs, decoded = _jpeg_window(window)
    from_jpeg = loaded.signatures["serving_jpeg"](
        video_jpeg=tf.constant(jpegs.astype(bytes)),
        audio=tf.constant(window["audio"]),
        valid_frames=tf.constant(window["valid_frames"]),
    )
    expected_jpeg = model.predict(dict(window, video=decoded), verbose=0)
    np.testing.assert_allclose(from_jpeg["valence"].numpy(), expected_jpeg["valence"], atol=1e-5)

    features = {
        "visual_features": model.visual_encoder.predict(window["video"], verbose=0),
        "audio_features": model.audio_encoder.predict(window["audio"], verbose=0),
    }
    features["valid_clips"] = np.full(batch, 2, np.int32)
    from_features = loaded.signatures["serving_features"](**{k: tf.constant(v) for k, v in features.items()})
    np.testing.assert_allclose(from_features["arousal"].numpy(), expected["arousal"], atol=1e-5)

    # The data contract travels with the export: a signature (one JSON per
    # request row) and a file beside the SavedModel.
    contract = loaded.signatures["data_contract"](request=tf.zeros([batch], tf.int32))["data_contract"]
    assert contract.shape == (batch,)
    assert json.loads(contract.numpy()[0]) == model.data_contract
    assert json.loads((exported / "assets.extra" / "emokeras_data_contract.json").read_text()) == model.data_contract


def test_wrong_shapes_are_named(exported):
    loaded = tf.saved_model.load(str(exported))
    window = tiny_window()
    call = lambda **changes: loaded.signatures["serving_default"](
        **{k: tf.constant(v) for k, v in dict(window, **changes).items()}
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input `video` must have shape \(batch, 16, 16, 16, 3\)"):
        call(video=window["video"][:, :8])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input `audio` must have shape \(batch, 10240\)"):
        call(audio=window["audio"][:, :100])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input `valid_frames` must be at most 16"):
        call(valid_frames=np.array([16, 17], np.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input `valid_frames` must be at least 1"):
        call(valid_frames=np.array([0, 3], np.int32))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"`valid_frames` needs one value per window"):
        call(valid_frames=np.array([16], np.int32))


def test_graph_has_only_stock_ops_and_nothing_xla(exported):
    from tensorflow.core.protobuf import saved_model_pb2
    from tensorflow.python.framework import op_def_registry

    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((exported / "saved_model.pb").read_bytes())
    graph = saved.meta_graphs[0].graph_def
    nodes = list(graph.node) + [n for f in graph.library.function for n in f.node_def]
    ops = sorted({n.op for n in nodes})
    functions = {f.signature.name for f in graph.library.function}
    unknown = [op for op in ops if op not in functions and op_def_registry.get(op) is None]
    assert not unknown, f"ops outside stock TensorFlow: {unknown}"
    assert not [op for op in ops if "Xla" in op], ops
    compiled = [f.signature.name for f in graph.library.function if f.attr["_XlaMustCompile"].b]
    assert not compiled, compiled
    # The preprocessing is in the graph: JPEG decoding, the STFT, the casts.
    assert {"DecodeJpeg", "RFFT", "Cast", "Assert"} <= set(ops), ops


def test_mixed_precision_model_exports_float32_outputs(tmp_path):
    keras.config.set_dtype_policy("mixed_bfloat16")
    model = build_av_model(**TINY_AV)
    keras.config.set_dtype_policy("float32")
    path = export_saved_model(model, tmp_path / "m", version=3)
    outputs = tf.saved_model.load(str(path)).signatures["serving_default"].structured_outputs
    assert {k: v.dtype for k, v in outputs.items()} == {"valence": tf.float32, "arousal": tf.float32}


def test_publish_is_atomic_and_refuses_to_overwrite(model, tmp_path, monkeypatch):
    base = tmp_path / "emokeras"
    first = export_saved_model(model, base, version=1)
    with pytest.raises(FileExistsError, match="exists; pass overwrite=True"):
        export_saved_model(model, base, version=1)
    stamp = (first / "saved_model.pb").stat().st_mtime_ns
    export_saved_model(model, base, version=1, overwrite=True)
    assert (first / "saved_model.pb").stat().st_mtime_ns != stamp
    assert sorted(p.name for p in base.iterdir()) == ["1"]

    def crash(self, path, **kwargs):
        pathlib.Path(path).mkdir(parents=True)
        pathlib.Path(path, "saved_model.pb").write_bytes(b"half")
        raise OSError("disk full")

    # ExportArchive() returns the backend's subclass; patch that one.
    monkeypatch.setattr(type(keras.export.ExportArchive()), "write_out", crash)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, base, version=2)
    # No version 2, no temporary folder left for a polling server to trip on.
    assert sorted(p.name for p in base.iterdir()) == ["1"]


@pytest.fixture(scope="module")
def servers(exported):
    stand_in = ModelStandIn(exported.parent)
    rest, rest_url = make_rest_server(stand_in)
    grpc_server, grpc_target = make_grpc_server(stand_in)
    yield stand_in, rest_url, grpc_target
    rest.shutdown()
    grpc_server.stop(0)


def test_rest_and_grpc_clients_match_keras(model, servers):
    stand_in, rest_url, grpc_target = servers
    window = tiny_window(batch=2, seed=11)
    expected = model.predict(window, verbose=0)
    rest = RestClient(rest_url).predict(window)
    grpc_client = GrpcClient(grpc_target)
    over_grpc = grpc_client.predict(window)
    for target in ("valence", "arousal"):
        np.testing.assert_allclose(rest[target], expected[target], atol=1e-5)
        np.testing.assert_allclose(over_grpc[target], expected[target], atol=1e-5)
    jpegs, decoded = _jpeg_window(window)
    from_jpeg = RestClient(rest_url).predict(
        {"video_jpeg": jpegs.astype(bytes), "audio": window["audio"], "valid_frames": window["valid_frames"]},
        "serving_jpeg",
    )
    np.testing.assert_allclose(
        from_jpeg["valence"], model.predict(dict(window, video=decoded), verbose=0)["valence"], atol=1e-5
    )

    metadata = grpc_client.metadata()
    assert metadata["serving_default"]["inputs"]["video"] == ("uint8", (None, 16, 16, 16, 3))
    assert metadata["serving_jpeg"]["inputs"]["video_jpeg"] == ("string", (None, 16))
    assert metadata["serving_default"]["outputs"]["arousal"] == ("float32", (None, 2))
    rest_metadata = RestClient(rest_url).metadata()["metadata"]["signature_def"]["signature_def"]
    assert set(rest_metadata) == {"serving_default", "serving_jpeg", "serving_features", "data_contract"}
    assert RestClient(rest_url).data_contract() == grpc_client.data_contract() == model.data_contract
    assert RestClient(rest_url).status()["model_version_status"][0]["state"] == "AVAILABLE"


def test_clients_retry_transient_failures_then_give_up(servers):
    stand_in, rest_url, grpc_target = servers
    window = tiny_window(batch=1)
    stand_in.requests, stand_in.fail_first = 0, 2
    assert "valence" in RestClient(rest_url, retries=3, backoff=0.01).predict(window)
    stand_in.requests, stand_in.fail_first = 0, 2
    assert "valence" in GrpcClient(grpc_target, retries=3, backoff=0.01).predict(window)
    stand_in.requests, stand_in.fail_first = 0, 10
    with pytest.raises(ServingError, match=r"HTTP 503: Servable not available yet.*gave up after 2 attempts"):
        RestClient(rest_url, retries=1, backoff=0.01).predict(window)
    stand_in.requests = 0
    with pytest.raises(ServingError, match=r"UNAVAILABLE: stand-in transient failure.*gave up after 2 attempts"):
        GrpcClient(grpc_target, retries=1, backoff=0.01).predict(window)
    stand_in.fail_first = 0
    with pytest.raises(ServingError, match="Connection refused|refused"):
        RestClient("http://127.0.0.1:9", retries=1, backoff=0.01, timeout=2).predict(window)


def test_malformed_requests_get_the_servers_message(servers):
    _, rest_url, grpc_target = servers
    window = tiny_window(batch=1)
    rest, grpc_client = RestClient(rest_url, retries=0), GrpcClient(grpc_target, retries=0)
    short = dict(window, video=window["video"][:, :4])
    with pytest.raises(ServingError, match=r"(?s)HTTP 400: .*input `video` must have shape \(batch, 16, 16, 16, 3\)"):
        rest.predict(short)
    with pytest.raises(ServingError, match=r"(?s)INVALID_ARGUMENT: .*input `video` must have shape"):
        grpc_client.predict(short)
    without_audio = {"video": window["video"], "valid_frames": window["valid_frames"]}
    # Refused by the client against the server's metadata, before sending.
    with pytest.raises(
        ServingError, match=r"missing `audio` \(checked against the server's metadata; nothing was sent\)"
    ):
        rest.predict(without_audio)
    with pytest.raises(ServingError, match=r"missing `audio` \(checked against"):
        grpc_client.predict(without_audio)
    with pytest.raises(ServingError, match=r"HTTP 400: Expects arg\[audio\] to be float32 but string is provided"):
        rest.predict(dict(without_audio, audio=np.array([[b"x"] * SAMPLES])))
    with pytest.raises(ServingError, match="HTTP 404"):
        RestClient(rest_url, model_name="other", retries=0).predict(window)
    with pytest.raises(ServingError, match="NOT_FOUND"):
        GrpcClient(grpc_target, model_name="other", retries=0).predict(window)


def test_cli_export(model, tmp_path, capsys):
    from emokeras.cli import main

    model.save(tmp_path / "model.keras")
    command = ["export", str(tmp_path / "model.keras"), "--base-dir", str(tmp_path / "served"), "--version", "2"]
    assert main(command) == 0
    assert (tmp_path / "served" / "2" / "saved_model.pb").exists()
    assert main(command) == 2 and "--overwrite" in capsys.readouterr().err


# Windows of 8 clips of 8 frames (2.56 s): a 2.2 s utterance (55 frames, as
# CREMA-D's) fills 7 clips, the last one partly, and leaves one clip of padding.
UTTERANCE_MODEL = dict(TINY_AV, clips=8)
UTTERANCE_FRAMES = 55


def _utterance_window(seed, padding_seed):
    """A 2.2 s utterance padded to a window, the padding drawn from
    `padding_seed` (its content must not matter)."""
    rng, noise = np.random.default_rng(seed), np.random.default_rng(padding_seed)
    video = noise.integers(0, 256, (1, 64, 16, 16, 3), dtype=np.uint8)
    audio = noise.normal(size=(1, 64 * 640)).astype("float32")
    video[:, :UTTERANCE_FRAMES] = rng.integers(0, 256, (1, UTTERANCE_FRAMES, 16, 16, 3), dtype=np.uint8)
    audio[:, : UTTERANCE_FRAMES * 640] = rng.normal(scale=0.1, size=(1, UTTERANCE_FRAMES * 640))
    return {"video": video, "audio": audio, "valid_frames": np.array([UTTERANCE_FRAMES], np.int32)}


def test_a_padded_utterance_through_the_reloaded_saved_model_and_the_servers(tmp_path):
    keras.utils.set_random_seed(8)
    model = build_av_model(**UTTERANCE_MODEL)
    base = tmp_path / "emokeras"
    loaded = tf.saved_model.load(str(export_saved_model(model, base, version=1)))
    signature = loaded.signatures["serving_default"]
    window = _utterance_window(seed=1, padding_seed=2)
    served = signature(**{k: tf.constant(v) for k, v in window.items()})
    expected = model.predict(window, verbose=0)
    # Other padding, same valid clips (7 of 8: the partly filled one counts).
    repadded = signature(**{k: tf.constant(v) for k, v in _utterance_window(seed=1, padding_seed=3).items()})
    for target in ("valence", "arousal"):
        np.testing.assert_allclose(served[target].numpy(), expected[target], atol=1e-5)
        np.testing.assert_allclose(repadded[target].numpy()[:, :7], served[target].numpy()[:, :7], atol=1e-6)
    # The warm-up requests hold the same utterance, padded.
    from tensorflow_serving.apis import prediction_log_pb2

    records = tf.data.TFRecordDataset(str(base / "1" / "assets.extra" / "tf_serving_warmup_requests"))
    requests = [prediction_log_pb2.PredictionLog.FromString(r.numpy()).predict_log.request for r in records]
    assert tf.make_ndarray(requests[1].inputs["valid_frames"]).tolist() == [UTTERANCE_FRAMES]
    assert tf.make_ndarray(requests[3].inputs["valid_clips"]).tolist() == [7]

    # Through the REST and gRPC protocols, as a client sends it.
    stand_in = ModelStandIn(base)
    rest, rest_url = make_rest_server(stand_in)
    grpc_server, grpc_target = make_grpc_server(stand_in)
    try:
        for client in (RestClient(rest_url), GrpcClient(grpc_target)):
            answer = client.predict(window)
            np.testing.assert_allclose(answer["arousal"], expected["arousal"], atol=1e-5)
    finally:
        rest.shutdown()
        grpc_server.stop(0)


def test_an_audio_only_model_serves_its_one_modality_in_its_units(tmp_path):
    """An MSP-Podcast-style model: signatures without video, outputs on the
    corpus's 1-7 scale, and `predict --server` (REST) equal to local."""
    from emokeras.prediction import LocalPredictor
    from emokeras.prediction import ServerPredictor

    keras.utils.set_random_seed(9)
    ranges = {"valence": (1.0, 7.0), "arousal": (1.0, 7.0)}
    model = build_av_model(fusion="audio_only", target_ranges=ranges, **TINY_AV)
    base = tmp_path / "emokeras"
    loaded = tf.saved_model.load(str(export_saved_model(model, base, version=1)))
    assert "serving_jpeg" not in loaded.signatures
    _, inputs = loaded.signatures["serving_default"].structured_input_signature
    assert sorted(inputs) == ["audio", "valid_frames"]
    window = {k: v for k, v in tiny_window(batch=3, seed=4, valid_frames=[5, 9, 16]).items() if k != "video"}
    served = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in window.items()})
    expected = model.predict(window, verbose=0)
    for target in ranges:
        np.testing.assert_allclose(served[target].numpy(), expected[target], atol=1e-5)
        assert np.all((served[target].numpy() >= 1) & (served[target].numpy() <= 7))
    stand_in = ModelStandIn(base)
    rest, rest_url = make_rest_server(stand_in)
    try:
        remote = ServerPredictor(rest_url)
        assert remote.signature_name == "serving_default"
        assert remote.contract["target_ranges"] == {t: list(r) for t, r in ranges.items()}
        answer, local = remote(window), LocalPredictor(model)(window)
        np.testing.assert_allclose(answer["arousal"], local["arousal"], atol=1e-5)
    finally:
        rest.shutdown()
