"""`emokeras info`: versions, the Keras backend and the devices."""

import json


def add_parser(commands, name, summary):
    parser = commands.add_parser(
        name,
        help=summary,
        description="Print versions, the Keras backend and the devices.",
        epilog="example: emokeras info",
    )
    parser.set_defaults(run=run)


def run(args):
    import keras
    import tensorflow as tf

    import emokeras

    report = {
        "emokeras": emokeras.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "keras_backend": keras.backend.backend(),
        "devices": [device.name for device in tf.config.list_physical_devices()],
        "onednn_cpu_kernels": onednn_enabled(),
    }
    print(json.dumps(report, indent=2))
    return 0


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN CPU kernels (see emokeras/__init__.py);
    None where this TensorFlow build cannot say."""
    try:
        from tensorflow.python.util import _pywrap_util_port
    except ImportError:
        return None
    return bool(_pywrap_util_port.IsMklEnabled())
