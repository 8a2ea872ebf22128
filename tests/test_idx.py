"""Tests for mnistlib.idx: malformed-file corpus, round-trip properties, atomic writes, the real MNIST files."""

import gzip
import hashlib
import io
import os
import socket
import struct
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mnistlib import idx
from mnistlib.idx import IDX_DTYPES, IDXError, read_idx, read_idx_header, write_idx

from _io_helpers import idx_bytes  # noqa: E402

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
MNIST_FILES = {
    "train-images-idx3-ubyte": ((60000, 28, 28), 255),
    "train-labels-idx1-ubyte": ((60000,), 9),
    "t10k-images-idx3-ubyte": ((10000, 28, 28), 255),
    "t10k-labels-idx1-ubyte": ((10000,), 9),
}
DTYPES = [np.dtype(t) for t in ("u1", "i1", ">i2", ">i4", ">f4", ">f8")]
MB = 1024 * 1024


# --------------------------------------------------------------------------------------------------- helpers


def header(code: int, shape) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


class ShortReads:
    """A non-seekable, socket-like reader: only read(n), and every read returns at most a few bytes."""

    def __init__(self, data: bytes, max_chunk: int = 5):
        self._data, self._pos, self._max = data, 0, max_chunk

    def read(self, n: int = -1) -> bytes:
        n = self._max if n is None or n < 0 else min(n, self._max)
        chunk = self._data[self._pos : self._pos + n]
        self._pos += len(chunk)
        return chunk

    def seekable(self) -> bool:
        return False


def deliver(data: bytes, how: str, tmp_path: Path, name: str = "sample.idx"):
    """The same bytes as a path, a BytesIO or a non-seekable stream."""
    if how == "path":
        path = tmp_path / name
        path.write_bytes(data)
        return path
    if how == "bytesio":
        return io.BytesIO(data)
    return ShortReads(data)


def gzip_members(data: bytes, cuts) -> bytes:
    """data as several concatenated gzip members, split at the given offsets."""
    bounds = [0, *cuts, len(data)]
    return b"".join(gzip.compress(data[a:b], mtime=0) for a, b in zip(bounds, bounds[1:], strict=False))


VALID = header(0x0C, (3, 4)) + np.arange(12, dtype=">i4").tobytes()  # 12 + 48 bytes
VALID_GZ = gzip.compress(header(0x08, (64, 1024)) + bytes(range(256)) * 256, mtime=0)
HUGE_CLAIM = header(0x08, (2**31, 2**31, 100)) + b"abcd"  # a 20-byte file claiming 4.6e20 bytes
HUGE_NBYTES = 2**31 * 2**31 * 100
PLAUSIBLE_CLAIM = header(0x08, (2**16, 2**16, 2)) + b"abcd"  # 8 GiB: np.empty would happily reserve it

# name -> (file content, words the message must contain)
CORPUS = {
    "empty": (b"", ["empty", "0 bytes"]),
    "bad_magic": (b"\x01\x02\x08\x01" + b"\x00\x00\x00\x01x", ["00 00", "found 01 02"]),
    "zip_file": (b"PK\x03\x04" + bytes(40), ["not an IDX file", "50 4B"]),
    "unknown_type_code": (b"\x00\x00\x07\x01\x00\x00\x00\x01x", ["unknown type code 0x07", "0x08 (uint8)", "0x0E"]),
    "zero_dimensions": (b"\x00\x00\x08\x00", ["0 dimensions", "1 to 255"]),
    "header_3_bytes": (b"\x00\x00\x08", ["header cut short", "4 bytes", "only 3"]),
    "header_2_of_3_dims": (header(0x08, (2, 3, 4))[:12], ["header cut short", "3 dimensions", "16 bytes", "only 12"]),
    "data_short_7_bytes": (VALID[:-7], ["expected 48 data bytes", "(3, 4) int32", "found 41", "7 bytes missing"]),
    "data_short_1_byte": (VALID[:-1], ["found 47", "1 byte missing"]),
    "trailing_5_bytes": (VALID + b"extra", ["5 bytes left over", "12 header + 48 data bytes", "has 65 bytes"]),
    "huge_claim": (HUGE_CLAIM, [f"expected {HUGE_NBYTES} data bytes", "found 4", f"{HUGE_NBYTES - 4} bytes missing"]),
    "gzip_garbage": (b"\x1f\x8b" + b"this is not deflate data at all", ["corrupt or truncated gzip"]),
    "gzip_truncated": (VALID_GZ[: len(VALID_GZ) // 2], ["corrupt or truncated gzip", "ends before"]),
    "gzip_trailer_cut": (VALID_GZ[:-3], ["corrupt or truncated gzip"]),
    "gzip_bad_crc": (VALID_GZ[:-8] + bytes(4) + VALID_GZ[-4:], ["corrupt or truncated gzip", "check"]),
    "gzip_junk_after_stream": (VALID_GZ + b"junk", ["corrupt or truncated gzip data in member 2"]),
    "gzip_zero_padding": (VALID_GZ + bytes(100), ["corrupt or truncated gzip data in member 2"]),
    "gzip_empty": (gzip.compress(b""), ["decompressed content is empty"]),
    "gzip_bad_magic": (gzip.compress(b"\x01\x02\x08\x01\x00\x00\x00\x01x"), ["00 00", "01 02"]),
    "gzip_data_short_1000_bytes": (
        gzip.compress(header(0x08, (60, 28, 28)) + bytes(60 * 28 * 28 - 1000)),
        ["expected 47040 data bytes for shape (60, 28, 28) uint8", "found 46040", "1000 bytes missing"],
    ),
    "gzip_trailing_2_bytes": (gzip.compress(VALID + b"xy"), ["2 bytes left over", "decompressed content"]),
    "gzip_huge_claim": (gzip.compress(HUGE_CLAIM), ["found 4", f"{HUGE_NBYTES - 4} bytes missing"]),
    "too_many_dims_for_numpy": (header(0x08, (1,) * 65) + b"x", ["cannot be represented"]),
}


# --------------------------------------------------------------------------------------------------- malformed files


@pytest.mark.parametrize("how", ["path", "bytesio", "stream"])
@pytest.mark.parametrize("case", list(CORPUS))
def test_malformed_file_raises_idxerror_with_useful_message(case, how, tmp_path):
    data, words = CORPUS[case]
    source = deliver(data, how, tmp_path, name=f"{case}.idx")
    with pytest.raises(IDXError) as info:
        read_idx(source)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    if how == "path":
        assert f"{case}.idx" in message  # the file name is in the message
        assert source.read_bytes() == data  # nothing is lost: the bad file is still there, unchanged


def test_idxerror_is_a_valueerror():
    assert issubclass(IDXError, ValueError)


def test_header_reader_rejects_bad_headers_too(tmp_path):
    with pytest.raises(IDXError, match="unknown type code"):
        read_idx_header(io.BytesIO(b"\x00\x00\x01\x01\x00\x00\x00\x01"))
    with pytest.raises(IDXError, match="header cut short"):
        read_idx_header(deliver(gzip.compress(header(0x08, (1, 2))[:9]), "path", tmp_path))


def peak_allocation(read, source) -> int:
    """Peak traced memory (bytes) while read(source) fails with IDXError."""
    tracemalloc.start()
    try:
        with pytest.raises(IDXError, match="missing"):
            read(source)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_tracemalloc_sees_numpy_allocations():
    # Guard for the tests below: they would prove nothing if NumPy's buffers were invisible to tracemalloc.
    tracemalloc.start()
    try:
        np.empty(50 * MB, np.uint8).fill(1)
        assert tracemalloc.get_traced_memory()[1] >= 50 * MB
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("how", ["path", "bytesio", "stream"])
@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("claim", [HUGE_CLAIM, PLAUSIBLE_CLAIM], ids=["4e20_bytes", "8_GiB"])
def test_huge_claim_is_rejected_without_allocating(claim, how, compressed, tmp_path):
    data = gzip.compress(claim) if compressed else claim
    assert peak_allocation(read_idx, deliver(data, how, tmp_path)) < 10 * MB


def test_gzip_claim_beyond_deflate_ratio_counts_real_content(tmp_path):
    # 4 MiB of zeros compress to ~4 KiB; the header claims 10**12 bytes, impossible for ~4 KiB of deflate data.
    real = 4 * MB
    path = deliver(gzip.compress(header(0x08, (10**6, 10**6)) + bytes(real)), "path", tmp_path, "bomb.gz")
    assert path.stat().st_size < 10_000
    assert peak_allocation(read_idx, path) < 10 * MB
    with pytest.raises(IDXError, match=f"found {real}: {10**12 - real} bytes missing"):
        read_idx(path)


def test_huge_claim_with_zero_dim_is_empty_not_an_allocation():
    array = read_idx(io.BytesIO(header(0x09, (2**32 - 1, 0))))
    assert array.shape == (2**32 - 1, 0) and array.dtype == np.int8


# --------------------------------------------------------------------------------------------------- round trips


@st.composite
def idx_arrays(draw):
    dtype = draw(st.sampled_from(DTYPES))
    array = draw(hnp.arrays(dtype, hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=6)))
    return array.astype(dtype.newbyteorder(draw(st.sampled_from("<>"))))  # any byte order goes in


def assert_same(read: np.ndarray, written: np.ndarray):
    assert read.shape == written.shape
    assert read.dtype == written.dtype.newbyteorder("=")
    assert read.dtype.isnative and read.flags.writeable and read.flags.c_contiguous
    assert read.tobytes() == written.astype(read.dtype).tobytes()  # bit-exact, NaN payloads and -0.0 included


@settings(max_examples=80, deadline=None)
@given(array=idx_arrays(), compress=st.booleans(), how=st.sampled_from(["bytesio", "stream"]))
def test_round_trip_in_memory(array, compress, how):
    f = io.BytesIO()
    write_idx(f, array, compress=compress)
    data = f.getvalue()
    assert data[:2] == (b"\x1f\x8b" if compress else b"\x00\x00")
    source = io.BytesIO(data) if how == "bytesio" else ShortReads(data, max_chunk=13)
    assert_same(read_idx(source), array)


@settings(max_examples=40, deadline=None)
@given(array=idx_arrays(), name=st.sampled_from(["a.idx", "a.idx.gz"]), compress=st.sampled_from([None, True, False]))
def test_round_trip_through_files(array, name, compress, tmp_path_factory):
    path = tmp_path_factory.mktemp("rt") / name
    write_idx(path, array, compress=compress)
    gzipped = name.endswith(".gz") if compress is None else compress
    assert path.read_bytes()[:2] == (b"\x1f\x8b" if gzipped else b"\x00\x00")
    assert_same(read_idx(path), array)
    assert_same(read_idx(str(path)), array)
    assert read_idx_header(path) == (array.dtype.newbyteorder("="), array.shape)
    assert [p.name for p in path.parent.iterdir()] == [name]  # no temporary file left behind


def test_round_trip_every_dtype_in_every_way(tmp_path):
    for dtype in DTYPES:
        array = (np.arange(2 * 3 * 4) - 7).astype(dtype).reshape(2, 3, 4)
        for compress in (False, True):
            data = io.BytesIO()
            write_idx(data, array, compress=compress)
            for how in ("path", "bytesio", "stream"):
                assert_same(read_idx(deliver(data.getvalue(), how, tmp_path)), array)


def test_big_endian_bytes_decode_to_the_right_values():
    cases = [
        (0x08, b"\x01\xff", [1, 255]),
        (0x09, b"\x01\xff", [1, -1]),
        (0x0B, b"\x01\x02\xff\xfe", [258, -2]),
        (0x0C, b"\x00\x01\x00\x00\xff\xff\xff\xfe", [65536, -2]),
        (0x0D, b"\x3f\xc0\x00\x00\xc1\x20\x00\x00", [1.5, -10.0]),
        (0x0E, b"\x3f\xf8\x00\x00\x00\x00\x00\x00\x7f\xf0\x00\x00\x00\x00\x00\x00", [1.5, np.inf]),
    ]
    for code, data, values in cases:
        array = read_idx(io.BytesIO(header(code, (2,)) + data))
        assert array.dtype == IDX_DTYPES[code] and array.dtype.isnative
        assert array.tolist() == values
        assert idx_bytes(array) == header(code, (2,)) + data  # and writing gives the same bytes back


def test_returned_arrays_are_native_and_writable(tmp_path):
    array = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    write_idx(tmp_path / "x.gz", array)
    write_idx(tmp_path / "x.idx", array)
    for source in (tmp_path / "x.gz", tmp_path / "x.idx", io.BytesIO(idx_bytes(array)), ShortReads(idx_bytes(array))):
        read = read_idx(source)
        assert read.dtype == np.float32 and read.dtype.isnative and read.flags.writeable
        read[0, 0] = 42.0  # writable for real
        assert read[0, 0] == 42.0 and np.array_equal(read[1:], array[1:])


def test_gzip_is_detected_by_content_not_by_name(tmp_path):
    array = np.arange(10, dtype=np.int16)
    write_idx(tmp_path / "gzipped.idx", array, compress=True)
    write_idx(tmp_path / "plain.gz", array, compress=False)
    assert (tmp_path / "gzipped.idx").read_bytes()[:2] == b"\x1f\x8b"
    assert (tmp_path / "plain.gz").read_bytes()[:2] == b"\x00\x00"
    assert np.array_equal(read_idx(tmp_path / "gzipped.idx"), array)
    assert np.array_equal(read_idx(tmp_path / "plain.gz"), array)


@pytest.mark.parametrize("how", ["path", "bytesio", "stream"])
def test_multi_member_gzip(how, tmp_path):
    array = np.arange(5000, dtype=np.float64).reshape(50, 100)
    data = idx_bytes(array)
    members = gzip_members(data, cuts=[2, 11, 3000, 20000])  # cuts inside the header and inside the data
    assert gzip.decompress(members) == data
    assert_same(read_idx(deliver(members, how, tmp_path)), array)
    empty_members = gzip.compress(b"") * 1000 + members + gzip.compress(b"") * 1000  # valid too
    assert_same(read_idx(deliver(empty_members, how, tmp_path)), array)


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_read_from_a_socket(compress):
    array = np.arange(300_000, dtype=np.float32).reshape(300, 1000)
    f = io.BytesIO()
    write_idx(f, array, compress=compress)
    sender, receiver = socket.socketpair()
    thread = threading.Thread(target=lambda: (sender.sendall(f.getvalue()), sender.close()))
    thread.start()
    try:
        with receiver, receiver.makefile("rb") as stream:
            assert_same(read_idx(stream), array)
    finally:
        thread.join()


def test_file_object_is_read_from_its_current_position():
    f = io.BytesIO(b"preamble" + VALID)
    f.seek(8)
    assert read_idx(f).tolist() == np.arange(12).reshape(3, 4).tolist()


def test_text_file_object_is_refused(tmp_path):
    (tmp_path / "a.idx").write_bytes(VALID)
    with open(tmp_path / "a.idx", encoding="latin-1") as f, pytest.raises(TypeError, match="binary"):
        read_idx(f)


def test_read_idx_header():
    assert read_idx_header(io.BytesIO(VALID)) == (np.dtype(np.int32), (3, 4))
    assert read_idx_header(io.BytesIO(HUGE_CLAIM)) == (np.dtype(np.uint8), (2**31, 2**31, 100))
    assert read_idx_header(io.BytesIO(VALID_GZ)) == (np.dtype(np.uint8), (64, 1024))


# --------------------------------------------------------------------------------------------------- writing


@pytest.mark.parametrize(
    "array, words",
    [
        (np.zeros(3, dtype=np.int64), ["int64", "astype(np.int32)"]),
        (np.zeros(3, dtype=np.uint16), ["uint16", "astype(np.int32)"]),
        (np.zeros(3, dtype=bool), ["bool", "astype(np.uint8)"]),
        (np.zeros(3, dtype=np.float16), ["float16", "astype(np.float32)"]),
        (np.zeros(3, dtype=np.complex64), ["complex64"]),
        (np.array(["a", "b"]), ["<U1"]),
        (np.zeros(3, dtype=[("a", "u1")]), ["cannot be stored"]),
        (np.float32(1.0), ["0-d", "np.atleast_1d"]),
        (np.zeros((2**32, 0), dtype=np.uint8), ["below 2**32"]),
    ],
    ids=["int64", "uint16", "bool", "float16", "complex", "str", "structured", "0-d", "dim_too_big"],
)
def test_write_idx_rejects_unsupported_arrays(array, words, tmp_path):
    with pytest.raises(ValueError) as info:
        write_idx(tmp_path / "out.idx.gz", array)
    assert not isinstance(info.value, IDXError)  # a bad argument, not a bad file
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
    if "0-d" not in words and "below 2**32" not in words:
        assert "uint8, int8, int16, int32, float32, float64" in message
    assert list(tmp_path.iterdir()) == []  # nothing written, not even a temporary file


def test_failed_write_leaves_the_old_file_and_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "data.idx"
    write_idx(path, np.arange(4, dtype=np.uint8))
    before = path.read_bytes()

    def broken_write(f, header, array, *, gzip):
        f.write(header)
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(idx, "_write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        write_idx(path, np.arange(1000, dtype=np.uint8))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["data.idx"]


def test_written_file_has_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    write_idx(tmp_path / "a.idx", np.zeros(2, np.uint8))
    assert (tmp_path / "a.idx").stat().st_mode & 0o777 == 0o666 & ~umask


def test_write_idx_to_file_object_and_gzip_choice(tmp_path):
    array = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert idx_bytes(array) == header(0x08, (2, 3)) + bytes(range(6))
    f = io.BytesIO()
    write_idx(f, array, compress=True)
    assert gzip.decompress(f.getvalue()) == idx_bytes(array)
    write_idx(tmp_path / "a.gz", array)
    assert gzip.decompress((tmp_path / "a.gz").read_bytes()) == idx_bytes(array)
    # Fortran-ordered and strided inputs are written in C order
    wide = np.arange(24, dtype=np.int32).reshape(4, 6)
    assert_same(read_idx(io.BytesIO(idx_bytes(np.asfortranarray(wide)))), wide)
    assert_same(read_idx(io.BytesIO(idx_bytes(wide[::2, ::3]))), wide[::2, ::3])


# --------------------------------------------------------------------------------------------------- real MNIST


def test_real_mnist_files_round_trip_to_canonical_bytes():
    if not (MNIST_DIR / "SHA256SUMS.raw.txt").is_file():
        pytest.fail(
            f"MNIST test data not found: expected {MNIST_DIR} with the four *-ubyte.gz files and SHA256SUMS.raw.txt "
            "(the shared data folder must sit beside the repository, as ../shared/data/mnist)"
        )
    sums = dict(line.split()[::-1] for line in (MNIST_DIR / "SHA256SUMS.raw.txt").read_text().splitlines() if line)
    for name, (shape, max_value) in MNIST_FILES.items():
        array = read_idx(MNIST_DIR / f"{name}.gz")
        assert array.shape == shape and array.dtype == np.uint8, name
        assert array.min() == 0 and array.max() == max_value, name
        if "labels" in name:
            assert np.array_equal(np.unique(array), np.arange(10))
        assert hashlib.sha256(idx_bytes(array)).hexdigest() == sums[name], name
