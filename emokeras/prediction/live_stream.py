"""Live prediction: a camera, a network stream or a file played in real
time, one prediction per clip as soon as its window is complete.

A reader thread demuxes and decodes the source (PyAV), puts the frames on
the model's frame clock (by presentation time, as `iter_video_frames`),
crops the face, resamples the sound, and hands over every window whose
frames and sound have all arrived. The caller's thread predicts. When
prediction falls behind, the windows that queued up meanwhile are not
predicted one by one (which would drift further and further behind): the
newest is, its clips are reported, and clips no window predicted any more
are reported as skipped.

With a local model (`LocalPredictor` of an I3D model) each clip is encoded
once: its backbone features are kept while later windows hold it, and each
window runs only its new clips' backbones and the fusion. With windows one
clip apart that is `clips` times less backbone work than predicting every
window whole (the same numbers, to float rounding).
"""

import collections
import dataclasses
import fractions
import os
import queue
import sys
import threading
import time

import numpy as np

from emokeras.data.frame_clock import FrameClock
from emokeras.data.modality_marks import face_there
from emokeras.data.modality_marks import voice_level_dbfs
from emokeras.data.modality_marks import voice_there

_END = object()


@dataclasses.dataclass
class _Window:
    start: int  # first frame on the clock
    valid: int  # real frames
    inputs: dict  # one window of the model's inputs
    arrived: list  # wall time at which each clip's last frame and sound were in
    face: list  # per clip: share of frames with a detected face (None: no detection)
    voice: list  # per clip: sound level in dBFS (None: no sound read)


def stream_clip_predictions(
    source,
    predictor,
    audio=None,
    realtime=False,
    input_format=None,
    stride=None,
    face_crop=None,
    face_side=None,
    clock=time.monotonic,
    timings=None,
):
    """Yields one dict per clip of `source`, as soon as the clip's window is
    predicted.

    Args:
        source: what FFmpeg opens: a file, a URL (`rtsp://`, `udp://`,
            `http://`, `srt://`, ...) or a device (with `input_format`,
            e.g. `/dev/video0` with `v4l2`).
        predictor: a window predictor (`LocalPredictor`, `ServerPredictor`).
        audio: a second source for the sound (default: `source`'s).
        realtime: read no faster than the media's own clock (for files;
            live sources arrive at their rate anyway).
        input_format: FFmpeg's input format name, for devices.
        stride: frames between windows, a whole number of clips (default:
            one clip, so every clip is predicted once, at the end of the
            first window that holds it).
        face_crop: detect and crop the face, or take a centre crop
            (default: as the model's training data).
        face_side: `"left"` / `"right"`: the face on that side.
        clock: wall clock in seconds (for tests).
        timings: a dict to add the seconds spent in each stage to:
            `decoding`, `face_detection`, and `visual_backbone`,
            `audio_backbone`, `fusion` (a local model encoding clips once)
            or `prediction` (whole windows, e.g. on a server), and `warmup`
            (building the prediction graphs before the stream is opened).

    Yields:
        `{"start", "end"}` (stream time in seconds), then either
        `{target: value}`, `"face"` (share of the clip's frames with a
        detected face, or null without face detection), `"voice_dbfs"` (its
        sound level), `"modalities"` (those present: a face on at least half
        the frames, sound above `VOICE_THRESHOLD_DBFS`), `"delay"` (seconds
        from the moment the clip's last frame and sound arrived to this
        prediction) and `"windows_skipped"` (windows that completed while
        the previous one was predicted, passed over for this newer one: its
        clips include theirs as long as they fall behind by less than a
        window), or `"skipped": true` with `"behind"` (seconds the
        prediction was behind the stream) for a clip no window predicted.
        A model trained with `modality_dropout` is given the marks
        (`visual_present` / `audio_present`); a clip with neither modality
        is then `"missing": true`, without values.
    """
    from emokeras.models.av_emotion_regressor import geometry_of_contract
    from emokeras.models.av_emotion_regressor import training_settings

    contract = predictor.contract
    # A live stream's tail is padded, whatever rule the model trained with.
    geometry = dataclasses.replace(geometry_of_contract(contract, stride=stride).without_labels(), last_window="pad")
    clip = geometry.frames_per_clip
    if geometry.stride % clip:
        raise ValueError(f"stride {geometry.stride} is not a whole number of clips of {clip} frames")
    face_crop = training_settings(contract, face_crop=face_crop).get("face_crop", True)
    # A file read as fast as it decodes waits for the predictions; a live
    # source (or a file played in real time) does not wait for anyone.
    live = realtime or not os.path.isfile(source)
    timings = {} if timings is None else timings
    reader = _Reader(
        source, audio, contract, geometry, realtime, input_format, face_crop, face_side, clock, live, timings
    )
    model = getattr(predictor, "model", None)
    encoder = _ClipEncoder(model, timings) if getattr(model, "visual_backbone_name", None) == "i3d" else None
    # A model trained with modality dropout is told which modalities each
    # clip has (locally, or through its exported signatures).
    marked = bool(contract.get("presence_marks"))
    # The first calls build the prediction graphs (seconds): before the
    # stream starts, not on its first windows.
    warming = clock()
    blank = _blank_window(contract, geometry)
    one = {name: value[0] for name, value in blank.items()}
    blank_marks = _presence_marks(_Window(0, geometry.window_frames, one, [], [], []), contract, geometry)
    predictor({**blank, **({k: v[None] for k, v in blank_marks.items()} if marked else {})})
    if encoder is not None:
        # A first window encodes all its clips, the next ones `stride` worth.
        for start in (0, geometry.stride):
            window = _Window(start, geometry.window_frames, one, [], [], [])
            encoder.predict(window, geometry, blank_marks if marked else None)
        encoder.forget_before(geometry.stride + geometry.window_frames)
        for name in list(timings):
            timings[name] = 0.0
    timings["warmup"] = clock() - warming
    reader.start()
    emitted = 0  # frames whose clips were reported
    try:
        while True:
            ready = [reader.windows.get()]
            while live and not reader.windows.empty():
                ready.append(reader.windows.get_nowait())
            if ready[-1] is _END:
                ready.pop()
                if not ready:
                    break
                reader.windows.put(_END)  # after these
            window = ready[-1]
            if window.start > emitted:
                behind = clock() - window.arrived[-1] if window.arrived else 0.0
                for start in range(emitted, window.start, clip):
                    yield {**_clip_times(start, clip, geometry), "skipped": True, "behind": round(behind, 3)}
                emitted = window.start
            marks = _presence_marks(window, contract, geometry) if marked else {}
            if encoder is not None and window.valid == geometry.window_frames:
                outputs = encoder.predict(window, geometry, marks)
            else:  # a padded tail, or a predictor that takes whole windows
                began = clock()
                outputs = predictor({name: value[None] for name, value in {**window.inputs, **marks}.items()})
                timings["prediction"] = timings.get("prediction", 0.0) + clock() - began
            done = clock()
            clips = -(-window.valid // clip)
            for index in range(clips):
                start = window.start + index * clip
                if start < emitted:
                    continue
                line = _clip_times(start, min(clip, window.valid - index * clip), geometry)
                face, voice = window.face[index], window.voice[index]
                present = _present(contract["inputs"], face, voice)
                if present or not marked:
                    line.update({target: float(np.asarray(values)[0, index]) for target, values in outputs.items()})
                else:  # neither modality: the model masked the clip
                    line["missing"] = True
                line["face"] = None if face is None else round(face, 3)
                line["voice_dbfs"] = None if voice is None else round(voice, 1)
                line["modalities"] = present
                line["delay"] = round(done - window.arrived[index], 3)
                line["windows_skipped"] = len(ready) - 1
                yield line
                emitted = start + clip
    finally:
        reader.stop()
    if reader.error is not None:
        raise reader.error


class _ClipEncoder:
    """Encodes each clip of a stream once and fuses windows of cached
    features: the computations of the model's window encoders, clip by
    clip (they fold the clips into the batch), then its fusion."""

    def __init__(self, model, timings):
        import tensorflow as tf

        self.model, self.timings = model, timings
        self.features = {}  # clip start frame -> {feature name: (dim,)}
        if model.visual_encoder is not None:
            scaling = model.visual_encoder.get_layer("video_scaling")
            backbone = model.visual_backbone
            self._visual = tf.function(lambda video: backbone(scaling(tf.cast(video, tf.float32)), training=False))
        if model.audio_encoder is not None:
            audio_backbone = model.audio_encoder.get_layer("audio_backbone")
            self._audio = tf.function(lambda audio: audio_backbone(audio, training=False))
        regressor = model.fusion_regressor
        self._fuse = tf.function(lambda features: regressor(features, training=False))

    def predict(self, window, geometry, marks=None):
        clip, samples = geometry.frames_per_clip, geometry.samples_per_clip
        starts = [window.start + index * clip for index in range(geometry.clips)]
        new = [index for index, start in enumerate(starts) if start not in self.features]
        if new:
            encoded = {}
            if "video" in window.inputs:
                video = np.stack([window.inputs["video"][i * clip : (i + 1) * clip] for i in new])
                encoded["visual_features"] = self._timed("visual_backbone", self._visual, video)
            if "audio" in window.inputs:
                audio = np.stack([window.inputs["audio"][i * samples : (i + 1) * samples] for i in new])
                encoded["audio_features"] = self._timed("audio_backbone", self._audio, audio)
            for row, index in enumerate(new):
                self.features[starts[index]] = {name: values[row] for name, values in encoded.items()}
        features = {name: np.stack([self.features[s][name] for s in starts])[None] for name in self.features[starts[0]]}
        features["clip_mask"] = np.ones((1, geometry.clips), np.int32)
        features.update({name: value[None] for name, value in (marks or {}).items()})
        outputs = self._timed("fusion", self._fuse, features)
        self.forget_before(window.start + geometry.stride)
        return outputs

    def forget_before(self, frame):
        for start in [start for start in self.features if start < frame]:
            del self.features[start]

    def _timed(self, stage, function, inputs):
        began = time.perf_counter()
        outputs = function(inputs)
        outputs = {k: np.asarray(v) for k, v in outputs.items()} if isinstance(outputs, dict) else np.asarray(outputs)
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - began
        return outputs


def _open(source, **options):
    """`av.open` with an error that names the source and the fix."""
    import av

    try:
        return av.open(source, **options)
    except av.error.FFmpegError as error:
        raise ValueError(
            f"cannot open {source} ({error.strerror or error}): check the file, URL or device "
            "(a camera needs --format, e.g. v4l2 or avfoundation) and that the stream is running"
        ) from None


def _blank_window(contract, geometry):
    window = {"valid_frames": np.full((1,), geometry.window_frames, np.int32)}
    if "video" in contract["inputs"]:
        size = contract["image_size"]
        window["video"] = np.zeros((1, geometry.window_frames, size, size, 3), np.uint8)
    if "audio" in contract["inputs"]:
        window["audio"] = np.zeros((1, geometry.window_samples), np.float32)
    return window


def _presence_marks(window, contract, geometry):
    """`visual_present` / `audio_present` of a window's clips (clips of
    padding count as present: they are masked anyway)."""
    marks = {}
    for name, modality in (("visual_present", "video"), ("audio_present", "audio")):
        there = np.ones(geometry.clips, np.int32)
        for index, (face, voice) in enumerate(zip(window.face, window.voice)):
            there[index] = modality in _present(contract["inputs"], face, voice)
        marks[name] = there
    return marks


def _clip_times(start, frames, geometry):
    rate = geometry.frame_rate
    return {"start": round(start / rate, 3), "end": round((start + frames) / rate, 3)}


def _present(reads, face, voice):
    present = []
    if "video" in reads and face_there(face):
        present.append("video")
    if "audio" in reads and voice_there(voice):
        present.append("audio")
    return present


class _Reader(threading.Thread):
    """Decodes the source(s) and queues complete windows (see the module)."""

    def __init__(
        self, source, audio, contract, geometry, realtime, input_format, face_crop, face_side, clock, live, timings
    ):
        super().__init__(daemon=True, name="emokeras-stream-reader")
        self.source, self.audio_source = source, audio
        self.reads = contract["inputs"]
        self.size = contract["image_size"]
        self.geometry = geometry
        self.realtime, self.input_format = realtime, input_format
        self.face_crop, self.face_side = face_crop, face_side
        self.clock = clock
        # Live: every window queues (the newest is predicted); a file read
        # at full speed: the reader waits while two windows wait.
        self.windows = queue.Queue(maxsize=0 if live else 2)
        self.timings = timings
        self._lock = threading.Lock()
        self.error = None
        self._stop = threading.Event()
        # The newest frames on the clock, (crop, face found, arrival); room
        # for the sound to lag two seconds behind the pictures.
        self._frames = collections.deque(maxlen=geometry.window_frames + 2 * round(geometry.frame_rate))
        self._frame_count = 0
        # Sound from sample `_audio_first` on, and when each part arrived.
        self._audio = np.zeros(0, np.float32)
        self._audio_first = 0
        self._audio_arrivals = collections.deque()
        self._audio_shift = None  # samples to drop (> 0) or to pad (< 0) at the start
        self._next_start = 0

    def stop(self):
        self._stop.set()

    def run(self):
        try:
            self._read()
        except Exception as error:  # noqa: BLE001 (handed to the caller's thread)
            self.error = error
        finally:
            self.windows.put(_END)

    # -- decoding -------------------------------------------------------------

    def _read(self):
        from emokeras.data import FaceCropper

        self._cropper = FaceCropper(output_size=self.size, face_side=self.face_side) if self.face_crop else None
        options = {"format": self.input_format} if self.input_format else {}
        separate_audio = self.audio_source is not None and "audio" in self.reads
        with _open(self.source, **options) as container:
            streams = []
            if "video" in self.reads:
                if not container.streams.video:
                    raise ValueError(f"{self.source} has no video stream, but the model reads video")
                streams.append(container.streams.video[0])
                streams[-1].thread_type = "AUTO"
            if "audio" in self.reads and not separate_audio:
                if not container.streams.audio:
                    raise ValueError(
                        f"{self.source} has no audio stream, but the model reads audio: give --audio SOURCE "
                        "or use a visual_only model"
                    )
                streams.append(container.streams.audio[0])
            if separate_audio:
                audio_reader = threading.Thread(target=self._read_second_audio, daemon=True)
                audio_reader.start()
            self._decode(container, streams)
        if separate_audio:
            # A file's sound to its end; a live one for as long as it lags.
            if not os.path.isfile(self.audio_source):
                audio_reader.join(timeout=2.0)
                self._stop.set()
            audio_reader.join()
        with self._lock:
            self._queue_ready_windows()
            self._queue_tail()

    def _decode(self, container, streams):
        import av

        from emokeras.data.media import _clock_start

        zero = _clock_start(container)
        clock = FrameClock(self.geometry.frame_rate)
        resampler = av.AudioResampler(format="fltp", rate=self.geometry.sample_rate)
        last_time, period = None, 1 / clock.frame_rate
        started = self.clock()
        try:
            for packet in container.demux(*streams):
                if self._stop.is_set():
                    return
                if self.realtime and packet.pts is not None:
                    wait = started + float(packet.pts * packet.time_base - zero) - self.clock()
                    if wait > 0:
                        time.sleep(wait)
                began = time.perf_counter()
                decoded = packet.decode()
                self._add_time("decoding", began)
                for frame in decoded:
                    if isinstance(frame, av.VideoFrame):
                        if frame.pts is None:
                            seconds = (last_time or 0) + period
                        else:
                            seconds = fractions.Fraction(frame.pts) * packet.time_base - zero
                        period = 1 / (packet.stream.average_rate or clock.frame_rate)
                        began = time.perf_counter()
                        rgb = frame.to_ndarray(format="rgb24")
                        self._add_time("decoding", began)
                        for _, shown in clock.add(seconds, rgb, period):
                            self._add_frame(shown)
                        last_time = seconds
                    else:
                        began = time.perf_counter()
                        self._add_audio(frame, resampler, packet.time_base, zero)
                        self._add_time("decoding", began)
                with self._lock:
                    self._queue_ready_windows()
        except av.error.FFmpegError as error:
            # A network source often ends this way rather than with an EOF.
            if self._frame_count == 0 and len(self._audio) == 0:
                raise ValueError(f"reading {self.source} failed before any media arrived: {error}") from None
            print(f"emokeras stream: the source stopped ({error})", file=sys.stderr, flush=True)
        for resampled in resampler.resample(None):
            self._append_samples(resampled.to_ndarray().mean(axis=0))
        for _, shown in clock.finish():
            self._add_frame(shown)

    def _read_second_audio(self):
        import av

        from emokeras.data.media import _clock_start

        try:
            with _open(self.audio_source) as container:
                if not container.streams.audio:
                    raise ValueError(f"{self.audio_source} has no audio stream")
                stream = container.streams.audio[0]
                zero = _clock_start(container)
                resampler = av.AudioResampler(format="fltp", rate=self.geometry.sample_rate)
                for frame in container.decode(stream):
                    if self._stop.is_set():
                        return
                    self._add_audio(frame, resampler, stream.time_base, zero)
        except Exception as error:  # noqa: BLE001 (handed to the caller's thread)
            self.error = error

    def _add_time(self, stage, began):
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - began

    def _add_frame(self, rgb):
        from emokeras.data import centre_crop

        began = time.perf_counter()
        if self._cropper is not None:
            crop, face = self._cropper.crop(rgb), self._cropper.last_frame_has_face
            self._add_time("face_detection", began)
        else:
            crop, face = centre_crop(rgb, self.size), None
        self._frames.append((crop, face, self.clock()))
        self._frame_count += 1

    def _add_audio(self, frame, resampler, time_base, zero):
        if self._audio_shift is None and frame.pts is not None:
            # The sound starts after the clock's zero (silence until it
            # does) or before it (cut).
            start = float(fractions.Fraction(frame.pts) * time_base - zero)
            self._audio_shift = -round(start * self.geometry.sample_rate)
        for resampled in resampler.resample(frame):
            self._append_samples(resampled.to_ndarray().mean(axis=0))

    def _append_samples(self, samples):
        with self._lock:  # a second sound source appends from its own thread
            self._append_locked(np.asarray(samples, np.float32))

    def _append_locked(self, samples):
        shift = self._audio_shift or 0
        if shift > 0:
            cut = min(shift, len(samples))
            samples, self._audio_shift = samples[cut:], shift - cut
        elif shift < 0:
            samples, self._audio_shift = np.concatenate([np.zeros(-shift, np.float32), samples]), 0
        self._audio = np.concatenate([self._audio, samples])
        self._audio_arrivals.append((self._audio_first + len(self._audio), self.clock()))

    # -- windows --------------------------------------------------------------

    def _available_frames(self):
        audio_frames = (self._audio_first + len(self._audio)) // self.geometry.samples_per_frame
        if "video" not in self.reads:
            return audio_frames
        if "audio" not in self.reads:
            return self._frame_count
        return min(self._frame_count, audio_frames)

    def _oldest_frame(self):
        return self._frame_count - len(self._frames)

    def _queue_ready_windows(self):
        window = self.geometry.window_frames
        while self._next_start + window <= self._available_frames():
            if "video" in self.reads and self._next_start < self._oldest_frame():
                # The sound lags more than the frame buffer holds: on to
                # the oldest window whose frames are still here.
                clips = -(-(self._oldest_frame() - self._next_start) // self.geometry.stride)
                self._next_start += clips * self.geometry.stride
                continue
            self.windows.put(self._window(self._next_start, window))
            self._next_start += self.geometry.stride

    def _queue_tail(self):
        """At the end, the frames no full window reached: the last-window
        rule's padded window (`last_window="pad"`)."""
        frames = self._available_frames()
        for start in self.geometry.starts(frames):
            if start >= self._next_start and start >= self._oldest_frame():
                self.windows.put(self._window(start, self.geometry.valid_frames(start, frames)))

    def _window(self, start, valid):
        geometry = self.geometry
        window, clip, spf = geometry.window_frames, geometry.frames_per_clip, geometry.samples_per_frame
        clips = -(-valid // clip)
        ends = [start + min((c + 1) * clip, valid) for c in range(clips)]  # each clip's end frame
        inputs = {"valid_frames": np.int32(valid)}
        arrived = [0.0] * clips
        face = [None] * clips
        voice = [None] * clips
        if "video" in self.reads:
            held = list(self._frames)[start - self._oldest_frame() :][:valid]
            crops = [crop for crop, _, _ in held]
            inputs["video"] = np.stack(crops + [crops[-1]] * (window - valid))
            arrived = [held[end - start - 1][2] for end in ends]
            if self._cropper is not None:
                found = [bool(flag) for _, flag, _ in held]
                face = [float(np.mean(found[c * clip : (c + 1) * clip])) for c in range(clips)]
        if "audio" in self.reads:
            first = start * spf - self._audio_first
            sound = self._audio[first : first + valid * spf]
            inputs["audio"] = np.pad(sound, (0, geometry.window_samples - len(sound)))
            voice = [voice_level_dbfs(sound[c * clip * spf : (c + 1) * clip * spf]) for c in range(clips)]
            arrived = [max(wall, self._audio_arrival(end * spf)) for wall, end in zip(arrived, ends)]
            self._forget_audio_before((start + geometry.stride) * spf)
        return _Window(start, valid, inputs, arrived, face, voice)

    def _audio_arrival(self, samples):
        """When the sound up to sample `samples` had arrived."""
        for count, wall in self._audio_arrivals:
            if count >= samples:
                return wall
        return self.clock()

    def _forget_audio_before(self, sample):
        drop = min(sample - self._audio_first, len(self._audio))
        if drop > 0:
            self._audio = self._audio[drop:]
            self._audio_first += drop
        while len(self._audio_arrivals) > 1 and self._audio_arrivals[1][0] <= self._audio_first:
            self._audio_arrivals.popleft()
