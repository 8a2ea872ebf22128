"""The failure classes of issue 10 (IDX reading, the dataset cache, downloads), one section each.

Every test here failed on the code before the fix (commit 5409963) and passes now; they use only public names
and module constants, so that they test behaviour, not internals. The rule behind them: memory and time follow
the data that really exists and is expected, never what a header, a gzip stream or a server claims; every failure
is a documented exception that says what to do; nothing corrupt is left on disk or served from the cache.

No test touches the internet: mirrors are file:// folders or HTTP servers on 127.0.0.1 started here.
"""

from __future__ import annotations

import gzip
import http.server
import io
import os
import signal
import struct
import subprocess
import sys
import time
import tracemalloc
import zlib
from pathlib import Path

import numpy as np
import pytest

import mnistlib
from mnistlib import datasets
from mnistlib.datasets import FILES, ChecksumError, DownloadError, fetch, load_mnist
from mnistlib.idx import IDXError, read_idx

from _io_helpers import local_http_server, write_fake_dataset  # noqa: E402

MB = 1024 * 1024
SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
LIBRARY_ROOT = Path(mnistlib.__file__).resolve().parents[1]  # subprocesses import the same mnistlib


# ---------------------------------------------------------------------------------------------------- helpers


def header(code: int, shape) -> bytes:
    return bytes([0, 0, code, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def gzip_bomb(prefix: bytes, zeros_mib: int) -> bytes:
    """One valid gzip member holding ``prefix`` then ``zeros_mib`` MiB of zeros, in about 1 KB per MiB."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = deflate.compress(prefix) + deflate.flush(zlib.Z_FULL_FLUSH)
    zeros = bytes(MB)
    block = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)  # self-contained: it can be repeated
    crc = zlib.crc32(prefix)
    for _ in range(zeros_mib):
        crc = zlib.crc32(zeros, crc)
    trailer = struct.pack("<II", crc, (len(prefix) + zeros_mib * MB) & 0xFFFFFFFF)
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + start + block * zeros_mib + deflate.flush() + trailer


def peak_memory(action):
    """``(result of action(), peak traced allocation in bytes while it ran)``; NumPy's buffers are traced too."""
    tracemalloc.start()
    try:
        return action(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_loads(directory: Path, arrays: dict) -> None:
    train, _, test = load_mnist(directory, dataset="fashion-mnist", raw=True)
    np.testing.assert_array_equal(train.X, arrays["train-images-idx3-ubyte"])
    np.testing.assert_array_equal(train.y, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(test.X, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(test.y, arrays["t10k-labels-idx1-ubyte"])
    X = load_mnist(directory, dataset="fashion-mnist").train.X
    np.testing.assert_array_equal(X, arrays["train-images-idx3-ubyte"].reshape(-1, 784) / np.float32(255))


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    for var in ("MNISTLIB_DATA_DIR", "MNISTLIB_MIRRORS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MNISTLIB_PROGRESS", "0")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setitem(datasets.SYSTEM_DATA_DIRS, "fashion-mnist", tmp_path / "no-system-folder")


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A mirror folder (file://) with a small valid dataset, and the arrays it holds."""
    arrays = write_fake_dataset(tmp_path / "mirror", monkeypatch)
    return tmp_path / "mirror", arrays


class CountingInflater:
    """Stands in for zlib.decompressobj: counts the bytes fed to zlib and the bytes it produced."""

    real = staticmethod(zlib.decompressobj)
    fed = produced = 0

    def __init__(self, *args, **kwargs):
        self._inflater = self.real(*args, **kwargs)

    def decompress(self, data, max_length=0):
        out = self._inflater.decompress(data, max_length)
        CountingInflater.fed += len(data)
        CountingInflater.produced += len(out)
        return out

    def __getattr__(self, name):
        return getattr(self._inflater, name)


@pytest.fixture
def zlib_work(monkeypatch):
    CountingInflater.fed = CountingInflater.produced = 0
    monkeypatch.setattr(zlib, "decompressobj", CountingInflater)
    return CountingInflater


# ---------------------------------------------------------------------------------------------------- 1. bombs


def test_1_a_bomb_in_the_data_folder_costs_what_the_real_file_would(tmp_path, monkeypatch):
    directory = tmp_path / "data"
    write_fake_dataset(directory, monkeypatch)
    labels = directory / "t10k-labels-idx1-ubyte.gz"  # 10,008 bytes in the real file
    labels.write_bytes(gzip_bomb(header(0x08, (5,)) + bytes(5), zeros_mib=256))
    assert labels.stat().st_size < 300_000
    info, peak = peak_memory(lambda: pytest.raises(ChecksumError, load_mnist, directory, dataset="fashion-mnist"))
    assert peak < 16 * MB  # the code before the fix took over 512 MB (the whole bomb, twice)
    message = str(info.value)
    assert str(labels) in message and "left over" in message and "Delete it" in message
    assert info.value.found is None and labels.is_file()  # the user's file is left in place


def test_1_a_bomb_claiming_a_huge_header_is_refused_before_decompressing(tmp_path, monkeypatch, zlib_work):
    directory = tmp_path / "data"
    write_fake_dataset(directory, monkeypatch)
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip_bomb(header(0x08, (256 * MB,)), zeros_mib=256))
    with pytest.raises(ChecksumError, match=r"announces \(268435456,\) uint8; t10k-labels-idx1-ubyte holds at most"):
        load_mnist(directory, dataset="fashion-mnist")
    assert zlib_work.produced < 1 * MB


def test_1_a_bomb_from_a_mirror_is_skipped_and_the_next_mirror_used(tmp_path, fake, monkeypatch):
    mirror, arrays = fake
    bombs = tmp_path / "bombs"
    bombs.mkdir()
    for name in FILES:
        (bombs / f"{name}.gz").write_bytes(gzip_bomb(header(0x08, (5,)), zeros_mib=256))
    monkeypatch.setenv("MNISTLIB_MIRRORS", f"{bombs.as_uri()} {mirror.as_uri()}")
    directory = tmp_path / "data"
    assert peak_memory(lambda: fetch(directory, dataset="fashion-mnist"))[1] < 16 * MB
    assert_loads(directory, arrays)


def test_1_a_mirror_failing_with_memory_error_does_not_stop_the_next_one(tmp_path, fake, monkeypatch):
    import urllib.request

    mirror, arrays = fake
    real_urlopen = urllib.request.urlopen

    class Exhausted:
        headers = {}

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, *args):
            raise MemoryError

        read1 = read

    def urlopen(request, timeout):
        url = getattr(request, "full_url", request)
        return Exhausted() if "exhausted.invalid" in url else real_urlopen(request, timeout=timeout)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setenv("MNISTLIB_MIRRORS", f"https://exhausted.invalid/ {mirror.as_uri()}")
    fetch(tmp_path / "data", dataset="fashion-mnist")
    assert_loads(tmp_path / "data", arrays)


# ---------------------------------------------------------------------------------------------------- 2. headers


def lying_gzip(claim: int, real: int) -> bytes:
    """gzip of an IDX header claiming ``claim`` uint8 values, followed by ``real`` incompressible bytes."""
    noise = np.random.default_rng(0).integers(0, 256, size=real, dtype=np.uint8).tobytes()
    return gzip.compress(header(0x08, (claim,)) + noise, compresslevel=1, mtime=0)


def test_2_a_lying_gzip_header_costs_the_real_content_not_the_claim(tmp_path):
    path = tmp_path / "lies.gz"
    path.write_bytes(lying_gzip(claim=1024 * MB, real=MB))  # 1 GiB claimed; deflate could really hold 1 GiB
    with pytest.raises(IDXError, match=f"found {MB}: {1024 * MB - MB} bytes missing"):
        read_idx(path)
    assert peak_memory(lambda: pytest.raises(IDXError, read_idx, path))[1] < 8 * MB  # before the fix: 1 GiB
    assert peak_memory(lambda: pytest.raises(IDXError, read_idx, io.BytesIO(path.read_bytes())))[1] < 8 * MB


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc are Linux")
def test_2_under_a_memory_limit_a_lying_header_is_an_idx_error_not_memory_error(tmp_path):
    path = tmp_path / "lies.gz"
    path.write_bytes(lying_gzip(claim=2048 * MB, real=4 * MB))  # a 4 MB file claiming 2 GiB
    script = f"""
import resource
from mnistlib.idx import IDXError, read_idx

vm = int(next(l for l in open("/proc/self/status") if l.startswith("VmSize")).split()[1]) * 1024
resource.setrlimit(resource.RLIMIT_AS, (vm + 512 * 2**20, resource.RLIM_INFINITY))
try:
    read_idx({str(path)!r})
except IDXError as exc:
    print("IDXError", exc)
except MemoryError:
    print("MemoryError")
"""
    env = {**os.environ, "PYTHONPATH": str(LIBRARY_ROOT), "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert result.stdout.startswith("IDXError"), result.stdout + result.stderr
    assert "bytes missing" in result.stdout


# ---------------------------------------------------------------------------------------------------- 3. cache


@pytest.fixture
def warm(tmp_path, monkeypatch):
    """A data folder whose cache was built and then used once (raw and float arrays)."""
    directory = tmp_path / "data"
    arrays = write_fake_dataset(directory, monkeypatch)
    assert_loads(directory, arrays)  # cold
    assert_loads(directory, arrays)  # warm
    return directory, arrays


def replace_npy(path: Path, array: np.ndarray, *, keep_mtime=False) -> None:
    """Put another array of the same shape and dtype in place of a cache file (a new file, renamed over it)."""
    stat = path.stat()
    np.save(path.with_name("other.npy"), array)
    os.replace(path.with_name("other.npy"), path)
    if keep_mtime:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size


@pytest.mark.parametrize("keep_mtime", [False, True], ids=["new_mtime", "same_mtime"])
def test_3_a_replaced_cache_file_is_rebuilt_not_served(warm, keep_mtime):
    directory, arrays = warm
    cache = directory / ".cache"
    replace_npy(cache / "train_y.npy", np.roll(np.load(cache / "train_y.npy"), 1), keep_mtime=keep_mtime)
    other = np.random.default_rng(9).integers(0, 256, size=(5, 28, 28), dtype=np.uint8)  # another dataset's images
    replace_npy(cache / "test_raw.npy", other, keep_mtime=keep_mtime)
    assert_loads(directory, arrays)
    assert_loads(directory, arrays)  # and the rebuilt cache is good


def test_3_a_cache_file_modified_in_place_is_rebuilt_not_served(warm):
    directory, arrays = warm
    path = directory / ".cache" / "train_X.npy"
    time.sleep(0.01)  # a later modification time than the one stamped (file systems have coarse clocks)
    with open(path, "r+b") as f:
        f.seek(-1, os.SEEK_END)
        f.write(np.float32(0.5).tobytes()[-1:])  # one changed pixel, same size, same inode
    assert_loads(directory, arrays)


# ---------------------------------------------------------------------------------------------------- 4. time


def test_4_many_empty_gzip_members_cost_linear_time(tmp_path, monkeypatch, zlib_work):
    directory = tmp_path / "data"
    arrays = write_fake_dataset(directory, monkeypatch)
    labels = directory / "t10k-labels-idx1-ubyte.gz"
    content = gzip.compress(b"", mtime=0) * 25_000 + labels.read_bytes()  # valid: the same decompressed bytes
    labels.write_bytes(content)
    start = time.perf_counter()
    assert_loads(directory, arrays)
    assert time.perf_counter() - start < 5.0  # the code before the fix took about 4 s, quadratic in members
    assert zlib_work.fed < 100 * len(content)  # before the fix: 12,000 times (each member fed the whole rest)
    np.testing.assert_array_equal(read_idx(labels), arrays["t10k-labels-idx1-ubyte"])


def test_4_bytes_after_the_data_are_not_decompressed_to_count_them(tmp_path, zlib_work):
    path = tmp_path / "labels.gz"
    path.write_bytes(gzip.compress(header(0x08, (3,)) + b"\x01\x02\x03", mtime=0) + gzip_bomb(b"", zeros_mib=64))
    with pytest.raises(IDXError, match="or more left over after the data"):
        read_idx(path)
    assert zlib_work.produced < 2 * MB


# ---------------------------------------------------------------------------------------------------- 7. downloads


class FaultyMirror(http.server.BaseHTTPRequestHandler):
    """``/trickle/F``: announces 50,000 bytes, sends 10 every 50 ms (for 8 s at most); ``/endless/F``: a body
    without length that goes on (64 MiB at most); ``/huge/F``: announces 10**12 bytes, sends 1,000."""

    def do_GET(self):
        kind = self.path.strip("/").split("/")[0]
        self.send_response(200)
        length = {"trickle": 50_000, "huge": 10**12}.get(kind)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        try:
            if kind == "trickle":
                stop = time.monotonic() + 8
                while time.monotonic() < stop:
                    self.wfile.write(b"\x1f\x8b" + bytes(8))
                    self.wfile.flush()
                    time.sleep(0.05)
            elif kind == "endless":
                for _ in range(256):
                    self.wfile.write(b"\x1f\x8b" + bytes(256 * 1024 - 2))
            else:
                self.wfile.write(bytes(1000))
        except OSError:  # the client hung up: what the library should do
            pass

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def faulty_mirror():
    with local_http_server(FaultyMirror) as server:
        yield f"http://127.0.0.1:{server.server_address[1]}"


def first_failure(tmp_path, monkeypatch, first: str) -> tuple[str, float]:
    """Download one missing file from a faulty mirror only: why it failed, and how long that took."""
    directory = tmp_path / "data"
    write_fake_dataset(directory, monkeypatch)
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()  # 10,008 bytes uncompressed in the real dataset
    monkeypatch.setenv("MNISTLIB_MIRRORS", first)
    start = time.monotonic()
    with pytest.raises(DownloadError) as info:
        fetch(directory, dataset="fashion-mnist")
    elapsed = time.monotonic() - start
    assert sorted(p.name for p in directory.iterdir()) == sorted(f"{name}.gz" for name in FILES[:3])  # no .part
    return info.value.attempts[0][1], elapsed


def test_7_a_trickling_server_is_given_up_at_the_deadline(tmp_path, monkeypatch, faulty_mirror):
    monkeypatch.setattr(datasets, "DOWNLOAD_DEADLINE", 1.0, raising=False)
    reason, elapsed = first_failure(tmp_path, monkeypatch, f"{faulty_mirror}/trickle/")
    assert "not complete after 1 s" in reason and elapsed < 4.0


def test_7_an_endless_body_is_cut_at_the_size_cap(tmp_path, monkeypatch, faulty_mirror):
    reason, _ = first_failure(tmp_path, monkeypatch, f"{faulty_mirror}/endless/")
    assert "more than 75,644 bytes received" in reason  # the uncompressed file (10,008 bytes), plus room


def test_7_a_huge_announced_length_is_refused_before_reading(tmp_path, monkeypatch, faulty_mirror):
    reason, _ = first_failure(tmp_path, monkeypatch, f"{faulty_mirror}/huge/")
    assert "announces 1,000,000,000,000 bytes" in reason


def test_7_faulty_mirrors_do_not_stop_the_good_one(tmp_path, monkeypatch, fake, faulty_mirror):
    monkeypatch.setattr(datasets, "DOWNLOAD_DEADLINE", 1.0, raising=False)
    mirror, arrays = fake
    faulty = " ".join(f"{faulty_mirror}/{kind}/" for kind in ("trickle", "endless", "huge"))
    monkeypatch.setenv("MNISTLIB_MIRRORS", f"{faulty} {mirror.as_uri()}")
    start = time.monotonic()
    fetch(tmp_path / "data", dataset="fashion-mnist")
    assert time.monotonic() - start < 6.0  # the trickle once (1 s), then the good mirror is tried first
    assert_loads(tmp_path / "data", arrays)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_7_part_files_of_a_killed_download_are_removed_later(tmp_path, monkeypatch, faulty_mirror):
    directory = tmp_path / "data"
    directory.mkdir()
    for name in FILES[:3]:
        (directory / f"{name}.gz").symlink_to(SHARED_MNIST / f"{name}.gz")
    env = {**os.environ, "PYTHONPATH": str(LIBRARY_ROOT), "MNISTLIB_MIRRORS": f"{faulty_mirror}/trickle/"}
    script = f"from mnistlib.datasets import fetch; fetch({str(directory)!r})"
    process = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        deadline = time.monotonic() + 30
        while process.poll() is None and time.monotonic() < deadline and not list(directory.glob(".*.part")):
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    killed = [p for p in directory.iterdir() if p.name.endswith(".part")]
    assert killed, "the download never started"
    cache = directory / ".cache"
    cache.mkdir()
    (cache / ".train_X.npy.0123abcd.part").write_bytes(b"half a cache file")  # a killed cold load
    fresh = directory / ".t10k-labels-idx1-ubyte.gz.89abcdef.part"  # another process, downloading right now
    fresh.write_bytes(b"")
    an_hour_ago = time.time() - 3600
    for path in [*killed, cache / ".train_X.npy.0123abcd.part"]:
        os.utime(path, (an_hour_ago, an_hour_ago))
    monkeypatch.setenv("MNISTLIB_MIRRORS", SHARED_MNIST.as_uri())
    fetch(directory)
    left = sorted(p.name for p in [*directory.iterdir(), *cache.iterdir()] if p.name.endswith(".part"))
    assert left == [fresh.name]


def test_7_a_folder_in_place_of_a_file_is_a_download_error_saying_what_to_do(tmp_path, monkeypatch, fake):
    mirror, _ = fake
    directory = tmp_path / "data"
    write_fake_dataset(directory, monkeypatch)
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    (directory / "t10k-labels-idx1-ubyte.gz").mkdir()
    monkeypatch.setenv("MNISTLIB_MIRRORS", mirror.as_uri())
    with pytest.raises(DownloadError, match="t10k-labels-idx1-ubyte.gz is in the way") as info:
        load_mnist(directory, dataset="fashion-mnist")
    assert "Move or delete it" in str(info.value)
