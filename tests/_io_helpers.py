"""Small IDX helpers shared by the I/O tests (test_idx, test_datasets, test_io_failures, test_io_fuzz)."""

import contextlib
import gzip
import hashlib
import http.server
import io
import threading
from pathlib import Path

import numpy as np

from mnistlib import datasets
from mnistlib.idx import write_idx


def idx_bytes(array) -> bytes:
    """The plain (not gzipped) IDX bytes of ``array``, as write_idx writes them."""
    f = io.BytesIO()
    write_idx(f, array)
    return f.getvalue()


def write_fake_dataset(directory: Path, monkeypatch, dataset="fashion-mnist", *, n_train=12, n_test=5, seed=0) -> dict:
    """Small valid IDX files with the checksum table patched to accept them; returns the arrays written."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, size=(n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, size=n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, size=(n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, size=n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        path = directory / f"{name}.gz"
        write_idx(path, array)
        digest = hashlib.sha256(gzip.decompress(path.read_bytes())).hexdigest()
        monkeypatch.setitem(datasets.SHA256[dataset], name, digest)
    return arrays


@contextlib.contextmanager
def local_http_server(handler):
    """A ThreadingHTTPServer for ``handler`` on 127.0.0.1 (a free port), served by a thread; shut down on exit."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
