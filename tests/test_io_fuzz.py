"""A bounded, seeded fuzz loop over mnistlib.idx and the dataset checksum step.

Seeds: the real MNIST headers with a few real records behind them, small files of every IDX type, plain, gzipped
and in several gzip members. Each case mutates one seed (bit flips, bytes set, cuts, insertions, appended junk,
huge sizes in the header, recompressed edits) and checks read_idx against a plain reference reader written from
the format description: the same array, or IDXError exactly when the reference rejects the content; never any
other exception; memory bounded by the inputs. The loop is capped by a count and a time budget.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import struct
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

from mnistlib import datasets
from mnistlib.datasets import ChecksumError, load_mnist
from mnistlib.idx import IDX_DTYPES, IDXError, read_idx, read_idx_header, write_idx

from _io_helpers import idx_bytes  # noqa: E402

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
SEED = 20_260_410
MAX_CASES, MAX_SECONDS = 2000, 8.0
MB = 1024 * 1024


def seeds() -> list[bytes]:
    """Real headers with a few real records, and small files of every type (uncompressed IDX bytes)."""
    found = []
    for name, record in [("train-images-idx3-ubyte", 784), ("t10k-labels-idx1-ubyte", 1)]:
        with gzip.open(SHARED_MNIST / f"{name}.gz") as f:
            real = f.read(16 + 30 * record)
        ndim = real[3]
        count = struct.pack(">I", 30)
        found.append(real[:4] + count + real[8 : 4 + 4 * ndim] + real[4 + 4 * ndim :])  # a valid 30-record file
        found.append(real[: 4 + 4 * ndim + 7 * record])  # the real header (60,000 records), 7 records behind it
    rng = np.random.default_rng(0)
    for dtype in IDX_DTYPES.values():
        found.append(idx_bytes((rng.standard_normal((3, 5)) * 100).astype(dtype)))
    found.append(idx_bytes(np.zeros((2, 0, 3), np.uint8)))
    return found


def encodings(content: bytes, rng) -> bytes:
    """The content plain, gzipped, or in several gzip members (cut at random places)."""
    how = rng.integers(3)
    if how == 0:
        return content
    if how == 1:
        return gzip.compress(content, mtime=0)
    cuts = sorted(rng.integers(0, len(content) + 1, size=rng.integers(1, 4)))
    bounds = [0, *cuts, len(content)]
    return b"".join(gzip.compress(content[a:b], mtime=0) for a, b in zip(bounds, bounds[1:], strict=False))


def mutate(data: bytes, rng) -> bytes:
    """One random edit of ``data``."""
    data = bytearray(data)
    where = int(rng.integers(0, max(len(data), 1)))
    kind = rng.integers(9)
    if kind == 0 and data:
        data[where] ^= 1 << int(rng.integers(8))
    elif kind == 1 and data:
        data[where] = int(rng.choice([0, 1, 0x7F, 0x80, 0xFF, rng.integers(256)]))
    elif kind == 2:
        del data[where:]
    elif kind == 3:
        data[where:where] = rng.bytes(int(rng.integers(1, 40)))
    elif kind == 4:
        del data[where : where + int(rng.integers(1, 40))]
    elif kind == 5:
        data += rng.choice([bytes(int(rng.integers(1, 100))), rng.bytes(int(rng.integers(1, 100))), bytes(data)])
    elif kind == 6 and len(data) >= 8:  # a huge or random size in the header
        at = 4 + 4 * int(rng.integers(0, max(1, min(data[3], (len(data) - 4) // 4))))
        data[at : at + 4] = struct.pack(">I", int(rng.choice([0xFFFFFFFF, 2**31, 2**20, rng.integers(2**32)])))
    elif kind == 7 and len(data) >= 4:
        data[int(rng.integers(2, 4))] = int(rng.integers(256))  # type code or number of dimensions
    elif kind == 8:
        data += gzip.compress(rng.bytes(int(rng.integers(0, 50))), mtime=0)  # an extra gzip member
    return bytes(data)


class ShortReads:
    """A non-seekable stream whose reads return at most ``chunk`` bytes."""

    def __init__(self, data: bytes, chunk: int):
        self._f, self._chunk = io.BytesIO(data), chunk

    def read(self, n=-1):
        return self._f.read(self._chunk if n is None or n < 0 else min(n, self._chunk))


def reference_content(data: bytes) -> bytes | None:
    """The content as a plain member-by-member gzip decoder sees it; None when the gzip data is bad."""
    if data[:2] != b"\x1f\x8b":
        return data
    out = []
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:
            out.append(inflater.decompress(data))
        except zlib.error:
            return None
        if not inflater.eof:
            return None
        data = inflater.unused_data
    return b"".join(out)


def reference_prefix(data: bytes, enough: int = 1024) -> bytes:
    """The first ``enough`` bytes of content, or all that decodes before the first gzip error (1 byte at a time)."""
    if data[:2] != b"\x1f\x8b":
        return data
    out, start = bytearray(), 0
    while start < len(data) and len(out) < enough:
        inflater = zlib.decompressobj(wbits=31)
        for at in range(start, len(data)):
            try:
                out += inflater.decompress(data[at : at + 1])
            except zlib.error:
                return bytes(out)
            if inflater.eof or len(out) >= enough:
                break
        if not inflater.eof:
            return bytes(out)
        start = at + 1
    return bytes(out)


def reference_header(content: bytes):
    if len(content) < 4:
        return None
    zeros, code, ndim = struct.unpack(">HBB", content[:4])
    if zeros or code not in IDX_DTYPES or ndim == 0 or len(content) < 4 + 4 * ndim:
        return None
    return IDX_DTYPES[code], struct.unpack(f">{ndim}I", content[4 : 4 + 4 * ndim])


def reference_array(content: bytes):
    """Notebook 01's reader by hand, strict about sizes; None when the content is not a valid IDX file."""
    header = reference_header(content)
    if header is None:
        return None
    dtype, shape = header
    offset = 4 + 4 * len(shape)
    if len(content) != offset + dtype.itemsize * math.prod(shape) or len(shape) > 64:
        return None
    try:
        return np.frombuffer(content, dtype.newbyteorder(">"), offset=offset).reshape(shape).astype(dtype)
    except ValueError:
        return None


def check_one(data: bytes, source) -> str:
    content = reference_content(data)
    expected = None if content is None else reference_array(content)
    try:
        array = read_idx(source)
    except IDXError:
        assert expected is None, "read_idx refused a valid file"
        return "refused"
    assert expected is not None, "read_idx accepted an invalid file"
    assert array.dtype == expected.dtype and array.shape == expected.shape and array.flags.writeable
    assert array.tobytes() == expected.tobytes()
    return "read"


def test_fuzz_read_idx_agrees_with_the_reference_reader(tmp_path):
    rng = np.random.default_rng(SEED)
    bases = seeds()
    outcomes = {"read": 0, "refused": 0}
    start, cases = time.monotonic(), 0
    tracemalloc.start()
    try:
        while cases < MAX_CASES and time.monotonic() - start < MAX_SECONDS:
            content = bases[rng.integers(len(bases))]
            # edited content in valid gzip, or edited bytes (compressed or not)
            data = encodings(mutate(content, rng), rng) if rng.random() < 0.3 else mutate(encodings(content, rng), rng)
            for _ in range(int(rng.integers(0, 3))):
                data = mutate(data, rng)
            how = cases % 10
            if how == 0:
                (tmp_path / "case").write_bytes(data)
                source = tmp_path / "case"
            else:
                source = io.BytesIO(data) if how < 6 else ShortReads(data, int(rng.integers(1, 64)))
            try:
                outcomes[check_one(data, source)] += 1
                if how < 6:  # the header alone: what decodes before any error must hold a valid header
                    header = reference_header(reference_prefix(data))
                    try:
                        assert read_idx_header(io.BytesIO(data)) == header
                    except IDXError:  # (corrupt gzip data may be noticed a few bytes early: zlib reads ahead)
                        assert header is None or reference_content(data) is None, "refused a valid header"
            except AssertionError as exc:
                raise AssertionError(f"case {cases} ({data[:64].hex()}...): {exc}") from None
            cases += 1
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    print(f"{cases} cases, {outcomes}, peak {peak / MB:.1f} MiB")
    assert cases >= 300, f"only {cases} cases in {MAX_SECONDS} s"
    assert outcomes["read"] >= cases // 20 and outcomes["refused"] >= cases // 2, outcomes
    assert peak < 32 * MB  # whatever the headers claim (up to 2**32 per dimension)


def test_fuzz_the_checksum_step_gives_only_checksum_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    rng = np.random.default_rng(SEED + 1)
    directory = tmp_path / "data"
    directory.mkdir()
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, size=4, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, size=3, dtype=np.uint8),
    }
    for name, array in arrays.items():
        write_idx(directory / f"{name}.gz", array)
        monkeypatch.setitem(datasets.SHA256["fashion-mnist"], name, hashlib.sha256(idx_bytes(array)).hexdigest())
    target = directory / "t10k-labels-idx1-ubyte.gz"
    original = target.read_bytes()
    outcomes = {"loaded": 0, "refused": 0}
    start = time.monotonic()
    for case in range(150):
        if time.monotonic() - start > 8.0:
            break
        data = mutate(original if rng.random() < 0.5 else encodings(idx_bytes(arrays[target.name[:-3]]), rng), rng)
        target.write_bytes(data)
        try:
            test = load_mnist(directory, dataset="fashion-mnist", download=False).test
        except ChecksumError as exc:
            assert exc.path == target and str(target) in str(exc) and "Delete it" in str(exc)
            outcomes["refused"] += 1
            continue
        assert reference_content(data) == idx_bytes(arrays[target.name[:-3]]), f"case {case} accepted a bad file"
        np.testing.assert_array_equal(test.y, arrays["t10k-labels-idx1-ubyte"])
        outcomes["loaded"] += 1
    assert outcomes["refused"] >= 30, outcomes


@pytest.fixture(autouse=True)
def no_system_folder(tmp_path, monkeypatch):
    monkeypatch.setitem(datasets.SYSTEM_DATA_DIRS, "fashion-mnist", tmp_path / "no-system-folder")
