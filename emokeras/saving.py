"""Loading saved emokeras models."""


def register_all():
    """Imports every module that registers emokeras classes with Keras, so
    that `keras.saving.load_model` can rebuild them in a fresh process."""
    import emokeras.backbones  # noqa: F401
    import emokeras.layers  # noqa: F401
    import emokeras.losses  # noqa: F401
    import emokeras.metrics  # noqa: F401
    import emokeras.models  # noqa: F401


def load_model(path, safe_mode=True, compile=True):
    """`keras.saving.load_model` for files containing emokeras classes.

    Keras finds custom classes only once their modules are imported; this
    imports them first. (Importing `emokeras.models` yourself before
    `keras.saving.load_model` works too.)

    Args:
        path: a `.keras` file.
        safe_mode: refuse to deserialize arbitrary code (lambdas); emokeras
            models load with it on.
        compile: restore the training configuration too.

    Returns:
        The model.
    """
    import keras

    register_all()
    return keras.saving.load_model(path, safe_mode=safe_mode, compile=compile)
