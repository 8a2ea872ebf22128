"""Read and write IDX files, the simple binary format MNIST is distributed in (introduced in notebook 01_idx_files).

An IDX file holds one n-dimensional array:

======  =====================  ==========================================================
offset  size                   content
======  =====================  ==========================================================
0       2 bytes                ``00 00`` (always zero)
2       1 byte                 type code: ``08`` uint8, ``09`` int8, ``0B`` int16, ``0C`` int32,
                               ``0D`` float32, ``0E`` float64
3       1 byte                 number of dimensions ``ndim`` (1..255)
4       ``4 * ndim`` bytes     the size of each dimension, big-endian unsigned 32-bit integers
...     ``prod(sizes) * k``    the values, big-endian (most significant byte first), in C order
                               (the last index changes fastest), ``k`` bytes per value
======  =====================  ==========================================================

So the MNIST training images start ``00 00 08 03  00 00 EA 60  00 00 00 1C  00 00 00 1C``:
uint8, 3 dimensions, shape ``(60000, 28, 28)``, followed by exactly 47,040,000 pixel bytes.
The files are usually gzipped; :func:`read_idx` recognises gzip by its first two bytes (``1F 8B``),
not by the file name.

:func:`read_idx` is notebook 01's reader by hand (header with ``struct``, values with ``np.frombuffer``) plus the
checks a real file needs. It never trusts the header with memory: the buffer grows with the bytes that really
arrive, so a 20-byte file claiming 10**20 values, or a small gzip file claiming gigabytes, costs what it holds.

Public API: :func:`read_idx`, :func:`read_idx_header`, :func:`write_idx`, :data:`IDX_DTYPES`, :class:`IDXError`.
At the end, the two file helpers the package shares (not for the notebooks): ``atomic_write`` (also used by the
dataset cache, downloads and ``MLP.save``) and ``ContentReader``, the one bounded gzip reader.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import os
import secrets
import struct
import time
import zlib
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO, Union

import numpy as np

__all__ = ["IDXError", "IDX_DTYPES", "read_idx", "read_idx_header", "write_idx"]

PathOrFile = Union[str, "os.PathLike[str]", BinaryIO]

#: Type code (third byte of the file) -> NumPy dtype of the array :func:`read_idx` returns (native byte order).
IDX_DTYPES = MappingProxyType(
    {
        0x08: np.dtype(np.uint8),
        0x09: np.dtype(np.int8),
        0x0B: np.dtype(np.int16),
        0x0C: np.dtype(np.int32),
        0x0D: np.dtype(np.float32),
        0x0E: np.dtype(np.float64),
    }
)
_TYPE_CODES = {dtype: code for code, dtype in IDX_DTYPES.items()}
_VALID_CODES = ", ".join(f"0x{code:02X} ({dtype})" for code, dtype in IDX_DTYPES.items())
_VALID_DTYPES = ", ".join(str(dtype) for dtype in IDX_DTYPES.values())
_LOOK_PAST_END = 1024 * 1024  # bytes read after the data to report leftovers (never the whole rest of a bomb)
_WRITE_CHUNK = 1024 * 1024  # bytes converted to big-endian and written at a time
GZIP_MAGIC = b"\x1f\x8b"  # the first two bytes of every gzip file
_CHUNK = 256 * 1024  # bytes read from a file, and bytes produced, per step
_MAX_STEP = 64 * 1024  # compressed bytes handed to zlib per call
_FIRST_STEP = 64  # ... at the start of a gzip member, so that many tiny members cost linear time


class IDXError(ValueError):
    """A file (or byte stream) is not a valid IDX file; the message says what was expected and what was found."""


def read_idx(path_or_file: PathOrFile) -> np.ndarray:
    """Read one IDX file (plain or gzipped) into a NumPy array (introduced in notebook 01_idx_files).

    Args:
        path_or_file: a path (str or PathLike), or a binary file object opened for reading (seekable or not,
            e.g. ``io.BytesIO`` or a socket's ``makefile("rb")``); it is read from its current position to its end.
            Gzip is detected from the content (first bytes ``1F 8B``), whatever the file is called; multi-member
            gzip files are read in full.

    Returns:
        array: shape and dtype from the header, dtype one of :data:`IDX_DTYPES` (uint8, int8, int16, int32,
        float32 or float64) in native byte order, C-contiguous and writable.

    Raises:
        IDXError: the content is not a valid IDX file (bad magic number, unknown type code, zero dimensions,
            header or data cut short, bytes left over, corrupt or truncated gzip data, empty file, a shape NumPy
            cannot represent). Memory and time follow what the file really holds, whatever the header claims.
        OSError: the file cannot be opened or read (e.g. ``FileNotFoundError``).
    """
    with _opened(path_or_file) as (f, where):
        reader = ContentReader(f, where, IDXError)
        dtype, shape = _read_header(reader, where)
        header_size, nbytes = 4 + 4 * len(shape), dtype.itemsize * math.prod(shape)
        data = reader.read(nbytes)  # grows with the bytes that arrive, up to what the header announces
        if len(data) < nbytes:
            raise IDXError(
                f"{where}: expected {nbytes} data bytes for shape {shape} {dtype}, found {len(data)}: "
                f"{_bytes(nbytes - len(data))} missing (truncated file?)"
            )
        extra = len(reader.read(_LOOK_PAST_END))
        if extra:
            more = " or more" if extra == _LOOK_PAST_END else ""
            raise IDXError(
                f"{where}: {_bytes(extra)}{more} left over after the data: the header (shape {shape} {dtype}) "
                f"accounts for {header_size} header + {nbytes} data bytes, but the {reader.content} has "
                f"{header_size + nbytes + extra}{more} bytes (wrong header, or several files joined together?)"
            )
    try:
        values = np.frombuffer(data, dtype=dtype.newbyteorder(">")).reshape(shape)
    except ValueError as exc:  # e.g. more than 64 dimensions, or (2**32-1, 2**32-1, 0)
        raise IDXError(f"{where}: shape {shape} {dtype} cannot be represented as a NumPy array ({exc})") from None
    return values.astype(dtype, copy=False)  # big-endian -> native order (a copy only for multi-byte types)


def read_idx_header(path_or_file: PathOrFile) -> tuple[np.dtype, tuple[int, ...]]:
    """``(dtype, shape)`` of an IDX file, without reading its data (notebook 01_idx_files: 16 bytes, 47M pixels).

    ``path_or_file`` as for :func:`read_idx` (a file object is left somewhere past its header); dtype is a value of
    :data:`IDX_DTYPES`, shape a tuple of ints. Raises IDXError when the header is malformed, cut short or in
    corrupt gzip data.
    """
    with _opened(path_or_file) as (f, where):
        return _read_header(ContentReader(f, where, IDXError), where)


@contextlib.contextmanager
def _opened(path_or_file):
    """``(binary file, description for messages)``; closes only the files it opened itself."""
    if isinstance(path_or_file, (str, bytes, os.PathLike)):
        with open(path_or_file, "rb") as f:
            yield f, f"IDX file {os.fsdecode(path_or_file)!r}"
    elif hasattr(path_or_file, "read"):
        name = getattr(path_or_file, "name", None)
        named = isinstance(name, (str, bytes, os.PathLike))
        yield path_or_file, f"IDX file {os.fsdecode(name)!r}" if named else "IDX data"
    else:
        raise TypeError(f"read_idx expects a path or a binary file object, found {type(path_or_file).__name__}")


def _read_header(reader: ContentReader, where: str) -> tuple[np.dtype, tuple[int, ...]]:
    magic = reader.read(4)
    if len(magic) < 4:
        found = f"has only {len(magic)} bytes (header cut short)" if magic else "is empty (0 bytes)"
        raise IDXError(
            f"{where}: the {reader.content} {found}; an IDX file starts with the 4 bytes "
            "00 00 <type code> <number of dimensions>"
        )
    zeros, code, ndim = struct.unpack(">HBB", magic)
    if zeros != 0:
        raise IDXError(
            f"{where}: not an IDX file: expected the first two bytes to be 00 00, found {magic[:2].hex(' ').upper()} "
            "(gzip files, starting 1F 8B, are recognised automatically)"
        )
    if code not in IDX_DTYPES:
        raise IDXError(f"{where}: unknown type code 0x{code:02X} in byte 2; valid type codes: {_VALID_CODES}")
    if ndim == 0:
        raise IDXError(f"{where}: the header says 0 dimensions (byte 3); an IDX file has 1 to 255 dimensions")
    sizes = reader.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise IDXError(
            f"{where}: header cut short: a header with {ndim} dimensions needs {4 + 4 * ndim} bytes "
            f"(4 magic + {ndim} x 4 sizes), the {reader.content} has only {4 + len(sizes)}"
        )
    return IDX_DTYPES[code], struct.unpack(f">{ndim}I", sizes)


def _bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def write_idx(path: PathOrFile, array, *, compress: bool | None = None) -> None:
    """Write an array as an IDX file: the inverse of :func:`read_idx` (introduced in notebook 01_idx_files).

    Args:
        path: destination path (str or PathLike), or a binary file object opened for writing. A path is written
            atomically: the bytes go to a temporary file in the same directory, renamed over ``path`` only when
            complete, so an error never leaves a partial file under the final name.
        array: ``(d1, ..., dk)`` array with 1 <= k <= 255 and every ``di < 2**32``, dtype uint8, int8, int16, int32,
            float32 or float64 (any byte order; written big-endian as the format requires).
        compress: gzip the output. ``None`` (default): gzip when ``path`` ends with ``".gz"``; never for a file
            object unless ``compress=True``.

    Raises:
        ValueError: unsupported dtype (the message suggests a cast), a 0-d array, or a dimension too large.
    """
    array = np.asarray(array)
    header = _header_bytes(array)
    if hasattr(path, "write"):
        _write(path, header, array, gzip=bool(compress))
        return
    path = os.fsdecode(os.fspath(path))
    with atomic_write(path) as f:
        _write(f, header, array, gzip=path.endswith(".gz") if compress is None else bool(compress))


def _header_bytes(array: np.ndarray) -> bytes:
    dtype = array.dtype
    if dtype.newbyteorder("=") not in _TYPE_CODES:
        raise ValueError(
            f"write_idx: array dtype {dtype} cannot be stored in an IDX file; IDX supports {_VALID_DTYPES}. Cast "
            "first, checking that the values fit: array.astype(np.uint8) for bool (0/1), array.astype(np.int32) for "
            "other integers, array.astype(np.float32) or array.astype(np.float64) for other floats."
        )
    if array.ndim == 0:
        raise ValueError(
            "write_idx: array must have 1 to 255 dimensions, found a 0-d array (a scalar); "
            "use np.atleast_1d(array) to store it as shape (1,)"
        )
    if any(size >= 2**32 for size in array.shape):
        raise ValueError(
            f"write_idx: every dimension must be below 2**32 (4294967296), found shape {array.shape}; "
            "reshape the array or split it into several files"
        )
    code = _TYPE_CODES[dtype.newbyteorder("=")]
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)


def _write(f, header: bytes, array: np.ndarray, *, gzip: bool) -> None:
    """Header, then the values in C order, big-endian, a chunk at a time (no full-size copy)."""
    deflate = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip else None  # 31: gzip framing; 6: zlib's default
    flat, big_endian = array.reshape(-1), array.dtype.newbyteorder(">")
    step = max(1, _WRITE_CHUNK // array.dtype.itemsize)
    blocks = (flat[start : start + step].astype(big_endian, copy=False) for start in range(0, flat.size, step))
    for block in itertools.chain([header], blocks):
        f.write(deflate.compress(block) if deflate else block)
    if deflate:
        f.write(deflate.flush())


# ---------------------------------------------------------------------------------------------- file helpers
# Shared with datasets (the cache, downloads) and models (MLP.save): atomic writes and the one bounded gzip reader.


@contextlib.contextmanager
def atomic_write(path):
    """Open a temporary file beside ``path`` for binary writing; on success it replaces ``path`` in one step.

    Why: a full disk, an exception or Ctrl-C half-way through must never leave a truncated file under the final
    name (nor a temporary one behind). Usage: ``with atomic_write(path) as f: f.write(data)``.
    """
    path = Path(os.fspath(path))
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.part")
    try:
        with open(tmp, "xb") as f:  # honours the umask, unlike mkstemp's 0600
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # still there only when something failed


def remove_stale_parts(folder, names, max_age: float) -> None:
    """Delete the temporary files of ``atomic_write(folder / name)`` that a killed process left behind.

    A ``.part`` file nobody has written to for ``max_age`` seconds is stale: no writer pauses that long.
    """
    names, now = set(names), time.time()
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:  # .<name>.<8 hex digits>.part
            ours = entry.name[0] == "." and entry.name.endswith(".part") and entry.name[1:-14] in names
            if ours and now - entry.stat(follow_symlinks=False).st_mtime > max_age:
                os.unlink(entry.path)


def _binary(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"expected a binary file object (open(path, 'rb')); .read() returned {type(data).__name__}")
    return data


class ContentReader:
    """The content of a binary file object, gunzipped when it starts with ``GZIP_MAGIC`` (whatever its name).

    ``read(n)`` returns at most ``n`` bytes and decompresses no more than that: memory and time follow what is
    asked for and what the file really holds, never what a header or a gzip trailer claims. Several gzip members
    are read one after the other. A corrupt or truncated gzip stream raises ``error(message)``.
    """

    def __init__(self, f, where: str, error=ValueError):
        self._f, self._where, self._error = f, where, error
        chunk = b""
        while len(chunk) < 2 and (more := _binary(f.read(_CHUNK))):  # reads may be short (pipes, sockets)
            chunk += more
        self._chunk, self._pos = memoryview(chunk), 0  # bytes read from f; the first self._pos of them are used
        self.gzip = chunk[:2] == GZIP_MAGIC
        self.content = "decompressed content" if self.gzip else "file"
        self._inflater = zlib.decompressobj(wbits=31) if self.gzip else None  # 31: gzip header and trailer
        self._step, self._members, self._produced = _FIRST_STEP, 1, 0

    def read(self, n: int) -> bytearray:
        """Up to ``n`` bytes of content (fewer only at its end), in a buffer that grows with what arrives."""
        out = bytearray()
        while len(out) < n:
            part = self._inflate(min(n - len(out), _CHUNK)) if self.gzip else self._take(min(n - len(out), _CHUNK))
            if not part:
                break
            out += part
        return out

    def _input_left(self) -> bool:
        if self._pos == len(self._chunk):
            self._chunk, self._pos = memoryview(_binary(self._f.read(_CHUNK))), 0
        return self._pos < len(self._chunk)

    def _take(self, n: int):
        part = self._chunk[self._pos : self._pos + n] if self._input_left() else b""
        self._pos += len(part)
        return part

    def _inflate(self, n: int) -> bytes:
        """Up to ``n`` decompressed bytes; b"" only after the last member."""
        while True:
            if self._inflater.eof:  # a member ended: another one follows, or the content is complete
                if not self._input_left():
                    return b""
                self._inflater, self._step = zlib.decompressobj(wbits=31), _FIRST_STEP
                self._members += 1
            data = self._chunk[self._pos : self._pos + self._step] if self._input_left() else b""
            try:
                out = self._inflater.decompress(data, n)
            except zlib.error as exc:
                raise self._corrupt(str(exc)) from None
            # zlib hands back what it did not use: after the member's end, or beyond the output limit
            unused = self._inflater.unused_data if self._inflater.eof else self._inflater.unconsumed_tail
            self._pos += len(data) - len(unused)
            self._step = min(2 * self._step, _MAX_STEP)
            if out:
                self._produced += len(out)
                return out
            if not data and not self._inflater.eof:
                raise self._corrupt("the data ends before the end-of-stream marker")

    def _corrupt(self, detail: str):
        return self._error(
            f"{self._where}: corrupt or truncated gzip data in member {self._members}: {detail} "
            f"(after {self._produced} decompressed bytes); download or decompress the file again"
        )
