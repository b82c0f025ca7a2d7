"""`emokeras stream`: live valence / arousal, one line per clip."""

import argparse
import csv
import json
import pathlib
import sys

from emokeras.serving.names import DEFAULT_MODEL_NAME

# Plot every this many clips (and at the end).
PLOT_EVERY = 10


def add_parser(commands, name, summary):
    parser = commands.add_parser(
        name,
        help=summary,
        description=(
            "Read a live source (a camera, an RTSP / UDP / HTTP stream, or a file played at its "
            "real-time rate) and print one line per clip as soon as its window is complete: "
            "stream time, the predictions, which modalities were present, and the delay. "
            "When prediction falls behind, windows are skipped (said in the output) rather than "
            "drifting further behind. Ctrl-C or the end of the stream stops it; every line is "
            "flushed as it is written."
        ),
        epilog=(
            "examples:\n"
            "  emokeras stream talk.mp4 --realtime --model runs/demo/model.keras\n"
            "  emokeras stream rtsp://camera.local/stream --server http://localhost:8501 --out live.jsonl\n"
            "  emokeras stream /dev/video0 --format v4l2 --audio mic.sdp --model model.keras --plot live.png"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("source", help="a file, URL or device FFmpeg opens")
    parser.add_argument("--model", help="a saved AVEmotionRegressor (.keras)")
    parser.add_argument("--server", help="TF Serving: http(s)://host:8501 (REST) or host:8500 (gRPC)")
    parser.add_argument("--model-name", help=f"the served model's name (default: {DEFAULT_MODEL_NAME})")
    parser.add_argument("--audio", help="a second source for the sound (default: SOURCE's own)")
    parser.add_argument("--format", dest="input_format", help="FFmpeg input format of SOURCE (v4l2, avfoundation)")
    parser.add_argument("--realtime", action="store_true", help="read a file no faster than its own clock")
    parser.add_argument("--stride", type=int, help="frames between windows, whole clips (default: one clip)")
    parser.add_argument("--out", help="write the lines to this file (default: standard output)")
    parser.add_argument("--csv", action="store_true", help="CSV lines instead of JSON lines")
    parser.add_argument("--plot", help=f"a PNG of the predictions so far, redrawn every {PLOT_EVERY} clips")
    parser.add_argument(
        "--face-crop",
        action=argparse.BooleanOptionalAction,
        help="detect and crop the face, or not; default: as the model's training data",
    )
    parser.add_argument("--face-side", choices=("left", "right"), help="crop the face on this side")
    parser.set_defaults(run=run)


def run(args):
    from emokeras.cli.arguments import given
    from emokeras.prediction.live_stream import stream_clip_predictions

    if bool(args.model) == bool(args.server):
        print("emokeras stream: give --model MODEL.keras or --server URL (one of them)", file=sys.stderr)
        return 2
    if args.model:
        from emokeras.prediction import LocalPredictor
        from emokeras.saving import load_model

        predictor = LocalPredictor(load_model(args.model, compile=False))
    else:
        from emokeras.prediction import ServerPredictor

        predictor = ServerPredictor(args.server, **given(args, "model_name"))
    targets = predictor.contract["targets"]
    options = given(args, "audio", "input_format", "stride", "face_crop", "face_side")
    clips = stream_clip_predictions(args.source, predictor, realtime=args.realtime, **options)
    lines, out, write = [], None, None
    try:
        for line in clips:
            if write is None:  # the output appears with the first line, not before
                out = open(args.out, "w", newline="") if args.out else sys.stdout
                write = _csv_writer(out, targets) if args.csv else _json_writer(out)
            write(line)
            lines.append(line)
            if args.plot and len(lines) % PLOT_EVERY == 0:
                _plot(args.plot, lines, targets, args.source)
    except KeyboardInterrupt:
        print("emokeras stream: stopped (Ctrl-C)", file=sys.stderr)
    finally:
        clips.close()
        if args.out and out is not None:
            out.close()
    if args.plot and lines:
        _plot(args.plot, lines, targets, args.source)
    skipped = sum(1 for line in lines if line.get("skipped"))
    print(
        f"emokeras stream: {len(lines)} clip(s), {skipped} skipped"
        + (f"; lines in {args.out}" if args.out else "")
        + (f"; plot in {args.plot}" if args.plot else ""),
        file=sys.stderr,
    )
    return 0


def _json_writer(out):
    def write(line):
        out.write(json.dumps(line) + "\n")
        out.flush()

    return write


def _csv_writer(out, targets):
    columns = ["start", "end", *targets, "face", "voice_dbfs", "modalities", "delay", "windows_skipped"]
    columns += ["missing", "skipped", "behind"]
    writer = csv.DictWriter(out, columns, extrasaction="ignore")
    writer.writeheader()

    def write(line):
        row = dict(line)
        row["modalities"] = "+".join(line.get("modalities", []))
        writer.writerow(row)
        out.flush()

    return write


def _plot(path, lines, targets, source):
    import numpy as np

    from emokeras.prediction import plot_predictions

    predicted = [line for line in lines if not line.get("skipped")]
    times = np.array([(line["start"] + line["end"]) / 2 for line in predicted])
    values = {target: np.array([line[target] for line in predicted]) for target in targets}
    name = pathlib.Path(source).name if pathlib.Path(source).exists() else source
    plot_predictions(path, times, values, title=f"{name} (live, one point per clip)")
