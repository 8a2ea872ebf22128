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

Public API: :func:`read_idx`, :func:`read_idx_header`, :func:`write_idx`, :data:`IDX_DTYPES`, :class:`IDXError`.
"""

from __future__ import annotations

import io
import os
import secrets
import struct
import sys
import zlib
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

_GZIP_MAGIC = b"\x1f\x8b"
# Deflate emits at most 258 bytes per 2 bits of input, so a gzip file can never expand by more than ~1032x.
# A header claiming more than this is a lie we can detect before allocating anything.
_DEFLATE_MAX_RATIO = 1032
_IN_CHUNK = 64 * 1024  # compressed bytes handed to zlib per call
_OUT_CHUNK = 1024 * 1024  # decompressed bytes asked from zlib per call (stays in cache while copied)
_READ_CHUNK = 1024 * 1024  # plain reads from streams of unknown size
_MAX_NDIM = 64 if int(np.__version__.split(".")[0]) >= 2 else 32  # NumPy's limit on dimensions
_NEEDS_SWAP = sys.byteorder == "little"  # IDX is big-endian; NumPy arrays are returned in native order


class IDXError(ValueError):
    """A file (or byte stream) is not a valid IDX file; the message says what was expected and what was found."""


# --------------------------------------------------------------------------------------------------- reading


def read_idx(path_or_file: PathOrFile) -> np.ndarray:
    """Read one IDX file (plain or gzipped) into a NumPy array.

    Introduced in notebook 01_idx_files, where it turns ``train-images-idx3-ubyte.gz`` into the
    ``(60000, 28, 28) uint8`` array of training digits.

    Args:
        path_or_file: a path (str or PathLike), or a binary file object opened for reading (seekable or not,
            e.g. ``io.BytesIO`` or a socket's ``makefile("rb")``); it is read from its current position to its end.
            Gzip is detected from the content (first bytes ``1F 8B``), whatever the file is called; multi-member
            gzip files are read in full.

    Returns:
        array: shape and dtype from the header (any ``ndim`` from 1 up to NumPy's limit), dtype one of
        :data:`IDX_DTYPES` (uint8, int8, int16, int32, float32 or float64) in native byte order, C-contiguous
        and writable, so it can be used (and modified) directly.

    Raises:
        IDXError: the content is not a valid IDX file (bad magic number, unknown type code, zero dimensions,
            header or data cut short, bytes left over after the data, corrupt or truncated gzip stream, empty
            file). A header that claims more data than the file can hold is rejected before that much memory is
            allocated.
        OSError: the file cannot be opened or read (e.g. ``FileNotFoundError``).
    """
    with _open_for_reading(path_or_file) as (f, where):
        return _read(f, where, header_only=False)


def read_idx_header(path_or_file: PathOrFile) -> tuple[np.dtype, tuple[int, ...]]:
    """Read only the header of an IDX file: what :func:`read_idx` would return, without reading the data.

    Introduced in notebook 01_idx_files, to look at the 16 bytes that describe 47 million pixels.

    Args:
        path_or_file: as for :func:`read_idx` (for a file object, the header bytes are consumed).

    Returns:
        (dtype, shape): dtype in native byte order (a value of :data:`IDX_DTYPES`) and shape a tuple of ints.

    Raises:
        IDXError: the header is malformed or cut short, or the gzip stream holding it is corrupt.
    """
    with _open_for_reading(path_or_file) as (f, where):
        return _read(f, where, header_only=True)


class _open_for_reading:
    """Context manager giving ``(binary file, description for messages)``; closes only files it opened."""

    def __init__(self, path_or_file):
        self._obj = path_or_file
        self._owned = None

    def __enter__(self):
        obj = self._obj
        if isinstance(obj, (str, bytes, os.PathLike)):
            path = os.fspath(obj)
            self._owned = open(path, "rb")
            return self._owned, f"IDX file {os.fsdecode(path)!r}"
        if not hasattr(obj, "read"):
            raise TypeError(
                f"read_idx expects a path (str or os.PathLike) or a binary file object, found {type(obj).__name__}"
            )
        name = getattr(obj, "name", None)
        where = f"IDX file {os.fsdecode(name)!r}" if isinstance(name, (str, bytes, os.PathLike)) else "IDX data"
        return obj, where

    def __exit__(self, *exc_info):
        if self._owned is not None:
            self._owned.close()


def _read(f, where: str, *, header_only: bool):
    size = _remaining_size(f)
    if size is not None:
        # Seekable: peek at the first two bytes, then go back, so that nothing needs to be concatenated later.
        start = f.tell()
        head = _check_binary(f.read(2))
        f.seek(start)
        prefix = b""
    else:
        head = _check_binary(_read_upto(f, 2))
        prefix = head

    if head == _GZIP_MAGIC:
        source = _GzipSource(prefix + _read_rest(f, size), where)
    else:
        source = _PlainSource(f, prefix, size)

    dtype, shape, header_size = _read_header(source, where)
    if header_only:
        return dtype, shape
    nbytes = dtype.itemsize * _prod(shape)  # Python ints: no overflow, whatever the header claims
    limit = None if source.limit is None else source.limit - header_size  # most data bytes there can be

    if limit is not None and nbytes > limit:
        # The file cannot hold what the header claims. Count what is really there, in small chunks, so that the
        # message can say exactly how much is missing; never allocate the claimed size.
        found = source.count_rest()
        if found < nbytes:
            raise IDXError(_missing_message(where, nbytes, found, shape, dtype))
        source = source.restart()  # only if the bound was wrong (or the file grew): read again, normally
        _read_header(source, where)
    if source.exact and nbytes < limit:
        raise IDXError(_extra_message(where, limit - nbytes, header_size, nbytes, shape, dtype, source.content))

    if limit is None:
        # A stream of unknown length (a pipe, a socket): the buffer grows with the data that really arrives.
        array = _read_growing(source, nbytes, dtype, shape, where)
    else:
        array = _allocate(shape, dtype, where)
        found = source.readinto(_byte_view(array)) if nbytes else 0
        if found < nbytes:
            raise IDXError(_missing_message(where, nbytes, found, shape, dtype))

    extra = source.count_rest()
    if extra:
        raise IDXError(_extra_message(where, extra, header_size, nbytes, shape, dtype, source.content))
    if _NEEDS_SWAP and dtype.itemsize > 1:
        array.byteswap(inplace=True)  # big-endian bytes -> native values, without a second array
    return array


def _read_header(source, where: str) -> tuple[np.dtype, tuple[int, ...], int]:
    content = source.content
    magic = source.read(4)
    if not magic:
        raise IDXError(
            f"{where}: the {content} is empty (0 bytes); an IDX file starts with the 4 bytes "
            "00 00 <type code> <number of dimensions>"
        )
    if any(magic[:2]):
        raise IDXError(
            f"{where}: not an IDX file: expected the first two bytes to be 00 00, found {magic[:2].hex(' ').upper()} "
            "(gzip files, starting 1F 8B, are recognised automatically)"
        )
    if len(magic) >= 3 and magic[2] not in IDX_DTYPES:
        raise IDXError(f"{where}: unknown type code 0x{magic[2]:02X} in byte 2; valid type codes: {_VALID_CODES}")
    if len(magic) < 4:
        raise IDXError(
            f"{where}: header cut short: the magic number needs 4 bytes, the {content} has only {len(magic)}"
        )
    dtype, ndim = IDX_DTYPES[magic[2]], magic[3]
    if ndim == 0:
        raise IDXError(f"{where}: the header says 0 dimensions (byte 3); an IDX file has 1 to 255 dimensions")
    header_size = 4 + 4 * ndim
    sizes = source.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise IDXError(
            f"{where}: header cut short: a header with {ndim} dimensions needs {header_size} bytes "
            f"(4 magic + {ndim} x 4 sizes), the {content} has only {4 + len(sizes)}"
        )
    shape = struct.unpack(f">{ndim}I", sizes)
    if ndim > _MAX_NDIM:
        raise IDXError(
            f"{where}: shape {shape} has {ndim} dimensions; it cannot be represented as a NumPy array "
            f"(at most {_MAX_NDIM} dimensions)"
        )
    return dtype, shape, header_size


def _missing_message(where, nbytes, found, shape, dtype) -> str:
    return (
        f"{where}: expected {nbytes} data bytes for shape {shape} {dtype}, found {found}: "
        f"{_bytes(nbytes - found)} missing (truncated file?)"
    )


def _extra_message(where, extra, header_size, nbytes, shape, dtype, content) -> str:
    return (
        f"{where}: {_bytes(extra)} left over after the data: the header (shape {shape} {dtype}) accounts "
        f"for {header_size} header + {nbytes} data bytes, but the {content} has {header_size + nbytes + extra} "
        "bytes (wrong header, or several files joined together?)"
    )


def _bytes(n: int) -> str:
    return "1 byte" if n == 1 else f"{n} bytes"


def _prod(shape) -> int:
    n = 1
    for size in shape:
        n *= size
    return n


def _allocate(shape, dtype, where) -> np.ndarray:
    try:
        return np.empty(shape, dtype)
    except ValueError as exc:  # e.g. (2**32-1, 2**32-1, 0): empty, but NumPy cannot index it
        raise IDXError(f"{where}: shape {shape} {dtype} cannot be represented as a NumPy array ({exc})") from None


def _byte_view(array: np.ndarray) -> memoryview:
    return memoryview(array.reshape(-1).view(np.uint8))


def _read_growing(source, nbytes, dtype, shape, where) -> np.ndarray:
    buffer = bytearray()
    while len(buffer) < nbytes:
        chunk = source.read(min(nbytes - len(buffer), _READ_CHUNK))
        if not chunk:
            raise IDXError(_missing_message(where, nbytes, len(buffer), shape, dtype))
        buffer += chunk
    if nbytes == 0:
        return _allocate(shape, dtype, where)
    return np.frombuffer(buffer, dtype=dtype).reshape(shape)  # backed by the bytearray: writable, no copy


def _check_binary(data):
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"read_idx needs a binary file object (open(path, 'rb')); .read() returned {type(data).__name__}"
        )
    return bytes(data)


def _remaining_size(f) -> int | None:
    """Bytes from the current position to the end, for seekable files; None when it cannot be known."""
    try:
        if not f.seekable():
            return None
        start = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(start)
    except (AttributeError, OSError, ValueError):
        return None
    return end - start


def _read_upto(f, n: int) -> bytes:
    """Read n bytes from a file object whose reads may be short; fewer only at end of file."""
    parts, got = [], 0
    while got < n:
        chunk = _check_binary(f.read(n - got))
        if not chunk:
            break
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def _read_rest(f, size: int | None) -> bytes:
    """Everything from the current position to the end of a file object (reads may be short)."""
    parts = []
    if size:
        parts.append(_check_binary(f.read(size)))
    while True:
        chunk = f.read(_READ_CHUNK)
        if not chunk:
            break
        parts.append(_check_binary(chunk))
    return parts[0] if len(parts) == 1 else b"".join(parts)


class _PlainSource:
    """An uncompressed file object, with some bytes already taken from it (``prefix``).

    ``limit``: bytes left (prefix included) when the file is seekable, else None; ``exact``: that is the size.
    """

    content = "file"

    def __init__(self, f, prefix: bytes, size: int | None):
        self._f = f
        self._prefix = prefix
        self.limit = size
        self.exact = size is not None

    def read(self, n: int) -> bytes:
        head, self._prefix = self._prefix[:n], self._prefix[n:]
        return head + _read_upto(self._f, n - len(head)) if len(head) < n else head

    def readinto(self, view: memoryview) -> int:
        got = len(self._prefix)
        view[:got] = self._prefix
        self._prefix = b""
        readinto = getattr(self._f, "readinto", None)
        while got < len(view):
            if readinto is not None:
                n = readinto(view[got:])
            else:
                chunk = _check_binary(self._f.read(min(len(view) - got, _READ_CHUNK)))
                n = len(chunk)
                view[got : got + n] = chunk
            if not n:
                break
            got += n
        return got

    def count_rest(self) -> int:
        count = len(self._prefix)
        self._prefix = b""
        while True:
            chunk = self._f.read(_READ_CHUNK)
            if not chunk:
                return count
            count += len(chunk)

    def restart(self):  # pragma: no cover - only reachable if the file grew while being read
        raise OSError("the file changed while it was being read; read it again")


class _GzipSource:
    """Decompresses gzip data (one or several members) on demand, a bounded chunk at a time.

    ``limit``: an upper bound on the decompressed size (deflate's maximum ratio); ``exact`` is False.
    """

    content = "decompressed content"
    exact = False

    def __init__(self, compressed: bytes, where: str):
        self.limit = _DEFLATE_MAX_RATIO * len(compressed) + 1024
        self._data = compressed
        self._view = memoryview(compressed)
        self._where = where
        self._pos = 0  # compressed bytes handed to zlib so far
        self._tail = b""  # input zlib gave back because the output limit was reached
        self._zlib = zlib.decompressobj(wbits=31)  # 31: gzip header and CRC-32 trailer
        self._finished = False
        self._out = 0  # decompressed bytes produced so far

    def restart(self):
        return _GzipSource(self._data, self._where)

    def _corrupt(self, detail: str) -> IDXError:
        return IDXError(
            f"{self._where}: corrupt or truncated gzip file: {detail} (after {self._out} decompressed bytes); "
            "download or decompress it again"
        )

    def _next(self, limit: int) -> bytes:
        """Up to ``limit`` (> 0) decompressed bytes; b"" only at the end of the last member."""
        while not self._finished:
            if self._tail:
                data = self._tail
            elif self._pos < len(self._view):
                data = self._view[self._pos : self._pos + _IN_CHUNK]
                self._pos += len(data)
            else:
                data = b""  # input exhausted: zlib may still hold output, else the stream is cut short
            try:
                out = self._zlib.decompress(data, limit)
            except zlib.error as exc:
                raise self._corrupt(str(exc)) from None
            self._tail = self._zlib.unconsumed_tail
            self._out += len(out)
            if self._zlib.eof:
                self._next_member()
            if out:
                return out
            if not data and not self._zlib.eof:
                raise self._corrupt("the compressed stream ends before its end-of-stream marker")
        return b""

    def _next_member(self):
        # Whatever zlib did not use belongs to the data just before self._pos.
        self._pos -= len(self._zlib.unused_data)
        self._tail = b""
        rest = self._view[self._pos :]
        if len(rest) == 0 or not any(rest):  # end of file (zero padding is tolerated, as gzip does)
            self._finished = True
        elif rest[:2] == _GZIP_MAGIC:
            self._zlib = zlib.decompressobj(wbits=31)
        else:
            raise self._corrupt(f"{len(rest)} bytes after the end of the gzip stream are not gzip data")

    def read(self, n: int) -> bytes:
        parts, got = [], 0
        while got < n:
            out = self._next(n - got)
            if not out:
                break
            parts.append(out)
            got += len(out)
        return b"".join(parts)

    def readinto(self, view: memoryview) -> int:
        got, total = 0, len(view)
        while got < total:
            out = self._next(min(total - got, _OUT_CHUNK))
            if not out:
                break
            view[got : got + len(out)] = out  # a small, cache-hot copy straight into the array
            got += len(out)
        return got

    def count_rest(self) -> int:
        count = 0
        while True:
            out = self._next(_OUT_CHUNK)
            if not out:
                return count
            count += len(out)


# --------------------------------------------------------------------------------------------------- writing


def write_idx(path: PathOrFile, array, *, compress: bool | None = None) -> None:
    """Write an array as an IDX file: the inverse of :func:`read_idx`.

    Introduced in notebook 01_idx_files (a round trip through a file is the simplest test of a reader).

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
        _write_stream(path, header, array, gzip=bool(compress))
        return
    path = os.fsdecode(os.fspath(path))
    gzip = path.endswith(".gz") if compress is None else bool(compress)
    directory, name = os.path.split(os.path.abspath(path))
    fd, temp = _create_temp(directory, name)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_stream(f, header, array, gzip=gzip)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise


def _header_bytes(array: np.ndarray) -> bytes:
    dtype = array.dtype
    code = _TYPE_CODES.get(dtype.newbyteorder("=")) if dtype.fields is None and dtype.subdtype is None else None
    if code is None:
        raise ValueError(
            f"write_idx: array dtype {dtype} cannot be stored in an IDX file; IDX supports {_VALID_DTYPES}. "
            + _cast_hint(dtype)
        )
    if array.ndim == 0:
        raise ValueError(
            "write_idx: array must have 1 to 255 dimensions, found a 0-d array (a scalar); "
            "use np.atleast_1d(array) to store it as shape (1,)"
        )
    if array.ndim > 255:  # pragma: no cover - NumPy itself stops at 64 dimensions
        raise ValueError(f"write_idx: array must have 1 to 255 dimensions, found {array.ndim}")
    too_big = [size for size in array.shape if size >= 2**32]
    if too_big:
        raise ValueError(
            f"write_idx: every dimension must be below 2**32 (4294967296), found shape {array.shape}; "
            "reshape the array or split it into several files"
        )
    return bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)


def _cast_hint(dtype: np.dtype) -> str:
    if dtype == np.bool_:
        return "Cast first: array.astype(np.uint8) stores False/True as 0/1."
    if dtype.kind in "iu":
        return "Cast first, e.g. array.astype(np.int32) (check that the values fit)."
    if dtype.kind == "f":
        target = "float32" if dtype.itemsize < 4 else "float64"
        return f"Cast first, e.g. array.astype(np.{target}) (check that the precision is enough)."
    return "Convert the data to one of these numeric types first."


def _write_stream(f, header: bytes, array: np.ndarray, *, gzip: bool) -> None:
    if gzip:
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31)  # level 6: zlib's default, much faster than 9

        def write(data):
            out = compressor.compress(data)
            if out:
                f.write(out)
    else:
        write = f.write

    write(header)
    flat = np.ascontiguousarray(array).reshape(-1)
    big_endian = array.dtype.newbyteorder(">")
    step = max(1, _OUT_CHUNK // array.dtype.itemsize)
    for start in range(0, flat.size, step):
        block = flat[start : start + step].astype(big_endian, copy=False)  # converted a chunk at a time
        write(block.view(np.uint8))
    if gzip:
        f.write(compressor.flush())


def _create_temp(directory: str, name: str) -> tuple[int, str]:
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        temp = os.path.join(directory, f".{name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(temp, flags, 0o666), temp  # 0o666 & ~umask: the permissions of a normal new file
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue
