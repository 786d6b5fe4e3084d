"""Reading a PyTorch state dict saved in the legacy (pre-1.6, non-zip) format, without PyTorch.

The format is ``torch.serialization._legacy_save``'s: five things one after another,

1. a pickled magic number (``LEGACY_MAGIC``),
2. a pickled protocol version (``LEGACY_PROTOCOL``),
3. a pickled dict of system information (``little_endian``, ``type_sizes``),
4. the pickled object (here a state dict), in which each tensor is
   ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)``
   and each storage a persistent id ``("storage", torch.<Type>Storage, key, location,
   element count, view)``, ``view`` being ``None`` or ``(view key, offset, element count)``
   of a slice of the storage ``key``,
5. the pickled list of storage keys, then for each key in that order an 8-byte element
   count and the storage's raw bytes (in the byte order of 3.).

Only the few classes such a file needs are looked up (``find_class``); any other name
in the pickle is refused, so reading a file never runs code from it.
"""

import collections
import pickle
import struct
from pathlib import Path

import numpy as np

from lateral.user_errors import UserError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

STORAGE_DTYPES = {
    "DoubleStorage": "f8",
    "FloatStorage": "f4",
    "HalfStorage": "f2",
    "LongStorage": "i8",
    "IntStorage": "i4",
    "ShortStorage": "i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
}


class TorchFileError(UserError):
    pass


class _StorageType:
    def __init__(self, name):
        self.name = name


class _Storage:
    """A storage named in the pickle, its bytes read later (they follow the pickle)."""

    def __init__(self, dtype, count):
        self.dtype, self.count, self.values = dtype, count, None


class _StorageSlice:
    def __init__(self, root, offset, count):
        self.root, self.offset, self.count = root, offset, count


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    return _Tensor(storage, storage_offset, size, stride)


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    **{("torch", name): _StorageType(name) for name in STORAGE_DTYPES},
}


def load_state_dict(path):
    """``{name: numpy array}`` of the tensors in the legacy ``torch.save`` file ``path``.

    Fails with ``TorchFileError`` naming the file if it is not a legacy file, is
    truncated, or holds anything but tensors in (nested) dicts, lists and tuples.
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            return _read(stream, path)
    except OSError as error:
        raise TorchFileError(f"cannot read {path}: {error.strerror or error}") from None


def _read(stream, path):
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(b"PK"):
        raise TorchFileError(f"{path} is a zip-format PyTorch file (torch >= 1.6), not a legacy one")
    try:
        magic, protocol, system = (_PlainDataUnpickler(stream, path).load() for _ in range(3))
    except Exception:
        raise TorchFileError(f"{path} is not a legacy PyTorch file (no pickled header)") from None
    if magic != LEGACY_MAGIC or protocol != LEGACY_PROTOCOL or not isinstance(system, dict):
        raise TorchFileError(f"{path} is not a legacy PyTorch file (magic number or protocol version differ)")
    byte_order = "<" if system.get("little_endian", True) else ">"
    storages = {}
    unpickler = _StateDictUnpickler(stream, path, storages, byte_order)
    try:
        state = unpickler.load()
        keys = _PlainDataUnpickler(stream, path).load()
    except TorchFileError:
        raise
    except Exception as error:
        raise TorchFileError(f"{path}: cannot read the pickled state dict ({type(error).__name__}: {error})") from None
    for key in keys:
        _read_storage(stream, path, key, storages, byte_order)
    missing = sorted(key for key, storage in storages.items() if storage.values is None)
    if missing:
        raise TorchFileError(f"{path}: storage {missing[0]!r} is used but not stored")
    return _materialise(state, path)


class _PlainDataUnpickler(pickle.Unpickler):
    """Numbers, strings, tuples, lists and dicts only: any class or function named in the pickle is refused."""

    def __init__(self, stream, path):
        super().__init__(stream)
        self.path = path

    def find_class(self, module, name):
        raise TorchFileError(f"{self.path}: refusing to load {module}.{name} (only tensors and dicts)")


class _StateDictUnpickler(_PlainDataUnpickler):
    """Also the few torch names a state dict needs (``_ALLOWED``), and storages as persistent ids."""

    def __init__(self, stream, path, storages, byte_order):
        super().__init__(stream, path)
        self.storages, self.byte_order = storages, byte_order

    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        return super().find_class(module, name)

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType)):
            raise TorchFileError(f"{self.path}: unknown persistent id {pid!r}")
        _, storage_type, key, _location, count, view = pid
        if key not in self.storages:
            dtype = np.dtype(STORAGE_DTYPES[storage_type.name]).newbyteorder(self.byte_order)
            self.storages[key] = _Storage(dtype, count)
        root = self.storages[key]
        if view is None:
            return root
        _view_key, offset, view_count = view
        return _StorageSlice(root, offset, view_count)


def _read_storage(stream, path, key, storages, byte_order):
    if key not in storages:
        raise TorchFileError(f"{path}: storage {key!r} is stored but not used")
    storage = storages[key]
    header = stream.read(8)
    if len(header) < 8:
        raise TorchFileError(f"{path} is truncated (storage {key!r} is missing)")
    (count,) = struct.unpack(byte_order + "q", header)
    if count != storage.count:
        raise TorchFileError(f"{path}: storage {key!r} holds {count} elements, its tensors expect {storage.count}")
    data = stream.read(count * storage.dtype.itemsize)
    if len(data) < count * storage.dtype.itemsize:
        raise TorchFileError(f"{path} is truncated (storage {key!r} is cut short)")
    storage.values = np.frombuffer(data, storage.dtype)


def _materialise(value, path, name="state dict"):
    """The loaded object with each tensor replaced by a native-order numpy copy."""
    if isinstance(value, _Tensor):
        return _tensor_values(value, path, name)
    if isinstance(value, dict):
        return type(value)((key, _materialise(item, path, key)) for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return type(value)(_materialise(item, path, name) for item in value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TorchFileError(f"{path}: {name} is a {type(value).__name__}, not a tensor")


def _tensor_values(tensor, path, name):
    storage, offset = tensor.storage, tensor.offset
    if isinstance(storage, _StorageSlice):
        values = storage.root.values[storage.offset:storage.offset + storage.count]
    else:
        values = storage.values
    if 0 in tensor.size:
        return np.zeros(tensor.size, values.dtype.newbyteorder("="))
    last = offset + sum((extent - 1) * step for extent, step in zip(tensor.size, tensor.stride))
    if offset < 0 or min(tensor.stride, default=0) < 0 or last >= len(values):
        raise TorchFileError(f"{path}: tensor {name} reaches outside its storage")
    view = np.lib.stride_tricks.as_strided(values[offset:], tensor.size,
                                           [step * values.itemsize for step in tensor.stride], writeable=False)
    return view.astype(values.dtype.newbyteorder("="), copy=True)
