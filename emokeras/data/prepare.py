"""`emokeras prepare`: recordings -> face crops, 16 kHz audio and per-frame
labels in TFRecord shards, with a report of every recording."""

import concurrent.futures
import multiprocessing
import os
import pathlib
import time
import zlib

import numpy as np

from emokeras.atomic_write import atomic_path
from emokeras.atomic_write import remove_stale_temporaries
from emokeras.atomic_write import write_json_atomically
from emokeras.data import shard_format
from emokeras.data.labels import LabelError
from emokeras.data.media import MediaError
from emokeras.data.media import iter_video_frames
from emokeras.data.media import load_audio
from emokeras.data.media import media_info
from emokeras.data.media import video_frame_times

MISSING_AUDIO_RULES = ("error", "silence")


def prepare_recordings(
    recordings,
    out_dir,
    *,
    frame_rate,
    sample_rate,
    image_size,
    targets=None,
    target_ranges=None,
    unit=None,
    scoring="all",
    split_rule=None,
    face_crop=True,
    detect_every=1,
    jpeg_quality=shard_format.JPEG_QUALITY,
    min_frames=1,
    windows=None,
    max_media_cut=0.1,
    allow_missing_labels=False,
    missing_audio="error",
    workers=None,
    shard=None,
    skip_bad=False,
    progress=True,
):
    """Writes one TFRecord shard per recording and a JSON report.

    Each recording is decoded on one clock (`emokeras.data.media`), its
    frames face-cropped (`FaceCropper`, or a centre crop with
    `face_crop=False` for already-cropped videos) and JPEG-encoded, its
    audio resampled to `sample_rate` mono, and its labels put on the frame
    clock (`emokeras.data.labels`); each frame is marked with whether it
    shows the face (`shard_format`'s `face`: the detector's finding, or a
    `Recording.face_marks` file). The recording is cut to the span that
    video, audio and labels all cover. Shards are written under a temporary
    name and renamed, so a shard under its final name is always complete;
    recordings whose shard exists are skipped, so a re-run resumes where an
    interrupted one stopped and a finished run is not redone.

    Args:
        recordings: a list of `emokeras.data.Recording`.
        out_dir: output folder (shards, `metadata.json`, `report.json`).
        frame_rate: video frames per second after resampling (the model's);
            must divide `sample_rate`.
        sample_rate: audio samples per second (the model's).
        image_size: side of the square face crops (the model's).
        targets: target names, in order (default: from the first
            recording's labels).
        target_ranges: `{target: (low, high)}` in the labels' own units
            (a corpus reader's; default: none stated, the model's (-1, 1)).
        unit: `"frame"` or `"utterance"`, the unit evaluation scores
            (default: utterance when every recording has one value per
            target, else frame).
        scoring: `"all"` or `"per_group"` (a score per `Recording.group`,
            averaged).
        split_rule: how the splits were made, for the report.
        face_crop: detect and crop faces; `False` takes a centre crop.
        detect_every: run the face detector every this many frames (the
            smoothed box carries over in between); detection dominates the
            cost of `prepare`, so 5 is about 4x faster on long recordings.
        jpeg_quality: JPEG quality of the stored crops.
        min_frames: recordings shorter than this fail (e.g. one clip of the
            model, 16 frames; shorter recordings are padded into a window).
        windows: an optional `WindowGeometry` (its rates those given here):
            the report then says how many windows each recording gives and
            how many of their clips are padding.
        max_media_cut: the largest share of a recording's longest medium
            (video or audio) that may be cut because the others end earlier
            (labels shorter than the video, a shorter audio track); a
            recording losing more fails (1 accepts any cut). Every cut is
            in the report (`cuts`: source, end, frames, seconds, why).
        allow_missing_labels: store missing labels as masked instead of
            failing.
        missing_audio: `"error"` (default) or `"silence"` (with a warning in
            the report) for a video without an audio stream.
        workers: processes working on recordings in parallel (default: CPU
            count, at most the number of recordings).
        shard: `(i, n)` (1-based): prepare only this machine's share of
            the recordings, for n machines preparing one corpus into one
            folder without talking to each other: a recording belongs to
            shard `crc32(recording_id) % n + 1` (disjoint, the same on every
            machine, whatever order the list has), and its report goes to
            `report.shard-<i>-of-<n>.json`; readers merge every report.
        skip_bad: keep going past failed recordings (they are reported);
            otherwise `prepare` still writes the others but exits non-zero.
        progress: show a progress bar.

    Returns:
        The report: `{"recordings": {id: entry}, "failed": [ids]}` (and
        `"windows"`, the geometry the counts refer to); each entry has
        `status` ("ok" / "failed" / "skipped"), `frames`, `duration`, `faces`
        counts, `face_frames` (frames marked as showing the face: see
        `shard_format`), `cuts` (what was dropped from which end and why), `windows`
        and `padded_clips` (with
        `windows`), and `reason` or `warnings`.
    """
    if sample_rate % frame_rate:
        raise ValueError(
            f"frame_rate={frame_rate} must divide sample_rate={sample_rate} so that "
            "every frame spans a whole number of audio samples (e.g. 25 fps at 16 kHz)"
        )
    if shard is not None and not (isinstance(shard, tuple) and len(shard) == 2 and 1 <= shard[0] <= shard[1]):
        raise ValueError(f"shard must be (i, n) with 1 <= i <= n. Received: {shard!r}")
    if missing_audio not in MISSING_AUDIO_RULES:
        raise ValueError(f"missing_audio must be one of {MISSING_AUDIO_RULES}. Received: {missing_audio!r}")
    out_dir = pathlib.Path(out_dir)
    targets = list(targets) if targets else _default_targets(recordings)
    unknown = sorted(set(target_ranges or {}) - set(targets))
    if unknown:
        raise ValueError(f"target_ranges names target(s) {unknown} that are not among the targets {targets}")
    if unit is None:
        unit = "utterance" if all(r.label_values for r in recordings) else "frame"
    metadata = {
        "frame_rate": frame_rate,
        "sample_rate": sample_rate,
        "samples_per_frame": sample_rate // frame_rate,
        "image_size": image_size,
        "targets": targets,
        "face_crop": face_crop,
        "allow_missing_labels": allow_missing_labels,
        "target_ranges": None
        if target_ranges is None
        else {t: list(target_ranges[t]) for t in targets if t in target_ranges},
        "unit": unit,
        "scoring": scoring,
    }
    _check_or_write_metadata(out_dir, metadata)
    # Partial files of a run that was killed are never picked up; clear them
    # (a running `prepare` of another shard of the corpus keeps its own).
    for split_folder in (out_dir / "shards").glob("*"):
        remove_stale_temporaries(split_folder)
    report_path = out_dir / shard_format.report_file(shard)
    report = shard_format.read_report(out_dir, shard)
    entries = report["recordings"]

    if shard is not None:
        recordings = [r for r in recordings if in_shard(r.recording_id, shard)]
    pending = []
    for recording in recordings:
        shard = shard_format.shard_path(out_dir, recording.split, recording.recording_id)
        if shard.exists() and entries.get(recording.recording_id, {}).get("status") == "ok":
            continue
        pending.append(recording)
    options = dict(
        out_dir=os.fspath(out_dir),
        targets=targets,
        frame_rate=frame_rate,
        sample_rate=sample_rate,
        image_size=image_size,
        face_crop=face_crop,
        detect_every=detect_every,
        jpeg_quality=jpeg_quality,
        min_frames=min_frames,
        max_media_cut=max_media_cut,
        allow_missing_labels=allow_missing_labels,
        missing_audio=missing_audio,
    )
    bar = None
    if progress and pending:
        import keras

        bar = keras.utils.Progbar(len(pending), unit_name="recording")
    workers = max(1, min(workers or os.cpu_count() or 1, len(pending) or 1))
    results = _run(pending, options, workers)
    if windows is not None:
        report["windows"] = windows.to_dict()
    if split_rule:
        report["split_rule"] = split_rule
    for done, entry in enumerate(results, start=1):
        if windows is not None and entry["status"] == "ok":
            starts = windows.starts(entry["frames"])
            entry["windows"] = len(starts)
            entry["padded_clips"] = sum(windows.clips - windows.valid_clips(s, entry["frames"]) for s in starts)
        entries[entry["recording_id"]] = entry
        report["failed"] = sorted(i for i, e in entries.items() if e["status"] == "failed")
        write_json_atomically(report_path, report)
        if bar is not None:
            bar.update(done)
    if report["failed"] and not skip_bad:
        reasons = "\n".join(f"  {i}: {entries[i]['reason']}" for i in report["failed"])
        raise PrepareError(
            f"{len(report['failed'])} recording(s) failed (the others were written; "
            f"see {report_path}; --skip-bad to accept):\n{reasons}",
            report,
        )
    return report


def in_shard(recording_id, shard):
    """Whether a recording is in shard `(i, n)` (1-based)."""
    index, count = shard
    return zlib.crc32(recording_id.encode()) % count == index - 1


def _video_frames(recording, frame_rate):
    """Frames of the whole video on the frame clock (from its duration; for
    a folder of images, its image count)."""
    if recording.is_image_sequence:
        from emokeras.data.media import image_sequence_files

        return int(len(image_sequence_files(recording.video)) / recording.video_frame_rate * frame_rate)
    duration = media_info(recording.video)["duration"] or 0.0
    return int(duration * frame_rate + 1e-6)


def _cuts(spans, kept, frame_rate, label_times):
    """What was dropped, from which end and why: one dict per source whose
    span reaches past the `kept` frames (and labels timed before zero)."""
    ends = [name for name in ("labels", "audio", "video") if spans.get(name) == kept]
    verb = "ends" if ends in (["audio"], ["video"]) else "end"
    why = f"the {' and '.join(ends) or 'media'} {verb} at {kept / frame_rate:.2f} s"
    cuts = []
    for source, span in spans.items():
        if span is None or span <= kept:
            continue
        dropped = f"the last {span - kept} frame(s) ({(span - kept) / frame_rate:.2f} s)"
        cuts.append(
            {
                "source": source,
                "end": "last",
                "frames": span - kept,
                "seconds": round((span - kept) / frame_rate, 3),
                "said": f"{source}: {dropped} dropped: {why}",
            }
        )
    if label_times is not None and label_times[0] < 0:
        cuts.append(
            {
                "source": "labels",
                "end": "first",
                "frames": int(round(-label_times[0] * frame_rate)),
                "seconds": round(-label_times[0], 3),
                "said": f"labels: the first {-label_times[0]:.2f} s dropped: timed before the media's start (0 s)",
            }
        )
    return cuts


def _check_media_kept(recording, spans, kept, frame_rate, max_media_cut, cuts):
    """Fails a recording that loses more than `max_media_cut` of its longest
    medium (labels covering half a video are a mistake, not a trim)."""
    media = [span for name, span in spans.items() if name != "labels" and span]
    if not media:
        return
    lost = 1 - kept / max(media)
    if lost > max_media_cut:
        said = "; ".join(cut["said"] for cut in cuts)
        raise MediaError(
            f"{recording.recording_id}: only {kept} of {max(media)} frames ({kept / frame_rate:.2f} of "
            f"{max(media) / frame_rate:.2f} s) are covered by video, audio and labels together, "
            f"{lost:.0%} lost (more than --max-media-cut {max_media_cut:g}): {said}. Fix the labels or "
            "media, or accept the cut with --max-media-cut 1"
        )


def _too_short(recording, frames, frame_rate, min_frames):
    return (
        f"{recording.recording_id} ({recording.video or recording.audio}): only {frames} frames "
        f"({frames / frame_rate:.2f} s) where video, audio and labels overlap; at least "
        f"{min_frames} frames ({min_frames / frame_rate:.2f} s) are needed (--min-frames)"
    )


def _face_mark(recording, index, frame, face_marks, cropper, frame_rate):
    """1 when frame `index` shows the face: as the face-marks file says, else
    as the detector found, else (crops taken as they are) 1; 0 without a
    picture."""
    if frame is None:
        return 0
    if face_marks is not None:
        if index >= len(face_marks):
            raise LabelError(
                f"{recording.face_marks}: the face marks end at {len(face_marks) / frame_rate:.2f} s but "
                f"{recording.recording_id} has frames after that; give a mark for every frame"
            )
        return int(face_marks[index])
    return int(cropper.last_frame_has_face) if cropper else 1


class PrepareError(RuntimeError):
    """Some recordings failed; `report` says which and why."""

    def __init__(self, message, report):
        super().__init__(message)
        self.report = report


def _default_targets(recordings):
    """The first recording's targets (its label CSV's columns but `time`)."""
    first = recordings[0]
    if first.targets:
        return list(first.targets)
    import csv

    with open(first.label_csv, newline="") as file:
        header = next(csv.reader(file), [])
    return [column for column in header if column != "time"]


def _check_or_write_metadata(out_dir, metadata):
    path = out_dir / shard_format.METADATA_FILE
    if path.exists():
        existing = shard_format.read_metadata(out_dir)
        if existing != metadata:
            changed = sorted(k for k in metadata if existing.get(k) != metadata[k])
            raise ValueError(
                f"{out_dir} was prepared with other settings ({', '.join(changed)}: "
                f"{[existing.get(k) for k in changed]} there, "
                f"{[metadata[k] for k in changed]} now); use a new output folder"
            )
    else:
        write_json_atomically(path, metadata)


def _run(recordings, options, workers):
    """Yields report entries as recordings finish (in parallel processes)."""
    if workers == 1 or len(recordings) <= 1:
        for recording in recordings:
            yield prepare_one(recording, **options)
        return
    # "spawn": TensorFlow is not fork-safe once imported.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
        futures = [pool.submit(prepare_one, recording, **options) for recording in recordings]
        for future in concurrent.futures.as_completed(futures):
            yield future.result()


def prepare_one(recording, **options):
    """Prepares one recording; returns its report entry (never raises for
    bad media or labels: the entry says `failed` and why). `options` are
    the keyword arguments of `_write_shard`."""
    started = time.time()
    entry = {"recording_id": recording.recording_id, "split": recording.split}
    try:
        entry.update(_write_shard(recording, **options))
        entry["status"] = "ok"
    except (MediaError, LabelError, FileNotFoundError, ValueError) as error:
        entry.update(status="failed", reason=str(error))
    entry["seconds_spent"] = round(time.time() - started, 2)
    return entry


def _write_shard(
    recording,
    out_dir,
    targets,
    frame_rate,
    sample_rate,
    image_size,
    face_crop,
    detect_every,
    jpeg_quality,
    min_frames,
    max_media_cut,
    allow_missing_labels,
    missing_audio,
):
    import tensorflow as tf

    from emokeras.data.face_cropper import FaceCropper
    from emokeras.data.face_cropper import centre_crop

    report_warnings = []
    samples_per_frame = sample_rate // frame_rate
    modalities = list(recording.modalities)
    audio = None
    if recording.audio_source:
        try:
            audio = load_audio(recording.audio_source, sample_rate)
        except MediaError as error:
            if "no audio stream" not in str(error) or missing_audio != "silence":
                raise
            # Chosen by the user: the silence stands in for the audio.
            report_warnings.append(f"{recording.audio_source} has no audio stream: silence used")

    # Labels first: they are cheap, and bad labels should fail before decoding.
    if recording.label_values:
        labels, mask, label_frames, label_times = None, None, None, None
    else:
        per_source_frame = recording.label_series is not None and recording.label_series[0] is None
        labels, mask, label_times = recording.frame_labels(
            frame_rate,
            num_frames=None,
            targets=targets if recording.label_csv else None,
            # A corpus reader's NaN is the corpus's own "unlabelled" code.
            allow_missing=allow_missing_labels or recording.label_series is not None,
            source_frame_times=video_frame_times(recording.video) if per_source_frame else None,
            with_times=True,
        )
        missing_targets = [t for t in targets if t not in labels]
        if missing_targets:
            raise LabelError(f"{recording.recording_id}: no labels for target(s) {missing_targets}")
        label_frames = len(mask)
    limits = [] if label_frames is None else [label_frames]
    if audio is not None:
        limits.append(len(audio) // samples_per_frame)
    limit = min(limits) if limits else None
    if limit is not None and limit < min_frames:
        raise MediaError(_too_short(recording, limit, frame_rate, min_frames))
    if labels is None:  # one value per recording
        label_matrix = np.array([[recording.label_values[t] for t in targets]], np.float32)
        mask_matrix = np.ones_like(label_matrix, bool)
    else:
        label_matrix = np.stack([labels[t] for t in targets], axis=1)
        mask_matrix = ~np.isnan(label_matrix)
        label_matrix = np.nan_to_num(label_matrix)

    shard = shard_format.shard_path(out_dir, recording.split, recording.recording_id)
    cropper = None
    if recording.video and face_crop:
        cropper = FaceCropper(output_size=image_size, detect_every=detect_every, face_side=recording.face_side)
    face_marks = recording.frame_face_marks(frame_rate) if recording.face_marks else None
    if recording.video:
        frames = iter_video_frames(
            recording.video, frame_rate, max_frames=limit, source_frame_rate=recording.video_frame_rate
        )
    else:  # audio only: the frame clock runs over the audio, no pictures
        frames = ((index, None) for index in range(limit))
    frames_written = 0
    frames_with_face = 0
    with atomic_path(shard) as temporary:
        with tf.io.TFRecordWriter(os.fspath(temporary)) as writer:
            for index, frame in frames:
                if frame is None:
                    jpeg = b""
                else:
                    crop = cropper.crop(frame) if cropper else centre_crop(frame, image_size)
                    jpeg = shard_format.encode_jpeg(crop, jpeg_quality)
                face = _face_mark(recording, index, frame, face_marks, cropper, frame_rate)
                frames_with_face += face
                if audio is None:
                    samples = np.zeros(samples_per_frame, np.float32)
                else:
                    samples = audio[index * samples_per_frame : (index + 1) * samples_per_frame]
                row = 0 if recording.label_values else index
                writer.write(
                    shard_format.frame_example(
                        recording.recording_id,
                        index,
                        jpeg,
                        samples,
                        label_matrix[row],
                        mask_matrix[row].astype(np.int64),
                        face,
                    )
                )
                frames_written = index + 1
        if frames_written < min_frames:
            raise MediaError(_too_short(recording, frames_written, frame_rate, min_frames))
        spans = {"labels": label_frames, "audio": None if audio is None else len(audio) // samples_per_frame}
        if recording.video:
            # Decoding stopped at the others' end: the video's own length.
            spans["video"] = (
                frames_written if limit is None or frames_written < limit else _video_frames(recording, frame_rate)
            )
        cuts = _cuts(spans, frames_written, frame_rate, label_times)
        _check_media_kept(recording, spans, frames_written, frame_rate, max_media_cut, cuts)
    entry = {
        "frames": frames_written,
        "duration": frames_written / frame_rate,
        "shard": os.fspath(shard),
        "modalities": modalities,
        "audio_seconds": None if audio is None else len(audio) / sample_rate,
        "label_frames": label_frames,
        "missing_label_frames": int((~mask_matrix[:frames_written].all(axis=1)).sum()),
        "faces": cropper.report if cropper else {"face_crop": False},
        # Frames marked as showing the face (detector, face marks or trust).
        "face_frames": frames_with_face,
        "cuts": cuts,
    }
    if recording.group:
        entry["group"] = recording.group
    if recording.face_side:
        entry["face_side"] = recording.face_side
    report_warnings += [cut["said"] for cut in cuts]
    if cropper and cropper.report["fallback_frames"]:
        report_warnings.append(
            f"no face found in {cropper.report['fallback_frames']} frame(s) before any face was seen: centre crop used"
        )
    if report_warnings:
        entry["warnings"] = report_warnings
    return entry
