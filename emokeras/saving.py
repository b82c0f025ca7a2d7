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

    Raises:
        ModelFileError: the file is missing, not a Keras model, or damaged.
    """
    import keras

    check_model_file(path)
    register_all()
    return keras.saving.load_model(path, safe_mode=safe_mode, compile=compile)


class ModelFileError(ValueError):
    """A model file that is missing, not a Keras model, or damaged; the
    message names the file and what to do."""


def check_model_file(path):
    """Checks that `path` is a whole `.keras` archive before Keras reads it
    (Keras reports a text file as "File not found" and a damaged member as a
    long traceback).

    Raises:
        ModelFileError: the file is missing, not a zip archive (a text file,
            a truncated download), lacks Keras' members, or a member fails
            its CRC check.
    """
    import os
    import zipfile
    import zlib

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such model file (a `.keras` file written by `emokeras train` or model.save)")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            f"{path}: not a Keras model file (a .keras file is a zip archive; this one is another kind of "
            "file, or truncated): copy or save it again"
        )
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise ModelFileError(f"{path}: a zip archive but not a Keras model file (no config.json inside)")
            damaged = archive.testzip()
    except (zipfile.BadZipFile, zlib.error, OSError) as error:
        raise ModelFileError(f"{path}: damaged ({error}): copy or save it again") from None
    if damaged is not None:
        raise ModelFileError(f"{path}: damaged (CRC error in {damaged}): copy or save it again")
