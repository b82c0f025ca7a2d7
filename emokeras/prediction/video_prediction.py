"""A whole video through a window predictor: decode, crop, cut windows,
predict, stitch the clip predictions into one per-frame series, and write
it as a CSV and a plot."""

import collections
import pathlib

import numpy as np


def predict_video(
    video,
    predictor,
    windows=None,
    audio=None,
    face_crop=None,
    face_side=None,
    video_frame_rate=None,
    batch_size=4,
    progress=True,
):
    """Per-frame predictions over a whole recording of at least one clip.

    Frames are decoded and face-cropped one at a time and only one window of
    them is held in memory (the audio track is loaded whole: about 230 MB
    per hour at 16 kHz). Windows follow `windows` (a regular window is
    predicted as soon as its last frame arrives, the last-window rule's
    window at the end); a video shorter than a window, or a tail under
    `last_window="pad"`, is sent as a padded window with its `valid_frames`.
    `WindowGeometry.stitch` gives every real frame the mean of the clip
    predictions covering it. A model trained with `modality_dropout` is
    given each clip's presence marks (`emokeras.data.modality_marks`: the
    detector's faces, the sound level), and its frames in clips with
    neither the face nor the voice are NaN: not predicted. A unimodal
    model reads one modality: an `audio_only` model takes an audio file
    (frames are then the audio's 25 fps clock), a `visual_only` model a
    video without sound or a folder of images; a model given a recording
    without a modality it reads is refused with the options.

    Args:
        video: the video file, a folder of image frames (with
            `video_frame_rate`), or for an `audio_only` model any media file
            with sound.
        predictor: a window predictor (`LocalPredictor`, `ServerPredictor`).
        windows: a `WindowGeometry` (default: the model's windows, one clip
            apart); its label delays do not apply to unlabelled video.
        audio: a separate audio file (default: the video's own track).
        face_crop: detect and crop the face, or take a centre crop (default:
            as the model's training data was prepared; if unknown, crop).
        face_side: `"left"` / `"right"`: the face on that side of a
            two-person video (see `FaceCropper`).
        video_frame_rate: the frame rate of a folder of images.
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
    from emokeras.data.modality_marks import clip_presence
    from emokeras.data.modality_marks import without_missing_clips
    from emokeras.models.av_emotion_regressor import geometry_of_contract
    from emokeras.models.av_emotion_regressor import training_settings
    from emokeras.models.av_fusion_regressor import PRESENCE_INPUTS

    contract = predictor.contract
    geometry = (windows or geometry_of_contract(contract)).without_labels()
    size = contract["image_size"]
    face_crop = training_settings(contract, face_crop=face_crop).get("face_crop", True)
    window = geometry.window_frames
    spf = geometry.samples_per_frame
    reads = contract["inputs"]
    found = _check_modalities(video, audio, reads)
    samples = load_audio(audio or video, geometry.sample_rate) if "audio" in reads else None
    cropper = FaceCropper(output_size=size, face_side=face_side) if face_crop else None
    bar = None
    if progress:
        import keras

        duration = len(samples) / geometry.sample_rate if samples is not None else 0
        if "video" in reads:
            duration = found.get("duration") or duration
        bar = keras.utils.Progbar(max(1, int(duration * geometry.frame_rate)), unit_name="frame")

    marked = bool(contract.get("presence_marks"))
    buffer = collections.deque(maxlen=window)
    faces = collections.deque(maxlen=window)  # 1 where the detector found the face
    pending, starts, outputs = [], [], collections.defaultdict(list)

    def flush():
        if not pending:
            return
        names = list(reads) + (list(PRESENCE_INPUTS) if marked else [])
        batch = {name: np.stack([item[name] for item in pending]) for name in names}
        batch["valid_frames"] = np.array([item["valid_frames"] for item in pending], np.int32)
        for target, values in predictor(batch).items():
            if marked:
                values = without_missing_clips(values, batch["visual_present"], batch["audio_present"])
            outputs[target].append(np.asarray(values))
        starts.extend(item["start"] for item in pending)
        pending.clear()

    def add_window(start, frames):
        # The window's real frames are the newest in the buffer; a padded
        # window repeats the last one (its content is masked anyway).
        valid = geometry.valid_frames(start, frames)
        item = {"start": start, "valid_frames": valid}
        if "video" in reads:
            video_window = list(buffer)[len(buffer) - valid :]
            item["video"] = np.stack(video_window + [video_window[-1]] * (window - valid))
        if "audio" in reads:
            audio_window = samples[start * spf : (start + valid) * spf]
            item["audio"] = np.pad(audio_window, (0, geometry.window_samples - len(audio_window)))
        if marked:
            found = list(faces)[len(faces) - valid :]
            item["visual_present"], item["audio_present"] = clip_presence(
                found + [0] * (window - valid), item["audio"], geometry.frames_per_clip, valid
            )
        pending.append(item)
        if len(pending) == batch_size:
            flush()

    frames = 0
    limit = None if samples is None else len(samples) // spf
    if "video" in reads:
        decoded = iter_video_frames(video, geometry.frame_rate, max_frames=limit, source_frame_rate=video_frame_rate)
    else:  # audio only: the frame clock runs over the audio
        decoded = ((index, None) for index in range(limit))
    for index, frame in decoded:
        if frame is not None:
            buffer.append(cropper.crop(frame) if cropper else centre_crop(frame, size))
            faces.append(int(cropper.last_frame_has_face) if cropper else 1)
        frames = index + 1
        if geometry.is_regular_start(frames - window):
            add_window(frames - window, frames)
        if bar is not None and frames % 25 == 0:
            bar.update(min(frames, bar.target))
    if frames < geometry.frames_per_clip:
        clip = geometry.frames_per_clip
        raise ValueError(
            f"{video} has {frames} frames ({frames / geometry.frame_rate:.2f} s), shorter than "
            f"one clip of {clip} frames ({clip / geometry.frame_rate:.2f} s), the least the model predicts"
        )
    for start in geometry.starts(frames):
        if start > frames - window or not geometry.is_regular_start(start):
            add_window(start, frames)
    flush()
    if bar is not None:
        bar.target = frames
        bar.update(frames)
    predictions = {
        target: geometry.stitch(starts, np.concatenate(values), frames) for target, values in outputs.items()
    }
    return np.arange(frames) / geometry.frame_rate, predictions


def _check_modalities(video, audio, reads):
    """Refuses a recording without a modality the model reads, naming the
    recording and the options; returns what the recording has (`has_video`,
    `has_audio`, and `duration` of a media file, from `media_info`)."""
    from emokeras.data import media_info

    if pathlib.Path(video).is_dir():
        found = {"has_video": True, "has_audio": False}
    else:
        found = media_info(video)
    if audio:
        found["has_audio"] = True
    absent = [m for m in reads if not found[f"has_{m}"]]
    if absent:
        unimodal = "audio_only" if found["has_audio"] else "visual_only"
        fix = (
            "give the audio as a separate file (--audio) or use a visual_only model"
            if absent == ["audio"]
            else f"use {'an' if unimodal == 'audio_only' else 'a'} {unimodal} model"
        )
        raise ValueError(
            f"{video} has no {' or '.join(absent)}, but the model reads {' and '.join(reads)}: {fix} "
            f"(a model trained with `--set fusion={unimodal}`)"
        )
    return found


def predict_video_to_files(
    video,
    predictor,
    out_dir,
    labels=None,
    title=None,
    **options,
):
    """`predict_video`, then `<video>_predictions.csv` and `.png` in
    `out_dir` (and `<video>_attention.png` when the predictor kept
    cross-attention maps; `<video>_utterance.json`, the mean over the real
    frames, when the model was trained on one value per utterance).

    Args:
        video: the video file.
        predictor: a window predictor.
        out_dir: the output folder.
        labels: a per-frame label CSV (`time` and one column per target)
            shown as ground truth.
        title: the plots' title (default: the video's name).
        **options: `predict_video`'s options.

    Returns:
        `(times, {"table": path, "plot": path[, "attention": path][,
        "utterance": path]})`.
    """
    from emokeras.prediction.outputs import plot_attention_maps
    from emokeras.prediction.outputs import plot_predictions
    from emokeras.prediction.outputs import write_predictions_csv

    times, predictions = predict_video(video, predictor, **options)
    truth = None
    if labels:
        from emokeras.data.labels import labels_on_frames
        from emokeras.data.labels import read_label_csv

        label_times, values = read_label_csv(labels, allow_missing=True)
        truth, _ = labels_on_frames(label_times, values, predictor.contract["frame_rate"], labels)
    out_dir = pathlib.Path(out_dir)
    stem = pathlib.Path(video).stem
    title = title or stem
    paths = {
        "table": write_predictions_csv(out_dir / f"{stem}_predictions.csv", times, predictions, truth),
        "plot": plot_predictions(out_dir / f"{stem}_predictions.png", times, predictions, truth, title=title),
    }
    if predictor.contract.get("training_data", {}).get("unit") == "utterance":
        from emokeras.atomic_write import write_json_atomically

        utterance = {target: float(np.mean(values)) for target, values in predictions.items()}
        paths["utterance"] = write_json_atomically(out_dir / f"{stem}_utterance.json", utterance)
    maps = getattr(predictor, "mean_attention_maps", lambda: None)()
    if maps is not None:
        paths["attention"] = plot_attention_maps(
            out_dir / f"{stem}_attention.png", *maps, title=f"{title}: mean over windows"
        )
    return times, paths
