"""A modality that is not there: per-clip presence marks, the absent
features filled in from the window's other clips (or a learned
placeholder), a head per case, clips with neither masked, modality dropout
in the training data, the loss per case, and the marks a live stream
feeds."""

import numpy as np
import pytest

from tests.tiny import TINY_AV

FUSIONS = ("cross_attention", "concat", "lstm", "self_attention")


def _head(fusion):
    import keras

    from emokeras.models import AVFusionRegressor

    keras.utils.set_random_seed(0)
    sizes = dict(clips=4, visual_dim=8, audio_dim=8, head_units=(8,), lstm_units=4)
    return AVFusionRegressor(fusion=fusion, presence_marks=True, **sizes)


def _features(seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.normal(size=(2, 4, 8)).astype("float32") for name in ("visual_features", "audio_features")}


def _numpy_fill(features, sources, there, placeholder, reach):
    """The fill rule written out clip by clip: an absent clip takes the
    average of the source clips weighted by exp(-distance / reach), or the
    placeholder when there is none (or reach is 0)."""
    filled = features.astype(np.float64).copy()
    for b in range(features.shape[0]):
        for j in range(features.shape[1]):
            if there[b, j]:
                continue
            weights = np.array(
                [np.exp(-abs(i - j) / reach) if reach and sources[b, i] else 0.0 for i in range(features.shape[1])]
            )
            filled[b, j] = weights @ features[b] / weights.sum() if weights.sum() else placeholder
    return filled


@pytest.mark.parametrize("reach", (1.0, 2.5, 0.0))
def test_an_absent_modality_is_filled_from_the_clips_that_have_it(reach):
    from emokeras.layers import MissingModalities

    rng = np.random.default_rng(int(reach * 10))
    layer = MissingModalities(visual_dim=3, audio_dim=2, fill_reach=reach)
    visual = rng.normal(size=(4, 6, 3)).astype("float32")
    audio = rng.normal(size=(4, 6, 2)).astype("float32")
    visual_there = (rng.random((4, 6)) < 0.5).astype(np.int32)
    visual_there[0] = 0  # a window without a face: placeholders
    audio_there = np.where(visual_there == 0, 1, (rng.random((4, 6)) < 0.5)).astype(np.int32)
    clip_mask = np.ones((4, 6), np.int32)
    clip_mask[1, 4:] = 0  # padding never serves as a fill
    visual_there[1, 4:] = audio_there[1, 4:] = 1
    out_visual, out_audio, out_mask, presence = (
        np.asarray(x) for x in layer(visual, audio, visual_there, audio_there, clip_mask)
    )
    real = clip_mask == 1
    for name, features, there, placeholder, out in (
        ("visual", visual, visual_there, layer.visual_placeholder, out_visual),
        ("audio", audio, audio_there, layer.audio_placeholder, out_audio),
    ):
        expected = _numpy_fill(features, (there == 1) & real, there == 1, np.asarray(placeholder), reach)
        np.testing.assert_allclose(out, expected, atol=1e-5, err_msg=name)
    np.testing.assert_array_equal(presence, np.stack([visual_there, audio_there], -1))
    np.testing.assert_array_equal(out_mask, clip_mask)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_a_model_predicts_each_clip_with_the_head_for_what_it_has(fusion):
    import keras

    head = _head(fusion)
    features = _features()
    marks = {"visual_present": np.ones((2, 4), np.int32), "audio_present": np.ones((2, 4), np.int32)}
    # No marks means both modalities everywhere.
    np.testing.assert_array_equal(
        head.predict_on_batch(features)["valence"], head.predict_on_batch({**features, **marks})["valence"]
    )
    marks["visual_present"][0, 1] = 0
    marks["audio_present"][1, 2] = 0
    absent = head.predict_on_batch({**features, **marks})
    assert not np.allclose(absent["valence"], head.predict_on_batch(features)["valence"])
    # What an absent modality's features hold does not matter.
    noise = {name: value.copy() for name, value in features.items()}
    noise["visual_features"][0, 1] = 100.0
    noise["audio_features"][1, 2] = -100.0
    np.testing.assert_array_equal(absent["valence"], head.predict_on_batch({**noise, **marks})["valence"])
    # Each clip's value is its case's head's.
    cases = keras.Model(
        head.inputs, {case: head.get_layer(f"valence_{case}").output for case in ("both", "face_only", "voice_only")}
    ).predict_on_batch({**features, **marks, "clip_mask": np.ones((2, 4), np.int32)})
    expected = cases["both"].copy()
    expected[0, 1] = cases["voice_only"][0, 1]
    expected[1, 2] = cases["face_only"][1, 2]
    np.testing.assert_allclose(absent["valence"], expected, atol=1e-6)
    assert not np.allclose(cases["voice_only"], cases["both"])


@pytest.mark.parametrize("fusion", ("cross_attention", "lstm", "self_attention"))
def test_a_clip_with_neither_modality_is_masked_like_padding(fusion):
    head = _head(fusion)
    features = _features(1)
    marks = {"visual_present": np.ones((2, 4), np.int32), "audio_present": np.ones((2, 4), np.int32)}
    marks["visual_present"][:, 3] = marks["audio_present"][:, 3] = 0
    neither = head.predict_on_batch({**features, **marks})["valence"]
    mask = np.ones((2, 4), np.int32)
    mask[:, 3] = 0
    padded = head.predict_on_batch({**features, "clip_mask": mask})["valence"]
    np.testing.assert_allclose(neither[:, :3], padded[:, :3], atol=1e-6)


def _marked_windows(windows=2000, clips=10):
    import tensorflow as tf

    visual_there = np.ones((windows, clips), np.int32)
    visual_there[:, :3] = 0  # no face on these clips: their voice is never hidden
    audio_there = np.ones((windows, clips), np.int32)
    audio_there[:, 3] = 0  # no voice here: the face is never hidden
    inputs = {"visual_present": visual_there, "audio_present": audio_there, "other": np.arange(windows)}
    labels = {"valence": np.random.default_rng(0).normal(size=(windows, clips)).astype("float32")}
    return tf.data.Dataset.from_tensor_slices((inputs, labels, labels)), visual_there, audio_there


def test_modality_dropout_hides_one_modality_of_a_share_of_clips_never_both():
    from emokeras.data.modality_marks import with_modality_dropout

    windows, visual_there, audio_there = _marked_windows()
    dropped = with_modality_dropout(windows, 0.4, seed=3, reshuffle_each_iteration=False)
    hidden = list(dropped.as_numpy_iterator())
    face = np.stack([inputs["visual_present"] for inputs, _, _ in hidden])
    voice = np.stack([inputs["audio_present"] for inputs, _, _ in hidden])
    hidden_face = (face == 0) & (visual_there == 1)
    hidden_voice = (voice == 0) & (audio_there == 1)
    assert not (hidden_face & hidden_voice).any()
    assert not hidden_voice[:, :3].any() and not hidden_face[:, 3].any()
    assert ((face == 1) | (voice == 1)).all()  # never a clip with neither
    assert hidden_face[:, 4:].mean() == pytest.approx(0.2, abs=0.01)
    assert hidden_voice[:, 4:].mean() == pytest.approx(0.2, abs=0.01)
    # Everything else as it was, in order; the draws fixed by the seed.
    for index, (inputs, labels, weights) in enumerate(hidden[:5]):
        assert inputs["other"] == index
        np.testing.assert_array_equal(labels["valence"], weights["valence"])

    def faces(dataset):
        return np.stack([inputs["visual_present"] for inputs, _, _ in dataset.as_numpy_iterator()])

    np.testing.assert_array_equal(faces(dropped), face)
    assert (faces(with_modality_dropout(windows, 0.4, seed=4)) != face).mean() > 0.1
    with pytest.raises(ValueError, match="presence_marks=True"):
        with_modality_dropout(windows.map(lambda inputs, *rest: ({"other": inputs["other"]}, *rest)), 0.4, seed=3)


def _numpy_ccc(truth, prediction, weights):
    if weights.sum() == 0:
        return 0.0
    mean_t, mean_p = np.average(truth, weights=weights), np.average(prediction, weights=weights)
    var_t = np.average((truth - mean_t) ** 2, weights=weights)
    var_p = np.average((prediction - mean_p) ** 2, weights=weights)
    cov = np.average((truth - mean_t) * (prediction - mean_p), weights=weights)
    return 2 * cov / (var_t + var_p + (mean_t - mean_p) ** 2)


@pytest.mark.parametrize("fusion", ("concat", "cross_attention"))
def test_the_training_loss_scores_each_case_on_every_clip_that_has_what_it_needs(fusion):
    """Per target, the CCC of the fused head on the complete clips, of the
    face-only heads on every clip with a face, of the voice-only heads on
    every clip with a voice, weighted by those clip counts: against NumPy.
    Without marks, every clip is complete."""
    import keras

    from emokeras.losses import ConcordanceCorrelationLoss

    head = _head(fusion)
    head.compile(loss={t: ConcordanceCorrelationLoss() for t in ("valence", "arousal")})
    rng = np.random.default_rng(7)
    x = {**_features(2), "clip_mask": np.ones((2, 4), np.int32)}
    x["visual_present"] = np.array([[1, 0, 1, 1], [1, 1, 0, 0]], np.int32)
    x["audio_present"] = np.array([[1, 1, 0, 1], [0, 1, 1, 0]], np.int32)
    y = {t: rng.uniform(-1, 1, (2, 4)).astype("float32") for t in ("valence", "arousal")}
    weights = {t: np.array([[1, 1, 0.5, 1], [1, 0, 1, 1]], np.float32) for t in y}
    names = [f"{t}_{case}" for t in y for case in ("both", "face_only", "voice_only")]
    probe = keras.Model(head.inputs, {name: head.get_layer(name).output for name in names})

    def expected_loss(inputs, face, voice):
        # Inference: no dropout, no context exclusions. No marks: both everywhere.
        ones = {"visual_present": np.ones((2, 4), np.int32), "audio_present": np.ones((2, 4), np.int32)}
        predictions = probe.predict_on_batch({**ones, **inputs})
        total = 0.0
        for target in y:
            cases = {"both": face & voice, "face_only": face, "voice_only": voice}
            counts = {case: float((weights[target] * clips).sum()) for case, clips in cases.items()}
            for case, clips in cases.items():
                prediction = predictions[f"{target}_{case}"].ravel()
                ccc = _numpy_ccc(y[target].ravel(), prediction, (weights[target] * clips).ravel())
                total += counts[case] / sum(counts.values()) * (1 - ccc)
        return total

    loss = float(head.compute_loss(x, y, head(x), weights, training=False))
    assert loss == pytest.approx(expected_loss(x, x["visual_present"] == 1, x["audio_present"] == 1), abs=1e-5)
    plain = {name: value for name, value in x.items() if not name.endswith("_present")}
    everywhere = np.ones((2, 4), bool)
    loss = float(head.compute_loss(plain, y, head(plain), weights, training=False))
    assert loss == pytest.approx(expected_loss(plain, everywhere, everywhere), abs=1e-5)


def _numpy_context(features, sources, reach, radius=None):
    """Each clip's context written out: the sources other than the clip
    (and, given `radius[b, j]`, further than it), weighted by
    exp(-distance / reach); `None` where there is none."""
    batch, clips, _ = features.shape
    context, closeness = {}, np.zeros((batch, clips))
    for b in range(batch):
        for j in range(clips):
            weights = np.array(
                [
                    np.exp(-abs(i - j) / reach)
                    if i != j and sources[b, i] and (radius is None or abs(i - j) > radius[b, j])
                    else 0.0
                    for i in range(clips)
                ]
            )
            if weights.sum():
                context[b, j] = weights @ features[b] / weights.sum()
                closeness[b, j] = weights.max()
    return context, closeness


def test_the_neighbour_context_is_the_other_clips_weighted_by_closeness():
    from emokeras.layers import NeighbourContext

    rng = np.random.default_rng(3)
    layer = NeighbourContext(dim=3, reach=1.5)
    features = rng.normal(size=(5, 6, 3)).astype("float32")
    present = (rng.random((5, 6)) < 0.6).astype(np.int32)
    present[0] = 0  # none in the window: the placeholder, closeness 0
    clip_mask = np.ones((5, 6), np.int32)
    clip_mask[1, 4:] = 0  # padding is never a source
    present[1, 4:] = 1
    context, closeness = (np.asarray(x) for x in layer(features, present, clip_mask))
    expected, expected_closeness = _numpy_context(features, (present == 1) & (clip_mask == 1), 1.5)
    np.testing.assert_allclose(closeness[..., 0], expected_closeness, atol=1e-6)
    for b in range(5):
        for j in range(6):
            want = expected.get((b, j), np.asarray(layer.placeholder))
            np.testing.assert_allclose(context[b, j], want, atol=1e-5, err_msg=f"window {b} clip {j}")
    assert (closeness[0] == 0).all()

    # In training, each clip leaves out the clips within a random 0..exclusion.
    layer = NeighbourContext(dim=1, reach=1.0, exclusion=2, seed=1)
    features = rng.normal(size=(3000, 7, 1)).astype("float32")
    _, closeness = (np.asarray(x)[..., 0] for x in layer(features, None, None, training=True))
    # Clip 3's nearest source is 1, 2 or 3 clips away, equally often.
    nearest = np.round(-np.log(closeness[:, 3])).astype(int)
    assert set(np.unique(nearest)) == {1, 2, 3}
    assert np.bincount(nearest)[1:] / len(nearest) == pytest.approx([1 / 3] * 3, abs=0.04)
    _, inference = (np.asarray(x)[..., 0] for x in layer(features, None, None))
    np.testing.assert_allclose(inference, np.exp(-1.0), atol=1e-6)


def test_models_without_presence_marks_are_as_before_and_unimodal_ones_refuse_them(tmp_path):
    import keras

    from emokeras.models import AVEmotionRegressor
    from emokeras.models import AVFusionRegressor
    from emokeras.saving import load_model
    from emokeras.training import load_config

    plain = AVEmotionRegressor(**TINY_AV)
    assert "visual_present" not in plain.input and plain.data_contract["presence_marks"] is False
    assert not [layer for layer in plain.fusion_regressor.layers if layer.name == "missing_modalities"]
    # A config written before the argument existed loads.
    config = plain.fusion_regressor.get_config()
    config.pop("presence_marks")
    assert AVFusionRegressor.from_config(config).presence_marks is False
    # One saved by the previous version: without modality dropout it loads;
    # with it (a placeholder design this version replaced), a clear refusal.
    earlier = {**plain.get_config(), "modality_dropout": 0.0}
    earlier.pop("presence_marks")
    assert AVEmotionRegressor.from_config(earlier).presence_marks is False
    with pytest.raises(ValueError, match=r"train it again with `--set modality_dropout=0.3`"):
        AVFusionRegressor.from_config({**config, "modality_dropout": 0.3})
    with pytest.raises(ValueError, match="presence_marks needs a fusion of both modalities"):
        AVEmotionRegressor(**TINY_AV, fusion="audio_only", presence_marks=True)
    with pytest.raises(ValueError, match="needs a fused model; fusion is 'visual_only'"):
        load_config(overrides={"fusion": "visual_only", "modality_dropout": 0.2})

    keras.utils.set_random_seed(1)
    marked = AVEmotionRegressor(**TINY_AV, presence_marks=True)
    assert marked.data_contract["presence_marks"] is True
    rng = np.random.default_rng(0)
    window = {
        "video": rng.integers(0, 256, (1, 16, 16, 16, 3), dtype=np.uint8),
        "audio": rng.normal(scale=0.1, size=(1, 2 * 5120)).astype(np.float32),
        "visual_present": np.array([[0, 1]], np.int32),
    }
    marked.save(tmp_path / "marked.keras")
    again = load_model(tmp_path / "marked.keras", compile=False)
    np.testing.assert_allclose(
        again.predict_on_batch(window)["valence"], marked.predict_on_batch(window)["valence"], atol=1e-6
    )


def test_a_stream_tells_the_model_which_modalities_each_clip_has(tmp_path):
    """The synthetic faces are drawn, not photographed: the face detector
    finds none, so every clip lacks the face; clips in the talk's silent
    stretches lack the voice too and are reported missing, not predicted.
    The others equal the model given the same marks directly."""
    import keras

    from emokeras.data import centre_crop
    from emokeras.data import iter_video_frames
    from emokeras.data import load_audio
    from emokeras.data.modality_marks import voice_level_dbfs
    from emokeras.data.synthetic_corpus import write_synthetic_corpus
    from emokeras.models import AVEmotionRegressor
    from emokeras.prediction import LocalPredictor
    from emokeras.prediction.live_stream import stream_clip_predictions

    write_synthetic_corpus(tmp_path / "synth", recordings=2, seconds=8, seed=3, image_size=32)
    talk = sorted((tmp_path / "synth").glob("*.mp4"))[0]
    keras.utils.set_random_seed(4)
    model = AVEmotionRegressor(**TINY_AV, presence_marks=True, training_data={"face_crop": True, "last_window": "pad"})
    window = 16
    lines = list(stream_clip_predictions(str(talk), LocalPredictor(model), stride=window))
    missing = [line for line in lines if line.get("missing")]
    predicted = [line for line in lines if not line.get("missing")]
    assert missing and predicted
    assert all(line["face"] == 0 for line in lines)
    assert all(line["modalities"] == [] and "valence" not in line for line in missing)
    assert all(line["modalities"] == ["audio"] for line in predicted)

    frames = np.stack([centre_crop(frame, 16) for _, frame in iter_video_frames(talk, 25)])
    sound = load_audio(talk)
    for start in range(0, len(frames) - window + 1, window):
        clips = [sound[(start + 8 * c) * 640 : (start + 8 * c + 8) * 640] for c in range(2)]
        inputs = {
            "video": frames[None, start : start + window],
            "audio": sound[None, start * 640 : (start + window) * 640],
            "visual_present": np.zeros((1, 2), np.int32),
            "audio_present": np.array([[voice_level_dbfs(c) >= -50 for c in clips]], np.int32),
        }
        expected = model.predict_on_batch(inputs)
        for c in range(2):
            line = next(line for line in lines if line["start"] == pytest.approx((start + 8 * c) / 25))
            if not line.get("missing"):
                assert line["valence"] == pytest.approx(float(expected["valence"][0, c]), abs=1e-5)


def test_training_with_modality_dropout(tiny_corpus, tmp_path):
    """`--set modality_dropout=...` trains a fused model that takes marks
    on windows where that share of the clips lost one (the unimodal stage-1
    models without)."""
    import dataclasses

    from emokeras.saving import load_model
    from emokeras.training import load_config
    from emokeras.training import train
    from emokeras.training import trainer
    from tests.tiny import TINY_RUN

    config = load_config(
        overrides={
            **TINY_RUN,
            "data": str(tiny_corpus / "prepared"),
            "out": str(tmp_path / "run"),
            "epochs": 1,
            "modality_dropout": 0.3,
        }
    )
    model = load_model(train(config, progress=False), compile=False)
    assert model.presence_marks is True and model.data_contract["presence_marks"] is True
    stage1 = load_model(tmp_path / "run" / "stage1_audio" / "model.keras", compile=False)
    assert stage1.presence_marks is False
    # The stage-2 training windows lose marks (the same windows without
    # the option: the marks the data has).
    modalities = list(model.fusion_regressor.input)

    def marks(run_config):
        batches = trainer._windows(run_config, False, modalities, "train", "train", seed=0)
        return np.stack([np.stack([i["visual_present"], i["audio_present"]], -1) for i, *_ in batches])

    hidden, real = marks(config), marks(dataclasses.replace(config, modality_dropout=0.0))
    assert (hidden <= real).all() and hidden.max(-1).min() == 1
    lost = (hidden.min(-1) == 0)[real.min(-1) == 1]
    assert 0.2 < lost.mean() < 0.4


def _marked_model(**changes):
    import keras

    from emokeras.models import AVEmotionRegressor

    keras.utils.set_random_seed(4)
    training_data = {"face_crop": True, "last_window": "pad"}
    return AVEmotionRegressor(**{**TINY_AV, **changes}, presence_marks=True, training_data=training_data)


def test_exported_signatures_take_the_marks(tmp_path):
    import tensorflow as tf

    from emokeras.serving import export_saved_model
    from tests.tiny import tiny_window

    model = _marked_model()
    loaded = tf.saved_model.load(str(export_saved_model(model, tmp_path / "emokeras", version=1)))
    window = tiny_window(batch=3, seed=2)
    marks = {"visual_present": np.array([[1, 0], [1, 1], [0, 1]], np.int32)}
    marks["audio_present"] = np.array([[1, 1], [1, 0], [1, 1]], np.int32)
    expected = model.predict_on_batch({**window, **marks})
    complete = model.predict_on_batch(window)
    # The marks change the answer where a modality is absent, nowhere else.
    assert np.abs(expected["valence"] - complete["valence"]).max() > 1e-3
    served = loaded.signatures["serving_default"](**{k: tf.constant(v) for k, v in {**window, **marks}.items()})
    np.testing.assert_allclose(served["valence"].numpy(), expected["valence"], atol=1e-5)
    jpegs = np.array([[tf.io.encode_jpeg(f, quality=95).numpy() for f in w] for w in window["video"]], object)
    decoded = np.stack([np.stack([tf.io.decode_jpeg(j).numpy() for j in w]) for w in jpegs])
    from_jpeg = loaded.signatures["serving_jpeg"](
        video_jpeg=tf.constant(jpegs.astype(bytes)),
        audio=tf.constant(window["audio"]),
        valid_frames=tf.constant(window["valid_frames"]),
        **{k: tf.constant(v) for k, v in marks.items()},
    )
    expected_jpeg = model.predict_on_batch({**window, "video": decoded, **marks})
    np.testing.assert_allclose(from_jpeg["arousal"].numpy(), expected_jpeg["arousal"], atol=1e-5)
    features = {
        "visual_features": model.visual_encoder.predict(window["video"], verbose=0),
        "audio_features": model.audio_encoder.predict(window["audio"], verbose=0),
        "valid_clips": np.full(3, 2, np.int32),
    }
    from_features = loaded.signatures["serving_features"](
        **{k: tf.constant(v) for k, v in {**features, **marks}.items()}
    )
    np.testing.assert_allclose(from_features["valence"].numpy(), expected["valence"], atol=1e-5)
    with pytest.raises(Exception, match="input `audio_present` must have shape"):
        loaded.signatures["serving_default"](
            **{k: tf.constant(v) for k, v in {**window, **marks, "audio_present": np.ones((3, 3), np.int32)}.items()}
        )


def test_predict_gives_the_model_the_marks_locally_and_through_a_server(tmp_path):
    """`predict` on the synthetic talk (faces the detector never finds,
    silent stretches): every frame equals the stream's value for its clip
    (windows side by side, where both give each clip its one window), the
    frames of clips with neither modality are NaN, and a served copy of
    the model (the marks sent over gRPC) gives the same."""
    from emokeras.data.synthetic_corpus import write_synthetic_corpus
    from emokeras.prediction import LocalPredictor
    from emokeras.prediction import ServerPredictor
    from emokeras.prediction import predict_video
    from emokeras.prediction.live_stream import stream_clip_predictions
    from emokeras.serving import export_saved_model
    from tests.serving_standin import ModelStandIn
    from tests.serving_standin import make_grpc_server

    write_synthetic_corpus(tmp_path / "synth", recordings=2, seconds=8, seed=3, image_size=32)
    talk = sorted((tmp_path / "synth").glob("*.mp4"))[0]
    model = _marked_model()
    # The stream pads its tail: so does `predict` here.
    windows = model.window_geometry(stride=16, last_window="pad")
    _, local = predict_video(talk, LocalPredictor(model), windows=windows, progress=False)
    lines = list(stream_clip_predictions(str(talk), LocalPredictor(model), stride=16))
    missing = 0
    for line in lines:
        first, last = round(line["start"] * 25), round(line["end"] * 25)
        values = local["valence"][first:last]
        if line.get("missing"):
            assert np.isnan(values).all()
            missing += 1
        else:
            np.testing.assert_allclose(values, line["valence"], atol=1e-5)
    assert missing and missing < len(lines)

    export_saved_model(model, tmp_path / "emokeras", version=1)
    server, target = make_grpc_server(ModelStandIn(tmp_path / "emokeras"))
    try:
        _, served = predict_video(talk, ServerPredictor(target), windows=windows, progress=False)
    finally:
        server.stop(0)
    np.testing.assert_allclose(served["valence"], local["valence"], atol=1e-5)
    np.testing.assert_array_equal(np.isnan(served["arousal"]), np.isnan(local["arousal"]))
