"""Predicting a whole video: decode, crop, cut windows, predict (in-process
or on a TF Serving server), stitch the clips back into one per-frame series,
write a CSV and a plot."""

import collections
import csv
import os
import pathlib

import numpy as np


def local_predictor(model, batch_size=4):
    """A window predictor running a Keras `AVEmotionRegressor` in-process.

    Returns `(predict, geometry)`: `predict(windows)` maps `{"video", "audio"}`
    batches to `{target: (batch, clips)}`; `geometry` describes the windows.
    """
    geometry = {
        "clips": model.clips,
        "frames_per_clip": model.frames_per_clip,
        "image_size": model.image_size,
        "frame_rate": model.frame_rate,
        "sample_rate": model.sample_rate,
        "targets": list(model.targets),
        "uses_video": "video" in model.input,
        "uses_audio": "audio" in model.input,
    }

    def predict(windows):
        inputs = {k: v for k, v in windows.items() if k in model.input}
        return {k: np.asarray(v) for k, v in model.predict_on_batch(inputs).items()}

    return predict, geometry


def server_predictor(server, model_name="emokeras", sample_rate=16000, signature_name=None):
    """A window predictor calling TF Serving.

    `server` is `http(s)://host:port` for REST (sends JPEG frames through the
    `serving_jpeg` signature: ~20x smaller than raw pixels in JSON) or
    `host:port` for gRPC (raw uint8 tensors, `serving_default`). The window
    geometry is read from the served signature.
    """
    import cv2

    if server.startswith(("http://", "https://")):
        from emokeras.serving import RestClient

        client = RestClient(server, model_name=model_name)
        signature_name = signature_name or "serving_jpeg"
        signatures = client.metadata()["metadata"]["signature_def"]["signature_def"]
        shape = lambda info: tuple(int(d["size"]) for d in info["tensor_shape"]["dim"])
        default = signatures["serving_default"]
        video_shape = shape(default["inputs"]["video"])
        audio_shape = shape(default["inputs"]["audio"])
        outputs = {name: shape(info) for name, info in default["outputs"].items()}
    else:
        from emokeras.serving import GrpcClient

        client = GrpcClient(server, model_name=model_name)
        signature_name = signature_name or "serving_default"
        default = client.metadata()["serving_default"]
        video_shape = default["inputs"]["video"][1]
        audio_shape = default["inputs"]["audio"][1]
        outputs = {name: info[1] for name, info in default["outputs"].items()}
    frames, size = video_shape[1], video_shape[2]
    clips = next(iter(outputs.values()))[1]
    samples_per_frame = audio_shape[1] // frames
    geometry = {
        "clips": clips,
        "frames_per_clip": frames // clips,
        "image_size": size,
        "frame_rate": sample_rate // samples_per_frame,
        "sample_rate": sample_rate,
        "targets": sorted(outputs),
        "uses_video": True,
        "uses_audio": True,
    }

    def predict(windows):
        if signature_name == "serving_jpeg":
            jpegs = np.array(
                [
                    [
                        cv2.imencode(".jpg", cv2.cvtColor(f, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])[
                            1
                        ].tobytes()
                        for f in window
                    ]
                    for window in windows["video"]
                ],
                dtype=object,
            )
            inputs = {"video_jpeg": jpegs.astype(bytes), "audio": windows["audio"]}
        else:
            inputs = windows
        return client.predict(inputs, signature_name=signature_name)

    return predict, geometry


def predict_video(
    video,
    predict,
    geometry,
    audio=None,
    stride=None,
    face_crop=True,
    batch_size=4,
    progress=True,
):
    """Per-frame predictions over a whole video, of any length.

    Frames are decoded and face-cropped one at a time, windows of `clips x
    frames_per_clip` frames are cut every `stride` frames (default: one
    clip) plus one window ending at the last frame, predicted in batches,
    and each clip's prediction is given to its frames; where windows
    overlap, a frame gets the mean of its predictions. Only one window of
    frames is held in memory (the audio track is loaded whole: about 230 MB
    per hour at 16 kHz).

    Args:
        video: the video file.
        predict: a window predictor (`local_predictor`, `server_predictor`).
        geometry: its window geometry.
        audio: a separate audio file (default: the video's own track).
        stride: frames between window starts.
        face_crop: detect and crop the face (else centre crop).
        batch_size: windows per prediction call.
        progress: show a progress bar.

    Returns:
        `(times, predictions)`: `(frames,)` times in seconds and
        `{target: (frames,) float32}`.
    """
    from emokeras.data import FaceCropper
    from emokeras.data import centre_crop
    from emokeras.data import iter_video_frames
    from emokeras.data import load_audio
    from emokeras.data import media_info

    clips, length = geometry["clips"], geometry["frames_per_clip"]
    window = clips * length
    size = geometry["image_size"]
    frame_rate, sample_rate = geometry["frame_rate"], geometry["sample_rate"]
    samples_per_frame = sample_rate // frame_rate
    stride = stride or length
    samples = load_audio(audio or video, sample_rate) if geometry["uses_audio"] else None
    cropper = FaceCropper(output_size=size) if face_crop else None
    duration = media_info(video)["duration"] or 0
    bar = None
    if progress:
        import keras

        bar = keras.utils.Progbar(max(1, int(duration * frame_rate)), unit_name="frame")

    buffer = collections.deque(maxlen=window)
    sums = collections.defaultdict(lambda: np.zeros(0, np.float64))
    counts = np.zeros(0, np.float64)
    pending = []

    def flush():
        nonlocal counts
        if not pending:
            return
        batch = {"video": np.stack([v for _, v, _ in pending])}
        batch["audio"] = np.stack([a for _, _, a in pending])
        outputs = predict(batch)
        end = max(start for start, _, _ in pending) + window
        if len(counts) < end:
            counts = np.pad(counts, (0, end - len(counts)))
        for index, (start, _, _) in enumerate(pending):
            spans = [slice(start + c * length, start + (c + 1) * length) for c in range(clips)]
            for target, values in outputs.items():
                if len(sums[target]) < end:
                    sums[target] = np.pad(sums[target], (0, end - len(sums[target])))
                for span, value in zip(spans, np.asarray(values)[index]):
                    sums[target][span] += value
            for span in spans:
                counts[span] += 1
        pending.clear()

    def add_window(start):
        video_window = np.stack(buffer)
        if samples is None:
            audio_window = np.zeros(window * samples_per_frame, np.float32)
        else:
            audio_window = samples[start * samples_per_frame : (start + window) * samples_per_frame]
            audio_window = np.pad(audio_window, (0, window * samples_per_frame - len(audio_window)))
        pending.append((start, video_window, audio_window))
        if len(pending) == batch_size:
            flush()

    frames = 0
    last_start = None
    limit = None if samples is None else len(samples) // samples_per_frame
    for index, frame in iter_video_frames(video, frame_rate, max_frames=limit):
        buffer.append(cropper.crop(frame) if cropper else centre_crop(frame, size))
        frames = index + 1
        start = frames - window
        if start >= 0 and start % stride == 0:
            add_window(start)
            last_start = start
        if bar is not None and frames % 25 == 0:
            bar.update(min(frames, bar.target))
    if frames < window:
        raise ValueError(
            f"{video} has {frames} frames ({frames / frame_rate:.2f} s), shorter than "
            f"one window of {window} frames ({window / frame_rate:.2f} s)"
        )
    if last_start != frames - window:  # the last window ends at the last frame
        add_window(frames - window)
    flush()
    if bar is not None:
        bar.target = frames
        bar.update(frames)
    predictions = {t: (sums[t][:frames] / counts[:frames]).astype(np.float32) for t in sums}
    return np.arange(frames) / frame_rate, predictions


def write_predictions_csv(path, times, predictions, truth=None):
    """`time,<target>...[,<target>_true...]`, written atomically."""
    path = pathlib.Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    targets = sorted(predictions)
    truth = truth or {}
    with open(temporary, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["time"] + targets + [f"{t}_true" for t in targets if t in truth])
        for index, time in enumerate(times):
            row = [f"{time:.4f}"] + [f"{predictions[t][index]:.5f}" for t in targets]
            row += [
                "" if index >= len(truth[t]) or np.isnan(truth[t][index]) else f"{truth[t][index]:.5f}"
                for t in targets
                if t in truth
            ]
            writer.writerow(row)
    os.replace(temporary, path)
    return path


def plot_predictions(path, times, predictions, truth=None, title=None):
    """One panel per target: the prediction over time, and the ground truth
    (dashed) when given, like the paper's Fig. 4. Written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    targets = sorted(predictions)
    figure, axes = plt.subplots(len(targets), 1, figsize=(10, 2.6 * len(targets)), sharex=True, squeeze=False)
    for axis, target in zip(axes[:, 0], targets):
        axis.plot(times, predictions[target], label="prediction", color="tab:blue")
        if truth and target in truth:
            count = min(len(times), len(truth[target]))
            axis.plot(times[:count], truth[target][:count], "--", label="ground truth", color="tab:orange")
        axis.set_ylabel(target)
        axis.grid(alpha=0.3)
        axis.legend(loc="upper right")
    axes[-1, 0].set_xlabel("time (s)")
    return _save_figure(figure, path, title)


def cross_attention_maps(model, windows):
    """The cross-attention maps of an `AVEmotionRegressor` with
    `fusion="cross_attention"` for a batch of windows.

    Returns `(A_a, A_v)`, each `(batch, L, L)` in the paper's orientation
    (`A[b, i, j]`: weight of clip `i` in the attended features of clip `j`;
    columns sum to one), computed by the model's own layers: encoders, L2
    normalisation and the `CrossAttention` layer.
    """
    if getattr(model, "fusion", None) != "cross_attention":
        raise ValueError(
            f"attention maps need a model with fusion='cross_attention'; this one has "
            f"fusion={getattr(model, 'fusion', None)!r}"
        )
    fusion = model.fusion_regressor
    visual = model.visual_encoder(windows["video"], training=False)
    audio = model.audio_encoder(windows["audio"], training=False)
    if fusion.l2_normalize:
        visual = fusion.get_layer("visual_features_l2")(visual)
        audio = fusion.get_layer("audio_features_l2")(audio)
    _, _, audio_map, visual_map = fusion.get_layer("cross_attention")(audio, visual, return_attention_scores=True)
    return np.asarray(audio_map), np.asarray(visual_map)


def plot_attention_maps(path, audio_map, visual_map, title=None):
    """Heat maps of `A_a` and `A_v` (each `(L, L)`, e.g. the mean over a
    video's windows), written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    figure, axes = plt.subplots(1, 2, figsize=(9, 4))
    for axis, values, name in zip(axes, (audio_map, visual_map), ("A_a (audio)", "A_v (visual)")):
        image = axis.imshow(values, cmap="viridis", vmin=0.0, origin="upper")
        axis.set_title(name)
        axis.set_xlabel("attending clip j")
        axis.set_ylabel("attended clip i")
        figure.colorbar(image, ax=axis, fraction=0.046)
    return _save_figure(figure, path, title)


def _save_figure(figure, path, title=None):
    """Titles, lays out and writes a matplotlib figure atomically."""
    import matplotlib.pyplot as plt

    if title:
        figure.suptitle(title)
    figure.tight_layout()
    temporary = path.with_name(f".{path.stem}.{os.getpid()}.partial{path.suffix}")
    figure.savefig(temporary, dpi=100)
    plt.close(figure)
    os.replace(temporary, path)
    return path
