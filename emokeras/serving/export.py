"""Export for TensorFlow Serving: a SavedModel with fixed-shape signatures,
warm-up requests, published atomically as `<base_dir>/<version>/`."""

import json
import pathlib

import numpy as np
import tensorflow as tf

from emokeras.atomic_write import atomic_path
from emokeras.atomic_write import remove_stale_temporaries
from emokeras.atomic_write import write_json_atomically
from emokeras.data.shard_format import decode_jpeg_frames
from emokeras.models.av_fusion_regressor import PRESENCE_INPUTS
from emokeras.serving.names import DEFAULT_MODEL_NAME

SIGNATURES = ("serving_default", "serving_jpeg", "serving_features", "data_contract")
WARMUP_FILE = "tf_serving_warmup_requests"
# The model's data contract as JSON, beside the SavedModel for tools that
# read files; clients of a server call the `data_contract` signature.
CONTRACT_FILE = "emokeras_data_contract.json"
# The padded warm-up request holds an utterance of this length (CREMA-D's).
WARMUP_UTTERANCE_SECONDS = 2.2
# What a request with NaN or inf values should do instead.
AUDIO_FIX = "send finite samples, the padding after `valid_frames` too (silence is 0)"
FEATURES_FIX = "send finite features, the padding after `valid_clips` too (zeros will do)"


def _checked(tensor, expected, name):
    """Fails with a message naming the expected shape (TF Serving passes the
    message to the client) instead of an obscure reshape error deep inside."""
    expected_text = "(batch, " + ", ".join(str(d) for d in expected) + ")"
    check = tf.debugging.assert_equal(
        tf.shape(tensor)[1:],
        tf.constant(expected, tf.int32),
        message=f"input `{name}` must have shape {expected_text}",
    )
    # Everything downstream waits for the check, so it is the error reported.
    with tf.control_dependencies([check]):
        return tf.identity(tensor)


def _checked_count(count, batch_of, largest, name):
    """Checks a per-example count of real frames (or clips): one per row of
    `batch_of`, from 1 to `largest`."""
    checks = [
        tf.debugging.assert_equal(
            tf.shape(count)[0], tf.shape(batch_of)[0], message=f"input `{name}` needs one value per window of the batch"
        ),
        tf.debugging.assert_greater_equal(count, 1, message=f"input `{name}` must be at least 1"),
        tf.debugging.assert_less_equal(count, largest, message=f"input `{name}` must be at most {largest}"),
    ]
    with tf.control_dependencies(checks):
        return tf.identity(count)


def _failure_message(ok, describe):
    """`describe()` (a string tensor) when `ok` is false, else "": the
    message is only formatted for a request that fails."""
    return tf.cond(ok, lambda: tf.constant(""), describe)


def _same_batch(named, count):
    """Checks that the inputs `[(name, tensor), ...]` hold one row per window
    each, naming every input and its batch size otherwise; returns the
    tensors and the per-window `count`, which wait for the check (so that it
    is the error reported; `_checked_count` checks `count`'s own size)."""
    if len(named) < 2:
        return [tensor for _, tensor in named] + [count]
    sizes = [tf.shape(tensor)[0] for _, tensor in named]
    same = tf.reduce_all(tf.equal(tf.stack(sizes), sizes[0]))
    names = ", ".join(f"`{name}`" for name, _ in named)
    template = f"inputs {names} must have the same batch size (one row per window); received batch sizes " + ", ".join(
        f"`{name}` {{}}" for name, _ in named
    )
    check = tf.debugging.Assert(same, [_failure_message(same, lambda: tf.strings.format(template, sizes))])
    with tf.control_dependencies([check]):
        return [tf.identity(tensor) for _, tensor in named] + [tf.identity(count)]


def _finite(tensor, name, position, fix):
    """Fails when a float input `(batch, positions, ...)` holds NaN or inf,
    with a message naming the input, how many values of each kind, the
    windows that hold them and the first one (its `position`, e.g. sample or
    clip); a non-finite value anywhere, padding included, is refused rather
    than turned into a number that looks like an answer."""
    shape = tf.shape(tensor)
    values = tf.reshape(tensor, tf.stack([shape[0], shape[1], -1]))
    nan, inf = tf.math.is_nan(values), tf.math.is_inf(values)
    bad = tf.reduce_any(nan | inf, axis=-1)  # (batch, positions)
    ok = tf.logical_not(tf.reduce_any(bad))

    def describe():
        first = tf.argmax(tf.cast(tf.reshape(bad, [-1]), tf.int32), output_type=tf.int32)
        return tf.strings.format(
            f"input `{name}` holds {{}} NaN and {{}} inf values (windows {{}} of the batch; the first at {position} "
            f"{{}} of window {{}}); {fix}",
            [
                tf.math.count_nonzero(nan),
                tf.math.count_nonzero(inf),
                tf.where(tf.reduce_any(bad, axis=1))[:, 0],
                first % shape[1],
                first // shape[1],
            ],
        )

    check = tf.debugging.Assert(ok, [_failure_message(ok, describe)])
    with tf.control_dependencies([check]):
        return tf.identity(tensor)


def _keyword_function(function, specs):
    """`function(**inputs)` as a function of positional tensors, one per
    spec in order: the signature's input names are the specs' names."""
    names = [spec.name for spec in specs]

    def call(*tensors):
        return function(**dict(zip(names, tensors)))

    return call, specs


def serving_functions(model):
    """The serving functions of an `AVEmotionRegressor`, each with its input
    signature. Preprocessing (scaling to [-1, 1], log-mel, replacing the
    padding of short windows) happens inside the model, as in training;
    outputs are float32 whatever the dtype policy. Each signature takes the
    modalities the model reads, no more (an `audio_only` model has no
    `serving_jpeg`). A model trained with `modality_dropout` also takes
    the per-clip presence marks `visual_present` / `audio_present` in every
    signature."""
    frames = model.clips * model.frames_per_clip
    size = model.image_size
    samples = model.clips * model.samples_per_clip
    video_shape = (frames, size, size, 3)
    targets = list(model.targets)
    reads_video, reads_audio = "video" in model.input, "audio" in model.input
    marked = bool(model.data_contract.get("presence_marks"))

    def outputs_of(predictions):
        return {t: tf.cast(predictions[t], tf.float32) for t in targets}

    def with_marks(inputs, batch_of, visual_present, audio_present):
        """The presence marks of a marked model, checked: `(batch, clips)`,
        one row per window."""
        if not marked:
            return inputs
        for name, marks in (("visual_present", visual_present), ("audio_present", audio_present)):
            marks = _checked(marks, (model.clips,), name)
            check = tf.debugging.assert_equal(
                tf.shape(marks)[0], tf.shape(batch_of)[0], message=f"input `{name}` needs one row per window"
            )
            with tf.control_dependencies([check]):
                inputs[name] = tf.cast(marks, tf.int32)
        return inputs

    def serving_default(valid_frames, video=None, audio=None, visual_present=None, audio_present=None):
        named = [(name, x) for name, x in (("video", video), ("audio", audio)) if x is not None]
        *checked, valid_frames = _same_batch(named, valid_frames)
        inputs = dict(zip((name for name, _ in named), checked))
        batch_of = inputs["audio"] if audio is not None else inputs["video"]
        inputs["valid_frames"] = _checked_count(valid_frames, batch_of, frames, "valid_frames")
        if video is not None:
            inputs["video"] = tf.cast(_checked(inputs["video"], video_shape, "video"), tf.float32)
        if audio is not None:
            audio = _checked(inputs["audio"], (samples,), "audio")
            inputs["audio"] = _finite(audio, "audio", "sample", AUDIO_FIX)
        inputs = with_marks(inputs, batch_of, visual_present, audio_present)
        return outputs_of(model(inputs, training=False))

    def serving_jpeg(video_jpeg, valid_frames, audio=None, visual_present=None, audio_present=None):
        named = [("video_jpeg", video_jpeg)] + ([("audio", audio)] if audio is not None else [])
        *checked, valid_frames = _same_batch(named, valid_frames)
        video_jpeg, audio = checked[0], checked[1] if audio is not None else None
        flat = tf.reshape(_checked(video_jpeg, (frames,), "video_jpeg"), [-1])
        decoded = decode_jpeg_frames(flat)
        check = tf.debugging.assert_equal(
            tf.shape(decoded)[1:3],
            tf.constant([size, size]),
            message=f"JPEG frames of `video_jpeg` must be {size} x {size} pixels",
        )
        with tf.control_dependencies([check]):
            video = tf.reshape(decoded, (-1,) + video_shape)
        return serving_default(
            valid_frames, video=video, audio=audio, visual_present=visual_present, audio_present=audio_present
        )

    head = model.fusion_regressor

    def serving_features(
        valid_clips, visual_features=None, audio_features=None, visual_present=None, audio_present=None
    ):
        named = [
            (name, x)
            for name, x in (("visual_features", visual_features), ("audio_features", audio_features))
            if x is not None
        ]
        *checked, valid_clips = _same_batch(named, valid_clips)
        features = dict(zip((name for name, _ in named), checked))
        valid_clips = _checked_count(valid_clips, checked[0], model.clips, "valid_clips")
        inputs = {"clip_mask": tf.cast(tf.range(model.clips)[None, :] < valid_clips[:, None], tf.int32)}
        for name, tensor in features.items():
            tensor = _checked(tensor, tuple(head.input[name].shape[1:]), name)
            inputs[name] = _finite(tensor, name, "clip", FEATURES_FIX)
        inputs = with_marks(inputs, checked[0], visual_present, audio_present)
        return outputs_of(head(inputs, training=False))

    contract_json = json.dumps(model.data_contract, sort_keys=True)

    def data_contract(request):
        # One copy per request row, so that the signature batches like the others.
        return {"data_contract": tf.fill(tf.shape(request), contract_json)}

    video = [tf.TensorSpec((None,) + video_shape, tf.uint8, name="video")] if reads_video else []
    audio = [tf.TensorSpec((None, samples), tf.float32, name="audio")] if reads_audio else []
    valid_frames = [tf.TensorSpec((None,), tf.int32, name="valid_frames")]
    marks = [tf.TensorSpec((None, model.clips), tf.int32, name=name) for name in PRESENCE_INPUTS] if marked else []
    features = [
        tf.TensorSpec((None, model.clips, head.input[name].shape[-1]), tf.float32, name=name)
        for name in ("visual_features", "audio_features")
        if name in head.input
    ]
    functions = {
        "serving_default": _keyword_function(serving_default, video + audio + valid_frames + marks),
        "serving_features": _keyword_function(
            serving_features, features + [tf.TensorSpec((None,), tf.int32, name="valid_clips")] + marks
        ),
        "data_contract": (data_contract, [tf.TensorSpec((None,), tf.int32, name="request")]),
    }
    if reads_video:
        jpeg = [tf.TensorSpec((None, frames), tf.string, name="video_jpeg")]
        functions["serving_jpeg"] = _keyword_function(serving_jpeg, jpeg + audio + valid_frames + marks)
    return functions


def signature_names(model):
    """The signatures `export_saved_model` writes for `model` (an audio-only
    model has no `serving_jpeg`)."""
    return [name for name in SIGNATURES if name != "serving_jpeg" or "video" in model.input]


def _warmup_requests(model, model_name, functions):
    """PredictionLog records (the official protos) that TF Serving replays
    at load time so the first real request is not slow."""
    from tensorflow_serving.apis import model_pb2
    from tensorflow_serving.apis import predict_pb2
    from tensorflow_serving.apis import prediction_log_pb2

    # A whole window, and a short utterance padded into one.
    window = model.clips * model.frames_per_clip
    utterance = min(window, round(WARMUP_UTTERANCE_SECONDS * model.frame_rate))
    counts = {
        "valid_frames": (window, utterance),
        "valid_clips": (model.clips, -(-utterance // model.frames_per_clip)),
    }
    records = []
    for signature in ("serving_default", "serving_features"):
        _, specs = functions[signature]
        for variant in (0, 1):
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=signature)
            )
            for spec in specs:
                if spec.name in counts:
                    value = np.array([counts[spec.name][variant]], np.int32)
                elif spec.name in PRESENCE_INPUTS:
                    value = np.ones((1,) + tuple(spec.shape[1:]), np.int32)
                else:
                    value = np.zeros((1,) + tuple(spec.shape[1:]), spec.dtype.as_numpy_dtype)
                request.inputs[spec.name].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            records.append(log.SerializeToString())
    return records


def export_saved_model(model, base_dir, version, model_name=DEFAULT_MODEL_NAME, overwrite=False):
    """Writes `model` as a TF Serving SavedModel at `<base_dir>/<version>/`.

    Signatures (all with fixed shapes, float32 outputs named after the
    targets, e.g. `valence`, `arousal`: `(batch, clips)`):
    - `serving_default`: `video` uint8 `(batch, clips * frames_per_clip,
      image_size, image_size, 3)` face crops, `audio` float32
      `(batch, clips * samples_per_clip)` at the model's sample rate and
      `valid_frames` int32 `(batch,)`, the real frames of each window (a
      shorter clip is padded at the end; outputs at clips without a real
      frame are meaningless);
    - `serving_jpeg`: `video_jpeg` string `(batch, clips * frames_per_clip)`
      of JPEG-encoded crops (compact over REST with base64), `audio` and
      `valid_frames`;
    - `serving_features`: `visual_features`, `audio_features` float32
      `(batch, clips, features)`, for cached features, and `valid_clips`
      int32 `(batch,)`;
    - a unimodal model's signatures take its one modality only (an
      `audio_only` model has no `serving_jpeg`);
    - a model trained with `modality_dropout` (`presence_marks` in its data
      contract) also takes `visual_present` and `audio_present` int32
      `(batch, clips)` in each of the above: 1 where the clip shows the
      face / holds a voice (`emokeras.data.modality_marks`);
    - `data_contract`: `request` int32 `(batch,)` (values unused) ->
      `data_contract` string `(batch,)`, the model's data contract as JSON
      (window geometry, rates, image size, targets, training data), also in
      `assets.extra/emokeras_data_contract.json`.

    The graph holds stock TensorFlow ops only, nothing XLA-compiled, and
    `assets.extra/tf_serving_warmup_requests` (a whole window and a 2.2 s
    utterance padded into one, for `serving_default` and `serving_features`).
    The version is written to a
    hidden temporary folder and renamed into place, so a server polling
    `base_dir` never sees a half-written version.

    Args:
        model: an `emokeras.models.AVEmotionRegressor`.
        base_dir: the model's folder that TF Serving watches.
        version: a positive integer.
        model_name: the name TF Serving serves it under (in the warm-up
            requests).
        overwrite: replace an existing version.

    Returns:
        The path of the published version.
    """
    import keras

    version = int(version)
    if version <= 0:
        raise ValueError(f"version must be a positive integer. Received: {version}")
    base_dir = pathlib.Path(base_dir)
    final = base_dir / str(version)
    if final.exists() and not overwrite:
        raise FileExistsError(
            f"{final} exists; pass overwrite=True (--overwrite) to replace it, or export a new version number"
        )
    # A version a killed export left half-written goes first.
    remove_stale_temporaries(base_dir)
    with atomic_path(final) as temporary:
        archive = keras.export.ExportArchive()
        archive.track(model)
        functions = serving_functions(model)
        for name in signature_names(model):
            function, signature = functions[name]
            archive.add_endpoint(name=name, fn=function, input_signature=signature)
        archive.write_out(str(temporary), verbose=False)
        extra = temporary / "assets.extra"
        extra.mkdir()
        with tf.io.TFRecordWriter(str(extra / WARMUP_FILE)) as writer:
            for record in _warmup_requests(model, model_name, functions):
                writer.write(record)
        write_json_atomically(extra / CONTRACT_FILE, model.data_contract)
    return final
