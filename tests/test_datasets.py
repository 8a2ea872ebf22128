"""Tests for mnistlib.datasets: finding, verifying, caching and downloading MNIST / Fashion-MNIST.

The real MNIST files come from ../shared/data/mnist beside the repository (a missing folder FAILS these tests).
No test touches the internet: downloads go to a small HTTP server on 127.0.0.1 started here.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import json
import os
import socket
import stat
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

import mnistlib
from mnistlib import datasets
from mnistlib.datasets import (
    CLASS_NAMES,
    FASHION_MNIST_CLASSES,
    FILES,
    MNIST,
    ChecksumError,
    DatasetError,
    DatasetNotFoundError,
    DownloadError,
    Split,
    default_data_dir,
    fetch,
    load_mnist,
)
from mnistlib.idx import read_idx, write_idx

from _io_helpers import local_http_server, write_fake_dataset  # noqa: E402

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
REAL_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
GZ_FILES = [f"{name}.gz" for name in FILES]


# ---------------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def shared_mnist() -> Path:
    missing = [f for f in GZ_FILES if not (SHARED_MNIST / f).is_file()]
    assert not missing, f"the MNIST test files are missing from {SHARED_MNIST}: {missing}"
    return SHARED_MNIST


def link_mnist(directory: Path, shared: Path, files=GZ_FILES) -> Path:
    """``directory`` with symlinks to the shared .gz files, as .ci/run does for data/mnist."""
    directory.mkdir(parents=True, exist_ok=True)
    for f in files:
        (directory / f).symlink_to(shared / f)
    return directory


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path, monkeypatch):
    """No test sees the user's settings, writes to ~/.cache or uses a real system data folder."""
    for var in ("MNISTLIB_DATA_DIR", "MNISTLIB_MIRRORS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("MNISTLIB_PROGRESS", "0")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setitem(datasets.SYSTEM_DATA_DIRS, "fashion-mnist", tmp_path / "no-system-folder")


@pytest.fixture
def mnist_dir(tmp_path, shared_mnist) -> Path:
    return link_mnist(tmp_path / "data" / "mnist", shared_mnist)


@pytest.fixture(scope="session")
def warm_dir(tmp_path_factory, shared_mnist) -> Path:
    """A data folder whose cache has been built once (shared by the tests that only read)."""
    directory = link_mnist(tmp_path_factory.mktemp("warm") / "mnist", shared_mnist)
    load_mnist(directory, progress=False)
    return directory


@pytest.fixture(scope="session")
def reference(warm_dir) -> MNIST:
    return load_mnist(warm_dir, progress=False)


def assert_same_data(a: MNIST, b: MNIST) -> None:
    for split_a, split_b in zip(a, b, strict=True):
        np.testing.assert_array_equal(split_a.X, split_b.X)
        np.testing.assert_array_equal(split_a.y, split_b.y)


def forbid(monkeypatch, name: str) -> None:
    """Make ``datasets.<name>`` fail if called: proves a warm load neither re-verifies nor re-parses."""

    def fail(*args, **kwargs):
        raise AssertionError(f"datasets.{name} was called on a warm load")

    monkeypatch.setattr(datasets, name, fail)


def assert_written(data: MNIST, written: dict, *, raw=False) -> None:
    """``data`` holds the arrays write_fake_dataset wrote (validation_size=0)."""
    (train, val, test), shape = data, (-1, 28, 28) if raw else (-1, 784)
    scale = 1 if raw else np.float32(255)
    np.testing.assert_array_equal(train.X, written["train-images-idx3-ubyte"].reshape(shape) / scale)
    np.testing.assert_array_equal(test.X, written["t10k-images-idx3-ubyte"].reshape(shape) / scale)
    np.testing.assert_array_equal(train.y, written["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(test.y, written["t10k-labels-idx1-ubyte"])
    assert len(val.y) == 0


def files_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


# ---------------------------------------------------------------------------------------------------- the data


def test_load_mnist_gives_float32_images_in_0_1_and_int64_labels(reference):
    train, val, test = reference
    assert train.X.shape == (60_000, 784) and train.X.dtype == np.float32
    assert train.y.shape == (60_000,) and train.y.dtype == np.int64
    assert test.X.shape == (10_000, 784) and test.X.dtype == np.float32
    assert test.y.shape == (10_000,) and test.y.dtype == np.int64
    for split in (train, test):
        assert split.X.min() == 0.0 and split.X.max() == 1.0
        assert set(np.unique(split.y)) == set(range(10))
    # validation_size=0: an empty split of the same format, not None
    assert val.X.shape == (0, 784) and val.X.dtype == np.float32
    assert val.y.shape == (0,) and val.y.dtype == np.int64
    # the published MNIST: first labels and class counts
    np.testing.assert_array_equal(train.y[:5], [5, 0, 4, 1, 9])
    np.testing.assert_array_equal(test.y[:5], [7, 2, 1, 0, 4])
    assert np.bincount(test.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert type(train.X) is np.ndarray and type(train.y) is np.ndarray


def test_result_unpacks_and_has_names(warm_dir):
    data = load_mnist(warm_dir, validation_size=100)
    assert isinstance(data, MNIST) and isinstance(data.train, Split)
    train, val, test = data
    X_train, y_train = train
    assert X_train is data.train.X and y_train is data.train.y
    assert data._fields == ("train", "val", "test") and Split._fields == ("X", "y")
    assert len(val.X) == 100 and len(test.y) == 10_000


@pytest.mark.parametrize("validation_size", [1, 10_000, 59_999])
def test_validation_split_is_the_end_of_the_training_set(warm_dir, reference, validation_size):
    train, val, test = load_mnist(warm_dir, validation_size=validation_size)
    full = reference.train
    cut = 60_000 - validation_size
    assert train.X.shape == (cut, 784) and val.X.shape == (validation_size, 784)
    np.testing.assert_array_equal(train.X, full.X[:cut])
    np.testing.assert_array_equal(train.y, full.y[:cut])
    np.testing.assert_array_equal(val.X, full.X[cut:])
    np.testing.assert_array_equal(val.y, full.y[cut:])
    np.testing.assert_array_equal(test.y, reference.test.y)


def test_raw_gives_uint8_images_that_scale_to_the_float_ones(warm_dir, reference):
    train, val, test = load_mnist(warm_dir, raw=True, validation_size=10)
    assert train.X.shape == (59_990, 28, 28) and train.X.dtype == np.uint8
    assert val.X.shape == (10, 28, 28) and test.X.shape == (10_000, 28, 28)
    assert train.y.dtype == np.int64
    np.testing.assert_array_equal(test.X.reshape(10_000, 784) / np.float32(255), reference.test.X)
    np.testing.assert_array_equal(val.X.reshape(10, 784) / np.float32(255), reference.train.X[-10:])


@pytest.mark.parametrize("validation_size", [-1, 60_000, 10**6, 1.5, 10.0, True, "10", None])
def test_bad_validation_size_is_a_value_error_before_any_file_is_read(tmp_path, validation_size):
    with pytest.raises(ValueError, match="validation_size") as info:
        load_mnist(tmp_path / "nothing-here", validation_size=validation_size, download=False)
    assert not isinstance(info.value, DatasetError)


def test_numpy_integer_validation_size_is_accepted(warm_dir):
    assert len(load_mnist(warm_dir, validation_size=np.int64(5)).val.y) == 5


@pytest.mark.parametrize("dataset", ["MNIST", "emnist", "", None])
def test_unknown_dataset_is_a_value_error(tmp_path, dataset):
    with pytest.raises(ValueError, match="mnist.*fashion-mnist"):
        load_mnist(tmp_path, dataset=dataset, download=False)
    with pytest.raises(ValueError):
        default_data_dir(dataset)


def test_fashion_class_names():
    assert len(FASHION_MNIST_CLASSES) == 10 and FASHION_MNIST_CLASSES[0] == "T-shirt/top"
    assert FASHION_MNIST_CLASSES[9] == "Ankle boot"
    assert CLASS_NAMES["fashion-mnist"] is FASHION_MNIST_CLASSES
    assert CLASS_NAMES["mnist"] == tuple("0123456789")


# ---------------------------------------------------------------------------------------------------- the cache


def test_cold_then_warm_load_are_equal_and_warm_uses_only_the_cache(mnist_dir, reference, monkeypatch):
    cold = load_mnist(mnist_dir)
    assert files_in(mnist_dir / ".cache") == {"stamp.json", "train_X.npy", "train_y.npy", "test_X.npy", "test_y.npy"}
    forbid(monkeypatch, "_checked_array")
    forbid(monkeypatch, "_build")
    warm = load_mnist(mnist_dir, validation_size=0)
    assert_same_data(cold, warm)
    assert_same_data(warm, reference)
    assert type(warm.train.X) is np.ndarray and warm.train.X.dtype == np.float32


def test_loaded_arrays_are_writable_and_writing_never_changes_the_cache(warm_dir, reference):
    train, _, test = load_mnist(warm_dir)
    assert train.X.flags.writeable and test.y.flags.writeable
    train.X[0] = 42.0
    test.y[:] = 7
    again = load_mnist(warm_dir)
    np.testing.assert_array_equal(again.train.X[0], reference.train.X[0])
    np.testing.assert_array_equal(again.test.y, reference.test.y)


def test_cache_is_rebuilt_when_a_source_file_changes(tmp_path, monkeypatch):
    directory = tmp_path / "mnist"
    written = write_fake_dataset(directory, monkeypatch, "mnist")
    assert_written(load_mnist(directory), written)
    # A new labels file (first label changed), accepted through the checksum table.
    labels = written["train-labels-idx1-ubyte"]
    labels[0] = (labels[0] + 1) % 10
    path = directory / "train-labels-idx1-ubyte.gz"
    path.unlink()
    write_idx(path, labels)
    digest = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
    monkeypatch.setitem(datasets.SHA256["mnist"], "train-labels-idx1-ubyte", digest)
    assert_written(load_mnist(directory), written)


def test_touching_a_source_file_reverifies_it(tmp_path, monkeypatch):
    directory = tmp_path / "mnist"
    write_fake_dataset(directory, monkeypatch, "mnist")
    copy = directory / GZ_FILES[-1]
    fetch(data_dir=directory)
    stamp = (directory / ".cache" / "stamp.json").read_text()
    os.utime(copy, ns=(1_000_000_000, 1_000_000_000))
    calls = []
    original = datasets._checked_array
    monkeypatch.setattr(datasets, "_checked_array", lambda *a: calls.append(a[0]) or original(*a))
    fetch(data_dir=directory)
    assert copy in calls
    assert (directory / ".cache" / "stamp.json").read_text() != stamp


def test_a_file_replaced_after_caching_is_caught_not_served_from_the_cache(tmp_path, monkeypatch):
    directory = tmp_path / "mnist"
    written = write_fake_dataset(directory, monkeypatch, "mnist")
    load_mnist(directory)
    labels = written["t10k-labels-idx1-ubyte"]
    labels[0] = (labels[0] + 1) % 10
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    write_idx(directory / "t10k-labels-idx1-ubyte.gz", labels)
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte"):
        load_mnist(directory)


def test_damaged_cache_files_are_rebuilt(tmp_path, monkeypatch):
    directory = tmp_path / "mnist"
    written = write_fake_dataset(directory, monkeypatch, "mnist")
    load_mnist(directory)
    load_mnist(directory, raw=True)
    cache = directory / ".cache"
    size = (cache / "train_X.npy").stat().st_size
    with open(cache / "train_X.npy", "r+b") as f:
        f.truncate(1000)  # cut short
    (cache / "test_y.npy").write_bytes(b"garbage, not an .npy file")
    (cache / "train_raw.npy").unlink()
    assert_written(load_mnist(directory), written)
    assert_written(load_mnist(directory, raw=True), written, raw=True)
    assert (cache / "train_X.npy").stat().st_size == size


@pytest.mark.parametrize("content", ["{not json", '{"version": 2, "sources": {}, "arrays": []}', ""])
def test_damaged_stamps_are_rebuilt(tmp_path, monkeypatch, content):
    directory = tmp_path / "mnist"
    written = write_fake_dataset(directory, monkeypatch, "mnist")
    load_mnist(directory)
    (directory / ".cache" / "stamp.json").write_text(content)
    assert_written(load_mnist(directory), written)
    assert json.loads((directory / ".cache" / "stamp.json").read_text())["version"] == 2


def test_the_stamp_records_each_file_as_written_and_only_missing_arrays_are_rebuilt(tmp_path, monkeypatch):
    directory = tmp_path / "mnist"
    written = write_fake_dataset(directory, monkeypatch, "mnist")
    load_mnist(directory)
    cache = directory / ".cache"
    stamp = json.loads((cache / "stamp.json").read_text())
    st = (cache / "train_X.npy").stat()
    assert stamp["arrays"]["train_X"] == [st.st_size, st.st_mtime_ns, st.st_ino]
    name, size, mtime_ns, ino, digest = stamp["sources"]["t10k-labels-idx1-ubyte"]
    st = os.stat(directory / "t10k-labels-idx1-ubyte.gz")
    assert [name, size, mtime_ns, ino] == ["t10k-labels-idx1-ubyte.gz", st.st_size, st.st_mtime_ns, st.st_ino]
    assert digest == datasets.SHA256["mnist"]["t10k-labels-idx1-ubyte"]
    before = {f: (cache / f).stat().st_ino for f in files_in(cache)}
    assert_written(load_mnist(directory, raw=True), written, raw=True)  # adds the raw arrays, keeps the others
    after = {f: (cache / f).stat().st_ino for f in files_in(cache)}
    assert set(after) - set(before) == {"train_raw.npy", "test_raw.npy"}
    assert all(after[f] == ino for f, ino in before.items() if f != "stamp.json")
    forbid(monkeypatch, "_build")
    assert_written(load_mnist(directory), written)


def test_read_only_data_folder_puts_the_cache_in_the_user_cache(tmp_path, monkeypatch):
    directory = tmp_path / "read-only" / "mnist"
    written = write_fake_dataset(directory, monkeypatch, "mnist")
    xdg = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    if getattr(os, "geteuid", lambda: -1)() == 0:
        # root writes through chmod: make the writability probe answer what it answers a normal user
        probe = datasets._is_writable_dir
        monkeypatch.setattr(datasets, "_is_writable_dir", lambda p: False if directory in (p, *p.parents) else probe(p))
    directory.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        before = files_in(directory)
        assert_written(load_mnist(directory), written)
        assert files_in(directory) == before  # nothing written into the data folder
        caches = list((xdg / "mnistlib" / "caches").glob("mnist-*"))
        assert len(caches) == 1 and {"stamp.json", "train_X.npy"} <= files_in(caches[0])
        forbid(monkeypatch, "_build")
        assert_written(load_mnist(directory), written)
    finally:
        directory.chmod(stat.S_IRWXU)


def test_no_writable_cache_folder_still_loads_with_a_warning(tmp_path, monkeypatch):
    directory = tmp_path / "fashion"
    written = write_fake_dataset(directory, monkeypatch, "fashion-mnist")
    monkeypatch.setattr(datasets, "_is_writable_dir", lambda path: False)
    with pytest.warns(UserWarning, match="No writable cache folder"):
        train, _, _ = load_mnist(directory, dataset="fashion-mnist", raw=True)
    np.testing.assert_array_equal(train.X, written["train-images-idx3-ubyte"])
    assert files_in(directory) == set(f"{name}.gz" for name in FILES)


# ---------------------------------------------------------------------------------------------------- finding files


def test_env_var_names_a_parent_folder_with_one_subfolder_per_dataset(tmp_path, monkeypatch):
    parent = tmp_path / "datasets"
    written = write_fake_dataset(parent / "mnist", monkeypatch, "mnist")
    monkeypatch.setenv("MNISTLIB_DATA_DIR", str(parent))
    assert default_data_dir() == parent / "mnist"
    assert default_data_dir("fashion-mnist") == parent / "fashion-mnist"
    assert fetch() == parent / "mnist"
    assert_written(load_mnist(download=False), written)
    assert (parent / "mnist" / ".cache" / "stamp.json").is_file()


def test_env_var_pointing_at_the_files_themselves_gets_a_hint(tmp_path, shared_mnist, monkeypatch):
    wrong = link_mnist(tmp_path / "flat", shared_mnist)
    monkeypatch.setenv("MNISTLIB_DATA_DIR", str(wrong))
    with pytest.raises(DatasetNotFoundError, match="PARENT folder"):
        load_mnist(download=False)


def test_default_data_dir_in_a_source_checkout_and_elsewhere(tmp_path, monkeypatch):
    repo = Path(mnistlib.__file__).resolve().parents[1]
    assert default_data_dir() == repo / "data" / "mnist"  # this test runs from the course repository
    assert default_data_dir("fashion-mnist") == repo / "data" / "fashion-mnist"

    xdg = Path(os.environ["XDG_CACHE_HOME"])
    checkout = tmp_path / "checkout"
    (checkout / "data").mkdir(parents=True)
    monkeypatch.setattr(datasets, "_PACKAGE_ROOT", checkout)
    assert default_data_dir() == xdg / "mnistlib" / "mnist"  # no pyproject.toml: an installed package
    (checkout / "pyproject.toml").write_text('[project]\nname = "someone-else"\n')
    assert default_data_dir() == xdg / "mnistlib" / "mnist"
    (checkout / "pyproject.toml").write_text('[project]\nname = "mnistlib"\nversion = "0.1.0"\n')
    assert default_data_dir() == checkout / "data" / "mnist"
    (checkout / "data").rmdir()
    assert default_data_dir() == xdg / "mnistlib" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_data_dir() == Path.home() / ".cache" / "mnistlib" / "mnist"


def test_missing_files_with_download_false_list_the_files_and_the_folder(tmp_path):
    directory = tmp_path / "empty"
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(directory, download=False)
    error = info.value
    assert isinstance(error, FileNotFoundError) and isinstance(error, DatasetError)
    assert error.missing == list(FILES) and error.searched == [directory]
    message = str(error)
    for name in FILES:
        assert name in message
    assert str(directory) in message and "download=True" in message and "MNISTLIB_DATA_DIR" in message
    assert not directory.exists()  # looking does not create folders


def test_partially_missing_files_name_only_the_missing_ones(tmp_path, shared_mnist):
    directory = link_mnist(tmp_path / "mnist", shared_mnist, GZ_FILES[:3])
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(directory, download=False)
    assert info.value.missing == ["t10k-labels-idx1-ubyte"]


def test_uncompressed_files_are_accepted(tmp_path, monkeypatch):
    directory = tmp_path / "mnist"
    written = write_fake_dataset(directory, monkeypatch, "mnist")
    for name in FILES[1:]:
        (directory / f"{name}.gz").unlink()
        write_idx(directory / name, written[name])
    assert_written(load_mnist(directory, download=False), written)


# ---------------------------------------------------------------------------------------------------- verification


def test_one_flipped_pixel_is_a_checksum_error_naming_the_file(tmp_path, shared_mnist):
    directory = link_mnist(tmp_path / "mnist", shared_mnist, GZ_FILES[:2] + GZ_FILES[3:])
    images = read_idx(shared_mnist / "t10k-images-idx3-ubyte.gz")
    images[0, 14, 14] ^= 0xFF
    bad = directory / "t10k-images-idx3-ubyte.gz"
    write_idx(bad, images)
    with pytest.raises(ChecksumError) as info:
        load_mnist(directory)
    error = info.value
    assert isinstance(error, ValueError) and isinstance(error, DatasetError)
    assert error.path == bad and error.expected == datasets.SHA256["mnist"]["t10k-images-idx3-ubyte"]
    assert error.found == hashlib.sha256(gzip.decompress(bad.read_bytes())).hexdigest()
    message = str(error)
    assert str(bad) in message and error.expected in message and error.found in message
    assert "Delete it" in message
    assert bad.is_file()  # the user's own file is never deleted
    assert not (directory / ".cache" / "stamp.json").exists()


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_damaged_files_are_a_checksum_error_not_a_crash(tmp_path, shared_mnist, damage):
    directory = link_mnist(tmp_path / "mnist", shared_mnist, GZ_FILES[:3])
    content = (shared_mnist / GZ_FILES[3]).read_bytes()
    damaged = {"truncated": content[: len(content) // 2], "garbage": b"\x1f\x8b" + b"x" * 100, "empty": b""}[damage]
    (directory / GZ_FILES[3]).write_bytes(damaged)
    with pytest.raises(ChecksumError, match="t10k-labels-idx1-ubyte") as info:
        load_mnist(directory)
    assert info.value.found is None or info.value.found == hashlib.sha256(damaged).hexdigest()


def test_a_malformed_file_is_a_checksum_error_even_with_an_accepted_checksum(tmp_path, monkeypatch):
    directory = tmp_path / "fashion"
    write_fake_dataset(directory, monkeypatch, "fashion-mnist")
    bad = b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02"  # claims 5 labels, holds 2
    (directory / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(bad))
    monkeypatch.setitem(datasets.SHA256["fashion-mnist"], "t10k-labels-idx1-ubyte", hashlib.sha256(bad).hexdigest())
    with pytest.raises(ChecksumError, match="not a complete IDX file.*3 bytes missing") as info:
        load_mnist(directory, dataset="fashion-mnist")
    assert info.value.found is None


@pytest.mark.parametrize(
    "content, words",
    [
        (b"\x00\x00\x0d\x01\x00\x00\x00\x01" + bytes(4), ["announces (1,) float32", "at most 10,000 uint8"]),
        (b"\x00\x00\x08\x01\x00\x01\x00\x00" + bytes(65536), ["announces (65536,) uint8", "at most 10,000 uint8"]),
    ],
)
def test_a_file_announcing_another_shape_is_a_checksum_error(tmp_path, shared_mnist, content, words):
    directory = link_mnist(tmp_path / "mnist", shared_mnist, GZ_FILES[:3])
    (directory / GZ_FILES[3]).write_bytes(gzip.compress(content))
    with pytest.raises(ChecksumError) as info:
        load_mnist(directory)
    for word in words:
        assert word in str(info.value)


def test_fetch_returns_the_folder_and_remembers_the_verification(tmp_path, monkeypatch):
    directory = tmp_path / "mnist"
    write_fake_dataset(directory, monkeypatch, "mnist")
    assert fetch(data_dir=directory) == directory
    assert (directory / ".cache" / "stamp.json").is_file()
    forbid(monkeypatch, "_checked_array")
    assert fetch(data_dir=directory) == directory


# ---------------------------------------------------------------------------------------------------- downloads


class MirrorHandler(http.server.BaseHTTPRequestHandler):
    """``/good/F`` serves the file F of ``server.root``, ``/wrong/F`` valid gzip with wrong content,
    ``/short/F`` announces F's length and closes halfway, anything else is a 404."""

    def do_GET(self):
        self.server.requests.append(self.path)
        kind, _, name = self.path.strip("/").partition("/")
        source = self.server.root / name
        if kind == "good" and source.is_file():
            self._send(source.read_bytes())
        elif kind == "wrong":
            self._send(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02\x03"))
        elif kind == "short" and source.is_file():
            body = source.read_bytes()
            self._send(body[: len(body) // 2], length=len(body))
        else:
            self.send_error(404, "Not Found")

    def _send(self, body: bytes, length: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)  # HTTP/1.0: the connection is closed after this

    def log_message(self, format, *args):
        pass


@pytest.fixture(scope="module")
def http_mirror():
    with local_http_server(MirrorHandler) as server:
        server.requests = []  # the handler appends every request path (no request arrives before the tests)
        yield server


class Mirror(NamedTuple):
    url: str  # base URL of the loopback server
    requests: list  # paths requested, in order


@pytest.fixture
def mirror(http_mirror, shared_mnist, monkeypatch) -> Mirror:
    """The loopback mirror with an empty request log; proxies are never used for it."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")
    http_mirror.requests.clear()
    monkeypatch.setattr(http_mirror, "root", SHARED_MNIST, raising=False)
    host, port = http_mirror.server_address
    return Mirror(f"http://{host}:{port}", http_mirror.requests)


def refused_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/nothing-listens"


def test_download_from_a_good_mirror(mirror, tmp_path, monkeypatch):
    monkeypatch.setenv("MNISTLIB_MIRRORS", f"{mirror.url}/good/")
    directory = tmp_path / "new" / "mnist"
    assert fetch(data_dir=directory, progress=True) == directory  # the progress bar code path (to stderr)
    assert files_in(directory) == set(GZ_FILES) | {".cache"}
    for f in GZ_FILES:
        assert (directory / f).read_bytes() == (SHARED_MNIST / f).read_bytes()
    assert mirror.requests == [f"/good/{f}" for f in GZ_FILES]


@pytest.fixture
def small_mirror(mirror, http_mirror, tmp_path, monkeypatch) -> Mirror:
    """The loopback mirror serving a small dataset in MNIST's place (accepted through the checksum table)."""
    http_mirror.root = tmp_path / "served"
    write_fake_dataset(http_mirror.root, monkeypatch, "mnist")
    return mirror


def test_first_mirror_404_then_the_second_one_and_it_is_kept_for_the_next_files(small_mirror, tmp_path, monkeypatch):
    mirror = small_mirror
    monkeypatch.setenv("MNISTLIB_MIRRORS", f"{mirror.url}/missing/, {mirror.url}/good")
    directory = tmp_path / "mnist"
    assert fetch(data_dir=directory, progress=False) == directory
    assert files_in(directory) == set(GZ_FILES) | {".cache"}
    expected = [f"/missing/{GZ_FILES[0]}", f"/good/{GZ_FILES[0]}"] + [f"/good/{f}" for f in GZ_FILES[1:]]
    assert mirror.requests == expected


def test_every_bad_mirror_is_listed_in_one_download_error(mirror, tmp_path, monkeypatch):
    urls = [f"{mirror.url}/missing/", f"{mirror.url}/wrong/", f"{mirror.url}/short/", refused_url(), "no-scheme"]
    monkeypatch.setenv("MNISTLIB_MIRRORS", " ".join(urls))
    directory = tmp_path / "mnist"
    with pytest.raises(DownloadError) as info:
        load_mnist(directory, progress=False)
    error = info.value
    assert isinstance(error, OSError) and isinstance(error, DatasetError)
    tried = [url for url, _ in error.attempts]
    assert tried == [u.rstrip("/") + f"/{GZ_FILES[0]}" for u in urls]
    reasons = dict(error.attempts)
    assert "404" in reasons[tried[0]]
    assert "wrong content" in reasons[tried[1]] and datasets.SHA256["mnist"][FILES[0]] in reasons[tried[1]]
    assert "incomplete" in reasons[tried[2]]
    assert "Connection" in reasons[tried[3]] or "refused" in reasons[tried[3]].lower()
    assert "unknown url type" in reasons[tried[4]]
    message = str(error)
    for url in tried:
        assert url in message
    assert str(directory) in message and "MNISTLIB_DATA_DIR" in message and "MNISTLIB_MIRRORS" in message
    for f in GZ_FILES:
        assert f in message  # which files to fetch by hand
    assert files_in(directory) == set()  # no partial or temporary file left behind


def test_files_already_present_are_not_downloaded_again(small_mirror, tmp_path, monkeypatch):
    mirror = small_mirror
    directory = tmp_path / "mnist"
    write_fake_dataset(directory, monkeypatch, "mnist")
    (directory / GZ_FILES[3]).unlink()
    monkeypatch.setenv("MNISTLIB_MIRRORS", f"{mirror.url}/good/")
    fetch(data_dir=directory, progress=False)
    assert mirror.requests == [f"/good/{GZ_FILES[3]}"]


def test_a_download_that_fails_midway_keeps_the_files_already_verified(small_mirror, tmp_path, monkeypatch):
    mirror = small_mirror
    # the second file is only on the "short" mirror path, which always cuts it
    monkeypatch.setenv("MNISTLIB_MIRRORS", f"{mirror.url}/short/")
    directory = tmp_path / "mnist"
    with pytest.raises(DownloadError):
        fetch(data_dir=directory, progress=False)
    assert files_in(directory) == set()
    monkeypatch.setenv("MNISTLIB_MIRRORS", f"{mirror.url}/good/")
    fetch(data_dir=directory, progress=False)
    assert set(GZ_FILES) <= files_in(directory)


def test_keyboard_interrupt_during_a_download_leaves_no_partial_file(tmp_path, monkeypatch):
    class Response:
        headers = {"Content-Length": "100000"}
        chunks = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read1(self, size):
            Response.chunks += 1
            if Response.chunks > 1:
                raise KeyboardInterrupt
            return b"\x1f\x8b" + b"x" * 1000

    monkeypatch.setattr(urllib.request, "urlopen", lambda request, timeout: Response())
    monkeypatch.setenv("MNISTLIB_MIRRORS", "https://mirror.invalid/mnist/")
    directory = tmp_path / "mnist"
    with pytest.raises(KeyboardInterrupt):
        load_mnist(directory, progress=False)
    assert Response.chunks == 2
    assert files_in(directory) == set()


def test_file_urls_and_the_dataset_placeholder_work_as_mirrors(tmp_path, monkeypatch):
    written = write_fake_dataset(tmp_path / "served" / "mnist", monkeypatch, "mnist")
    monkeypatch.setenv("MNISTLIB_MIRRORS", (tmp_path / "served").as_uri() + "/{dataset}/")
    directory = tmp_path / "mnist"
    assert fetch(data_dir=directory, progress=False) == directory
    assert set(GZ_FILES) <= files_in(directory)
    assert_written(load_mnist(directory), written)


def test_a_server_that_decompresses_the_file_gets_it_saved_uncompressed(tmp_path, monkeypatch):
    plain = tmp_path / "plain-mirror"
    written = write_fake_dataset(tmp_path / "served", monkeypatch, "mnist")
    plain.mkdir()
    for name in FILES:  # served under the .gz names, but not compressed
        write_idx(plain / f"{name}.gz", written[name], compress=False)
    monkeypatch.setenv("MNISTLIB_MIRRORS", plain.as_uri())
    directory = tmp_path / "mnist"
    fetch(data_dir=directory, progress=False)
    assert set(FILES) <= files_in(directory) and not set(GZ_FILES) & files_in(directory)
    assert_written(load_mnist(directory), written)


def test_default_mirrors_are_https_first():
    for bases in datasets.MIRRORS.values():
        assert bases[0].startswith("https://") and all(b.endswith("/") for b in bases)


# ---------------------------------------------------------------------------------------------------- Fashion-MNIST


def test_fashion_mnist_from_an_explicit_folder(tmp_path, monkeypatch):
    directory = tmp_path / "fashion"
    if REAL_FASHION_DIR.is_dir():  # Debian package dataset-fashion-mnist: the real files
        link_mnist(directory, REAL_FASHION_DIR)
        n_train, n_test = 60_000, 10_000
    else:  # elsewhere: small files in the same format, accepted through the checksum table
        written = write_fake_dataset(directory, monkeypatch, "fashion-mnist")
        n_train, n_test = 12, 5
    train, val, test = load_mnist(directory, dataset="fashion-mnist")
    assert train.X.shape == (n_train, 784) and train.X.dtype == np.float32
    assert test.X.shape == (n_test, 784) and test.y.dtype == np.int64 and val.X.shape == (0, 784)
    assert train.X.min() >= 0.0 and train.X.max() <= 1.0
    if n_train == 60_000:
        assert np.bincount(train.y).tolist() == [6000] * 10 and np.bincount(test.y).tolist() == [1000] * 10
        assert FASHION_MNIST_CLASSES[train.y[0]] == "Ankle boot"
    else:
        np.testing.assert_array_equal(train.y, written["train-labels-idx1-ubyte"])
        np.testing.assert_array_equal(test.X, written["t10k-images-idx3-ubyte"].reshape(n_test, 784) / np.float32(255))
    with pytest.raises(ChecksumError):  # the MNIST table does not accept Fashion-MNIST files
        load_mnist(directory, dataset="mnist")


def test_fashion_mnist_is_read_from_the_system_folder_first_and_cached_elsewhere(tmp_path, monkeypatch):
    system = tmp_path / "usr-share-datasets" / "fashion-mnist"
    written = write_fake_dataset(system, monkeypatch, "fashion-mnist")
    monkeypatch.setitem(datasets.SYSTEM_DATA_DIRS, "fashion-mnist", system)
    monkeypatch.setenv("MNISTLIB_DATA_DIR", str(tmp_path / "user-data"))  # empty: would need a download
    before = files_in(system)
    train, _, test = load_mnist(dataset="fashion-mnist", download=False)
    np.testing.assert_array_equal(train.X, written["train-images-idx3-ubyte"].reshape(12, 784) / np.float32(255))
    np.testing.assert_array_equal(test.y, written["t10k-labels-idx1-ubyte"])
    assert files_in(system) == before  # never writes into a system folder, even as root
    assert list((Path(os.environ["XDG_CACHE_HOME"]) / "mnistlib" / "caches").glob("fashion-mnist-*/stamp.json"))
    assert fetch(dataset="fashion-mnist") == system
    # MNIST never looks there
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(download=False)
    assert system not in info.value.searched
    # an explicit folder wins over the system folder
    with pytest.raises(DatasetNotFoundError) as info:
        load_mnist(tmp_path / "elsewhere", dataset="fashion-mnist", download=False)
    assert info.value.searched == [tmp_path / "elsewhere"]


def test_fashion_mnist_not_found_mentions_the_debian_package(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist") as info:
        load_mnist(dataset="fashion-mnist", download=False)
    assert info.value.searched[0] == tmp_path / "no-system-folder"


@pytest.mark.parametrize("flags", [dict(raw="no"), dict(download="no"), dict(raw=1), dict(download=None)])
def test_raw_and_download_must_be_booleans(tmp_path, flags):
    """download="no" is a true string: it used to download, and raw="no" returned raw images."""
    with pytest.raises(TypeError, match="raw and download must be True or False"):
        load_mnist(tmp_path / "nowhere", **flags)
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("call", [load_mnist, fetch])
@pytest.mark.parametrize("progress", ["no", "off", 0, 1])
def test_progress_must_be_a_boolean_or_none(tmp_path, call, progress):
    """progress="no" is a true string: it showed the download bar. Refused before anything is looked for."""
    with pytest.raises(TypeError, match=f"{call.__name__}: progress must be True, False or None"):
        call(tmp_path / "nowhere", progress=progress)
    assert not (tmp_path / "nowhere").exists()


def test_a_folder_that_cannot_be_written_is_said_once_before_any_mirror_is_tried(tmp_path, monkeypatch):
    """Running as root, chmod cannot make a folder read-only for us, so os.access stands in for it."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    real_access = os.access
    monkeypatch.setattr(datasets.os, "access", lambda p, mode: False if Path(p) == folder else real_access(p, mode))
    monkeypatch.setenv("MNISTLIB_MIRRORS", "http://127.0.0.1:9/never-contacted/")
    with pytest.raises(DownloadError, match=r"Cannot download into .*read-only: the folder is not writable") as info:
        load_mnist(folder)
    assert "never-contacted" not in str(info.value)
