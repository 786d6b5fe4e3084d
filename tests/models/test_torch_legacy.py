"""The legacy PyTorch reader on files written here by hand, in the format of torch.serialization._legacy_save.

The writer below uses only pickle and struct: stand-in ``torch`` modules exist
(in ``sys.modules``) only while pickling, so that pickle records the names
``torch.FloatStorage`` and ``torch._utils._rebuild_tensor_v2`` as torch does; the
reader then runs without them.
"""

import collections
import pickle
import struct
import sys
import types

import numpy as np
import pytest

from lateral.models.torch_legacy import TorchFileError, load_state_dict

MAGIC, PROTOCOL = 0x1950A86A20F9469CFC6C, 1001  # torch/serialization.py's MAGIC_NUMBER, PROTOCOL_VERSION


class Storage:
    """One storage of the file: its key, torch type name, values and optional view (key, offset, count)."""

    def __init__(self, key, type_name, values, view=None):
        self.key, self.type_name, self.values, self.view = key, type_name, np.asarray(values), view


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce__(self):
        rebuild = sys.modules["torch._utils"]._rebuild_tensor_v2
        return rebuild, (self.storage, self.offset, self.size, self.stride, False, collections.OrderedDict())


def fake_torch():
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled, never called")

    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = "torch._utils", "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    for name in ("FloatStorage", "DoubleStorage", "LongStorage", "HalfStorage"):
        setattr(torch, name, type(name, (), {"__module__": "torch"}))
    torch._utils = utils
    return {"torch": torch, "torch._utils": utils}


def write_legacy(path, state, storages, little_endian=True, tail_cut=0):
    """``state`` pickled as ``torch.save(state, path, _use_new_zipfile_serialization=False)`` would."""
    order = "<" if little_endian else ">"
    with pytest.MonkeyPatch.context() as patch:
        for name, module in fake_torch().items():
            patch.setitem(sys.modules, name, module)
        torch = sys.modules["torch"]

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if not isinstance(obj, Storage):
                    return None
                return ("storage", getattr(torch, obj.type_name), obj.key, "cpu", obj.values.size, obj.view)

        with path.open("wb") as stream:
            for header in (MAGIC, PROTOCOL, {"protocol_version": PROTOCOL, "little_endian": little_endian,
                                             "type_sizes": {"short": 2, "int": 4, "long": 4}}):
                pickle.dump(header, stream, protocol=2)
            Pickler(stream, protocol=2).dump(state)
            pickle.dump([storage.key for storage in storages], stream, protocol=2)
            for storage in storages:
                stream.write(struct.pack(order + "q", storage.values.size))
                stream.write(storage.values.astype(storage.values.dtype.newbyteorder(order)).tobytes())
    if tail_cut:
        path.write_bytes(path.read_bytes()[:-tail_cut])


def sample_state():
    """Six floats 0..5 seen three ways, a long scalar, and doubles through a storage view.

    With s = [0, 1, 2, 3, 4, 5]: "matrix" is s as 2x3 (strides 3, 1); "transposed" the
    same storage as 3x2 with strides (1, 3), i.e. the matrix transposed; "every_other"
    starts at offset 1 with stride 2: [1, 3, 5]. "viewed" is a view at offset 2 of
    length 2 into the doubles [10, 20, 30, 40]: [30, 40].
    """
    floats = Storage("7", "FloatStorage", np.arange(6, dtype="float32"))
    longs = Storage("8", "LongStorage", np.array([42], "int64"))
    doubles = np.array([10, 20, 30, 40], "float64")
    doubles_view = Storage("9", "DoubleStorage", doubles, view=("9v", 2, 2))
    state = collections.OrderedDict([
        ("matrix", Tensor(floats, 0, (2, 3), (3, 1))),
        ("transposed", Tensor(floats, 0, (3, 2), (1, 3))),
        ("every_other", Tensor(floats, 1, (3,), (2,))),
        ("steps", Tensor(longs, 0, (), ())),
        ("viewed", Tensor(doubles_view, 0, (2,), (1,))),
    ])
    return state, [floats, longs, doubles_view]


EXPECTED = {
    "matrix": np.array([[0, 1, 2], [3, 4, 5]], "float32"),
    "transposed": np.array([[0, 3], [1, 4], [2, 5]], "float32"),
    "every_other": np.array([1, 3, 5], "float32"),
    "steps": np.array(42, "int64"),
    "viewed": np.array([30, 40], "float64"),
}


@pytest.mark.parametrize("little_endian", [True, False])
def test_reads_shared_strided_and_viewed_storages(tmp_path, monkeypatch, little_endian):
    path = tmp_path / "state.pth"
    write_legacy(path, *sample_state(), little_endian=little_endian)
    for name in ("torch", "torch._utils"):
        monkeypatch.setitem(sys.modules, name, None)  # any import of torch would now fail
    loaded = load_state_dict(path)
    assert list(loaded) == list(EXPECTED)
    for name, expected in EXPECTED.items():
        assert loaded[name].dtype == expected.dtype, name
        np.testing.assert_array_equal(loaded[name], expected, err_msg=name)


def test_reads_nested_dicts(tmp_path):
    state, storages = sample_state()
    path = tmp_path / "checkpoint.pth"
    write_legacy(path, {"epoch": 3, "state_dict": state}, storages)
    loaded = load_state_dict(path)
    assert loaded["epoch"] == 3
    np.testing.assert_array_equal(loaded["state_dict"]["transposed"], EXPECTED["transposed"])


def test_a_truncated_file_is_named(tmp_path):
    path = tmp_path / "cut.pth"
    write_legacy(path, *sample_state(), tail_cut=5)
    with pytest.raises(TorchFileError, match=r"cut\.pth is truncated"):
        load_state_dict(path)


def test_other_files_are_refused_naming_them(tmp_path):
    plain_pickle = tmp_path / "plain.pkl"
    plain_pickle.write_bytes(pickle.dumps({"a": 1}))
    zipped = tmp_path / "new.pth"
    zipped.write_bytes(b"PK\x03\x04" + bytes(20))
    with pytest.raises(TorchFileError, match=r"plain\.pkl is not a legacy PyTorch file"):
        load_state_dict(plain_pickle)
    with pytest.raises(TorchFileError, match=r"new\.pth is a zip-format PyTorch file"):
        load_state_dict(zipped)
    with pytest.raises(TorchFileError, match=r"cannot read .*absent\.pth"):
        load_state_dict(tmp_path / "absent.pth")


class RunsCode:
    """Unpickling this would call os.system (the attack a restricted find_class prevents)."""

    def __reduce__(self):
        import os

        return os.system, ("touch pwned",)


def test_other_classes_are_refused_not_run(tmp_path, monkeypatch):
    """In the state dict, or in place of the header."""
    monkeypatch.chdir(tmp_path)
    in_state = tmp_path / "evil.pth"
    write_legacy(in_state, collections.OrderedDict([("payload", RunsCode())]), [])
    in_header = tmp_path / "evil_header.pth"
    in_header.write_bytes(pickle.dumps(RunsCode(), protocol=2))
    with pytest.raises(TorchFileError, match=r"evil\.pth: refusing to load (posix|nt)\.system"):
        load_state_dict(in_state)
    with pytest.raises(TorchFileError, match=r"evil_header\.pth is not a legacy PyTorch file"):
        load_state_dict(in_header)
    assert not (tmp_path / "pwned").exists()
