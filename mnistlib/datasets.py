"""Find, download, verify and cache MNIST and Fashion-MNIST (introduced in notebook 01_idx_files).

``load_mnist()`` is the one call every notebook makes::

    train, val, test = load_mnist(validation_size=10_000)   # Nielsen's 50,000 / 10,000 / 10,000
    X_train, y_train = train                                 # (50000, 784) float32 in [0, 1], (50000,) int64

Both datasets come as the same four IDX files (parsed by :mod:`mnistlib.idx`), gzipped or not::

    train-images-idx3-ubyte  train-labels-idx1-ubyte  t10k-images-idx3-ubyte  t10k-labels-idx1-ubyte

Where the files are looked for (the first folder holding all four wins):

1. ``data_dir`` when it is passed: only that folder (missing files are downloaded into it).
2. Fashion-MNIST only: ``/usr/share/datasets/fashion-mnist`` (Debian package ``dataset-fashion-mnist``,
   read-only, used as is).
3. :func:`default_data_dir`: ``$MNISTLIB_DATA_DIR/<dataset>`` when that variable is set; else
   ``data/<dataset>/`` of the repository when mnistlib is used from a source checkout; else
   ``$XDG_CACHE_HOME/mnistlib/<dataset>`` (``~/.cache/mnistlib/<dataset>``). Missing files are downloaded here.

``MNISTLIB_DATA_DIR`` names a *parent* folder with one subfolder per dataset (``mnist/``, ``fashion-mnist/``),
the same layout as the repository's ``data/``, because both datasets use the same file names.

Verification: the SHA-256 of the *decompressed* IDX bytes must match :data:`SHA256` (mirrors recompress, so the
digest of a ``.gz`` proves nothing). Files are verified once; the result is remembered next to the cache.

Cache: the verified arrays are saved as ``.npy`` in ``<data folder>/.cache/`` (or, when that folder is read-only,
in ``$XDG_CACHE_HOME/mnistlib/caches/``) and memory-mapped copy-on-write on later calls, so a warm
``load_mnist()`` takes milliseconds. The cache is rebuilt when a source file changes (size, mtime, inode) and when
a cache file is damaged.

Environment variables:

- ``MNISTLIB_DATA_DIR``: parent folder of the per-dataset data folders (see above).
- ``MNISTLIB_MIRRORS``: base URLs (separated by spaces or commas) tried in order instead of the built-in
  mirrors; ``https://``, ``http://`` and ``file://`` work, and ``{dataset}`` in a URL is replaced by the dataset
  name.
- ``MNISTLIB_PROGRESS=0``: no download progress bar unless ``progress=True`` is passed.
- ``XDG_CACHE_HOME``: where the per-user folder ``mnistlib/`` goes (default ``~/.cache``).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import re
import secrets
import warnings
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import numpy as np

from mnistlib.idx import read_idx

__all__ = [
    "CLASS_NAMES",
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "FILES",
    "MIRRORS",
    "MNIST",
    "SHA256",
    "SYSTEM_DATA_DIRS",
    "ChecksumError",
    "DatasetError",
    "DatasetNotFoundError",
    "DownloadError",
    "Split",
    "default_data_dir",
    "fetch",
    "load_mnist",
]

# --------------------------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------------------------

#: Dataset names accepted by ``dataset=``.
DATASETS = ("mnist", "fashion-mnist")

#: The four IDX files of either dataset (without ``.gz``); the same names for both datasets.
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
_SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

#: SHA-256 of the decompressed (canonical) IDX files. Only these identify the data: mirrors recompress the .gz.
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

#: Base URLs tried in order for ``<base><file>.gz``; ``MNISTLIB_MIRRORS`` replaces them.
MIRRORS = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",  # torchvision
        "https://storage.googleapis.com/cvdf-datasets/mnist/",  # TensorFlow
        "http://yann.lecun.com/exdb/mnist/",  # the original; often refuses
    ),
    "fashion-mnist": (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",  # Keras
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",  # the official one (torchvision)
    ),
}

#: Read-only folders installed by system packages, looked at first (``sudo apt-get install dataset-fashion-mnist``).
SYSTEM_DATA_DIRS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}

#: Fashion-MNIST label ``k`` is ``FASHION_MNIST_CLASSES[k]``.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Class names per dataset, for titles and legends: ``CLASS_NAMES[dataset][y]``.
CLASS_NAMES = {"mnist": tuple(str(digit) for digit in range(10)), "fashion-mnist": FASHION_MNIST_CLASSES}

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_IMAGE_SHAPE = (28, 28)
_TRAIN_SIZE = 60_000  # both datasets

ENV_DATA_DIR = "MNISTLIB_DATA_DIR"
ENV_MIRRORS = "MNISTLIB_MIRRORS"
ENV_PROGRESS = "MNISTLIB_PROGRESS"

DOWNLOAD_TIMEOUT = 30.0  # seconds without data before a mirror is given up
_CHUNK_SIZE = 1 << 20
_USER_AGENT = "mnistlib (course 'MNIST from scratch with NumPy'; Python urllib)"
_GZIP_MAGIC = b"\x1f\x8b"
_GZIP_ERRORS = (gzip.BadGzipFile, EOFError, zlib.error)  # damaged, truncated, corrupt stream
_CACHE_VERSION = 1
_VERIFIED_STAMP = "verified.json"
_ARRAYS_STAMP = "arrays.json"

# The folder that holds the mnistlib package: a source checkout when it has pyproject.toml and data/.
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------------------------------------------
# Errors and return types
# --------------------------------------------------------------------------------------------------------------


class DatasetError(Exception):
    """Base class of every failure to provide a dataset (not found, download, checksum)."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The IDX files are not on disk and ``download=False``.

    Attributes: ``missing`` (file names), ``searched`` (folders looked in).
    """

    def __init__(self, message: str, *, missing: list[str], searched: list[Path]) -> None:
        super().__init__(message)
        self.missing = list(missing)
        self.searched = list(searched)


class DownloadError(DatasetError, OSError):
    """No mirror delivered a file that passed verification.

    Attribute ``attempts``: list of ``(url, error message)``, one per URL tried, in order.
    """

    def __init__(self, message: str, *, attempts: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.attempts = list(attempts or [])


class ChecksumError(DatasetError, ValueError):
    """A data file's decompressed bytes do not have the expected SHA-256 (damaged, truncated or another file).

    Attributes: ``path``, ``expected`` (hex digest), ``found`` (hex digest, or None when the file could not even be
    decompressed).
    """

    def __init__(self, message: str, *, path: Path, expected: str, found: str | None) -> None:
        super().__init__(message)
        self.path = path
        self.expected = expected
        self.found = found


class Split(NamedTuple):
    """One split: images ``X`` and labels ``y`` (introduced in notebook 01_idx_files).

    X: (N, 784) float32 in [0, 1] (``raw=True``: (N, 28, 28) uint8, 0 = background); y: (N,) int64 in 0..9.
    A tuple so that ``X_train, y_train = train`` works, with names so that ``data.train.X`` reads well.
    """

    X: np.ndarray
    y: np.ndarray


class MNIST(NamedTuple):
    """The three splits returned by :func:`load_mnist`: ``train, val, test = load_mnist(...)``.

    ``val`` is always there (0 rows when ``validation_size=0``) so the return type never depends on an option.
    """

    train: Split
    val: Split
    test: Split


class _Source(NamedTuple):
    """Verified files of one dataset: where they are, their identity, and any bytes already read."""

    dataset: str
    directory: Path
    paths: dict[str, Path]
    cache_dir: Path | None
    identity: dict[str, dict]
    blobs: dict[str, bytes]  # decompressed IDX bytes of the files verified during this call


# --------------------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------------------


def load_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    dataset: str = "mnist",
    validation_size: int = 0,
    raw: bool = False,
    download: bool = True,
    progress: bool | None = None,
) -> MNIST:
    """Load MNIST or Fashion-MNIST as ``MNIST(train, val, test)`` (introduced in notebook 01_idx_files).

    Every split is ``Split(X, y)`` with X: (N, 784) float32 in [0, 1] (pixel / 255), y: (N,) int64 in 0..9;
    ``raw=True`` gives X: (N, 28, 28) uint8 instead. train has 60,000 - validation_size rows, val the last
    ``validation_size`` rows of the official training set (10,000 gives Nielsen's 50,000/10,000), test 10,000.
    One format for every split so models, training loops and plots never convert.

    Files are found, downloaded when missing, verified by SHA-256 and cached as described in the module
    docstring; a warm call only memory-maps the cache (copy-on-write: the arrays are writable and writing to them
    never changes the cache).

    Args:
        data_dir: folder holding the four IDX files (``.gz`` or not); None: see :func:`default_data_dir`.
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        validation_size: rows moved from the end of the training set into ``val``; 0 <= validation_size < 60000.
        raw: return uint8 (N, 28, 28) images instead of float32 (N, 784).
        download: download missing files; False raises DatasetNotFoundError instead.
        progress: download progress bar; None means on unless the environment has ``MNISTLIB_PROGRESS=0``.

    Raises:
        ValueError: unknown ``dataset`` or bad ``validation_size``.
        DatasetNotFoundError: files missing and ``download=False``.
        DownloadError: files missing and no mirror delivered them.
        ChecksumError: a file on disk is not the expected one (damaged, truncated, another dataset).
    """
    _check_dataset(dataset)
    _check_validation_size(validation_size)
    source = _locate(dataset, data_dir, download=download, progress=progress)
    image_key = "raw" if raw else "X"
    keys = [f"{split}_{kind}" for split in ("train", "test") for kind in (image_key, "y")]
    arrays = _load_cached(source, keys)
    if arrays is None:
        arrays = _build_arrays(source)
        _save_cache(source, arrays)
    X, y = arrays[f"train_{image_key}"], arrays["train_y"]
    if validation_size >= len(y):
        raise ValueError(
            f"validation_size must be smaller than the training set ({len(y)} rows), found {validation_size}"
        )
    cut = len(y) - validation_size
    return MNIST(
        train=Split(X[:cut], y[:cut]),
        val=Split(X[cut:], y[cut:]),
        test=Split(arrays[f"test_{image_key}"], arrays["test_y"]),
    )


def fetch(
    data_dir: str | os.PathLike[str] | None = None, *, dataset: str = "mnist", progress: bool | None = None
) -> Path:
    """Make sure the four IDX files of ``dataset`` are on disk and verified; return their folder.

    Looks where :func:`load_mnist` looks, downloads the missing files (``.gz``) into ``data_dir`` or
    :func:`default_data_dir`, and checks every file's SHA-256 (once: the result is remembered until the file
    changes). Used by :func:`load_mnist`; call it alone to prepare a machine (introduced in notebook 01_idx_files).

    Arguments are those of :func:`load_mnist` (``data_dir`` first, the rest keyword-only).
    Raises DownloadError or ChecksumError as :func:`load_mnist` does.
    """
    _check_dataset(dataset)
    return _locate(dataset, data_dir, download=True, progress=progress).directory


def default_data_dir(dataset: str = "mnist") -> Path:
    """The folder where ``dataset``'s files are looked for and downloaded when no ``data_dir`` is given.

    ``$MNISTLIB_DATA_DIR/<dataset>`` if that variable is set; else ``<repository>/data/<dataset>`` when mnistlib
    is imported from a source checkout (so the course's data stays in its ``data/`` folder); else the per-user
    cache ``$XDG_CACHE_HOME/mnistlib/<dataset>`` (``~/.cache/mnistlib/<dataset>``). The folder may not exist yet.
    Fashion-MNIST is read from ``/usr/share/datasets/fashion-mnist`` first when that is installed.
    """
    _check_dataset(dataset)
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    if env:
        return Path(env).expanduser() / dataset
    checkout = _checkout_data_root()
    if checkout is not None:
        return checkout / dataset
    return _user_cache_root() / dataset


# --------------------------------------------------------------------------------------------------------------
# Finding and verifying the files
# --------------------------------------------------------------------------------------------------------------


def _check_dataset(dataset: object) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(map(repr, DATASETS))}, found {dataset!r}")


def _check_validation_size(validation_size: object) -> None:
    if isinstance(validation_size, bool) or not isinstance(validation_size, (int, np.integer)):
        raise ValueError(f"validation_size must be an int, found {type(validation_size).__name__} {validation_size!r}")
    if not 0 <= validation_size < _TRAIN_SIZE:
        raise ValueError(
            f"validation_size must satisfy 0 <= validation_size < {_TRAIN_SIZE} (rows taken from the end of the "
            f"training set; 10_000 gives the usual 50,000/10,000 split), found {validation_size}"
        )


def _checkout_data_root() -> Path | None:
    """``<repo>/data`` when mnistlib is imported from a source checkout, else None."""
    try:
        text = (_PACKAGE_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    names_us = re.search(r"""^\s*name\s*=\s*["']mnistlib["']""", text, re.MULTILINE)
    data = _PACKAGE_ROOT / "data"
    return data if names_us and data.is_dir() else None


def _user_cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / "mnistlib"


def _find_files(directory: Path) -> dict[str, Path]:
    """The IDX files present in ``directory``: name -> path, preferring the uncompressed file."""
    found = {}
    for name in FILES:
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def _locate(dataset: str, data_dir, *, download: bool, progress: bool | None) -> _Source:
    """Find (or download) the four files of ``dataset``, verify them, and pick the cache folder."""
    if data_dir is not None:
        searched = [Path(data_dir).expanduser()]
    else:
        system_dir = SYSTEM_DATA_DIRS.get(dataset)
        searched = ([Path(system_dir)] if system_dir is not None else []) + [default_data_dir(dataset)]
    blobs: dict[str, bytes] = {}
    for directory in searched:
        paths = _find_files(directory)
        if len(paths) == len(FILES):
            break
    else:
        directory = searched[-1]
        paths = _find_files(directory)
        missing = [name for name in FILES if name not in paths]
        if not download:
            raise DatasetNotFoundError(
                _not_found_message(dataset, missing, searched), missing=missing, searched=searched
            )
        for name, (path, blob) in _download(dataset, missing, directory, progress).items():
            paths[name] = path
            blobs[name] = blob
    cache_dir = _cache_dir(directory, dataset)
    identity = _identity(dataset, paths)
    if not _stamp_matches(cache_dir, _VERIFIED_STAMP, identity):
        for name in FILES:
            if name not in blobs:
                blobs[name] = _read_verified(paths[name], SHA256[dataset][name], dataset, name)
        if cache_dir is not None:
            _write_stamp(cache_dir / _VERIFIED_STAMP, {"folder": str(directory.absolute()), "sources": identity})
    return _Source(dataset, directory, paths, cache_dir, identity, blobs)


def _identity(dataset: str, paths: Mapping[str, Path]) -> dict[str, dict]:
    """What identifies the source files cheaply (one stat each) plus the digest they must have."""
    identity = {}
    for name in FILES:
        st = os.stat(paths[name])
        identity[name] = {
            "file": paths[name].name,
            "size": st.st_size,
            "mtime_ns": st.st_mtime_ns,
            "ino": st.st_ino,
            "sha256": SHA256[dataset][name],
        }
    return identity


def _decompressed(data: bytes) -> bytes:
    """IDX bytes of a file's content, gunzipped when it starts with the gzip magic."""
    return gzip.decompress(data) if data[:2] == _GZIP_MAGIC else data


def _read_verified(path: Path, expected: str, dataset: str, name: str) -> bytes:
    """Decompressed bytes of the user's file ``path``; ChecksumError (file left in place) when they are wrong."""
    what = f"{_TITLES[dataset]} file {name}"
    advice = (
        f"The file was left in place. Delete it and call load_mnist(dataset={dataset!r}) again to download it, "
        f"or fetch it by hand (see data/README.md)."
    )
    content = path.read_bytes()
    try:
        data = _decompressed(content)
    except _GZIP_ERRORS as exc:
        raise ChecksumError(
            f"{path} ({what}) cannot be decompressed ({exc}): it is truncated or damaged.\n{advice}",
            path=path,
            expected=expected,
            found=None,
        ) from exc
    found = hashlib.sha256(data).hexdigest()
    if found != expected:
        raise ChecksumError(
            f"{path} is not the expected {what}: wrong SHA-256 of the decompressed bytes.\n"
            f"  expected: {expected}\n  found:    {found}\n"
            f"It is damaged, truncated or another dataset's file. {advice}",
            path=path,
            expected=expected,
            found=found,
        )
    return data


def _not_found_message(dataset: str, missing: list[str], searched: list[Path]) -> str:
    title = _TITLES[dataset]
    target = searched[-1]
    lines = [
        f"{title} files not found and download=False.",
        "Missing (either NAME.gz or the uncompressed NAME is fine): " + ", ".join(missing),
        "Looked in: " + ", ".join(str(d) for d in searched),
        f"To get them: call load_mnist(dataset={dataset!r}) with download=True (the default), or download "
        f"{', '.join(n + '.gz' for n in missing)} from {MIRRORS[dataset][0]} into {target}/ "
        f"(or into <folder>/{dataset}/ and set {ENV_DATA_DIR}=<folder>). See data/README.md.",
    ]
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    if env and _holds_idx_files(Path(env).expanduser()):
        lines.append(
            f"Note: {ENV_DATA_DIR}={env} holds IDX files itself, but it names the PARENT folder: "
            f"move them into {Path(env).expanduser() / dataset}/."
        )
    if dataset == "fashion-mnist":
        lines.append("On Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist")
    return "\n".join(lines)


def _holds_idx_files(directory: Path) -> bool:
    """True when ``directory`` directly holds any IDX file of ours (used for a hint in error messages)."""
    return bool(_find_files(directory))


# --------------------------------------------------------------------------------------------------------------
# Downloading
# --------------------------------------------------------------------------------------------------------------


class _MirrorFailure(Exception):
    """One URL did not deliver a good file (the next mirror is tried)."""


def _mirrors(dataset: str) -> list[str]:
    env = os.environ.get(ENV_MIRRORS, "").strip()
    bases = re.split(r"[\s,]+", env) if env else list(MIRRORS[dataset])
    return [base.replace("{dataset}", dataset) for base in bases if base]


def _progress_enabled(progress: bool | None) -> bool:
    if progress is None:
        return os.environ.get(ENV_PROGRESS, "1").strip().lower() not in {"0", "false", "no", "off"}
    return bool(progress)


def _temp_path(final: Path) -> Path:
    """A fresh hidden name beside ``final`` (same folder, so os.replace is atomic)."""
    return final.with_name(f".{final.name}.{secrets.token_hex(4)}.part")


def _download(dataset: str, names: list[str], directory: Path, progress: bool | None) -> dict[str, tuple[Path, bytes]]:
    """Download ``names`` into ``directory``, trying every mirror; return name -> (path, decompressed bytes)."""
    mirrors = _mirrors(dataset)
    attempts: list[tuple[str, str]] = []
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(
            f"Cannot create {directory} to download {_TITLES[dataset]} into: {exc}.\n"
            + _by_hand(dataset, names, directory)
        ) from exc
    result = {}
    for name in names:
        for base in list(mirrors):
            url = base.rstrip("/") + f"/{name}.gz"
            try:
                result[name] = _download_one(url, directory, dataset, name, progress)
            except _MirrorFailure as exc:
                attempts.append((url, str(exc)))
                continue
            mirrors.remove(base)  # the mirror that worked is tried first for the next files
            mirrors.insert(0, base)
            break
        else:
            tried = "\n".join(f"  {url} -> {error}" for url, error in attempts) or "  (no mirror configured)"
            raise DownloadError(
                f"Could not download {_TITLES[dataset]} file {name}.gz; URLs tried:\n{tried}\n"
                + _by_hand(dataset, [n for n in names if n not in result], directory),
                attempts=attempts,
            )
    return result


def _by_hand(dataset: str, names: list[str], directory: Path) -> str:
    return (
        f"To put the files in place by hand, download {', '.join(n + '.gz' for n in names)} "
        f"(from any mirror; .gz or uncompressed) into {directory}/, or put them into <folder>/{dataset}/ and set "
        f"{ENV_DATA_DIR}=<folder>. Other mirrors: set {ENV_MIRRORS} to their base URLs. See data/README.md."
    )


def _download_one(url: str, directory: Path, dataset: str, name: str, progress: bool | None) -> tuple[Path, bytes]:
    """Stream ``url`` to a temporary file, verify it, then move it into place atomically."""
    import http.client
    import urllib.error
    import urllib.request

    final = directory / f"{name}.gz"
    tmp = _temp_path(final)
    try:
        out = open(tmp, "xb")  # honours the umask, unlike mkstemp's 0600
    except OSError as exc:
        raise DownloadError(f"Cannot write into {directory}: {exc}.\n" + _by_hand(dataset, [name], directory)) from exc
    try:
        with out:
            try:
                request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
                with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT) as response:
                    length = response.headers.get("Content-Length")
                    total = int(length) if length and length.isdigit() else None
                    received = 0
                    with _progress_bar(progress, total, f"{name}.gz") as update:
                        while chunk := response.read(_CHUNK_SIZE):
                            out.write(chunk)
                            received += len(chunk)
                            update(len(chunk))
            except urllib.error.HTTPError as exc:
                exc.close()
                raise _MirrorFailure(f"HTTP {exc.code} {exc.reason}") from exc
            except urllib.error.URLError as exc:
                raise _MirrorFailure(f"{type(exc.reason).__name__}: {exc.reason}") from exc
            except (OSError, http.client.HTTPException, ValueError) as exc:
                raise _MirrorFailure(f"{type(exc).__name__}: {exc}") from exc
            if total is not None and received != total:
                raise _MirrorFailure(
                    f"incomplete download: the connection closed after {received:,} of {total:,} bytes"
                )
        data = tmp.read_bytes()
        try:
            blob = _decompressed(data)
        except _GZIP_ERRORS as exc:
            raise _MirrorFailure(f"not a valid gzip file ({exc})") from exc
        found = hashlib.sha256(blob).hexdigest()
        expected = SHA256[dataset][name]
        if found != expected:
            raise _MirrorFailure(
                f"wrong content: SHA-256 of the decompressed file is {found}, expected {expected}"
            )
        if data[:2] != _GZIP_MAGIC:  # the server sent it uncompressed: name it for what it is
            final = directory / name
        os.replace(tmp, final)
        return final, blob
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # still there only when something failed (including KeyboardInterrupt)


@contextlib.contextmanager
def _progress_bar(progress: bool | None, total: int | None, desc: str) -> Iterator:
    """Yield ``update(num_bytes)``: a tqdm bar when enabled, else a no-op (tqdm is then not even imported)."""
    if not _progress_enabled(progress):
        yield lambda num_bytes: None
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False) as bar:
        yield bar.update


# --------------------------------------------------------------------------------------------------------------
# The .npy cache
# --------------------------------------------------------------------------------------------------------------


def _is_writable_dir(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def _cache_dir(directory: Path, dataset: str) -> Path | None:
    """``<directory>/.cache`` when writable (never inside a system folder), else a per-user folder, else None."""
    system_dirs = {Path(d).absolute() for d in SYSTEM_DATA_DIRS.values()}
    if directory.absolute() not in system_dirs:
        local = directory / ".cache"
        if _is_writable_dir(local):
            return local
    key = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    fallback = _user_cache_root() / "caches" / f"{dataset}-{key}"
    if _is_writable_dir(fallback):
        return fallback
    warnings.warn(
        f"No writable cache folder for {directory} (tried {directory / '.cache'} and {fallback}): "
        f"the files are verified and parsed on every load_mnist() call, which is slow.",
        stacklevel=3,
    )
    return None


def _read_stamp(path: Path) -> dict | None:
    try:
        stamp = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) and stamp.get("version") == _CACHE_VERSION else None


def _stamp_matches(cache_dir: Path | None, stamp_name: str, identity: dict) -> bool:
    if cache_dir is None:
        return False
    stamp = _read_stamp(cache_dir / stamp_name)
    return stamp is not None and stamp.get("sources") == identity


def _atomic_write(path: Path, write) -> None:
    """Write ``path`` through a temporary file and os.replace: never a half-written file under the final name."""
    tmp = _temp_path(path)
    try:
        with open(tmp, "xb") as f:
            write(f)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def _write_stamp(path: Path, content: dict) -> None:
    data = json.dumps({"version": _CACHE_VERSION, **content}, indent=1, sort_keys=True).encode()
    try:
        _atomic_write(path, lambda f: f.write(data))
    except OSError as exc:
        warnings.warn(f"Could not write {path} ({exc}); files will be verified again next time.", stacklevel=4)


def _load_cached(source: _Source, keys: list[str]) -> dict[str, np.ndarray] | None:
    """The cached arrays ``keys``, memory-mapped copy-on-write; None when the cache is missing, stale or damaged."""
    if source.cache_dir is None:
        return None
    stamp = _read_stamp(source.cache_dir / _ARRAYS_STAMP)
    if stamp is None or stamp.get("sources") != source.identity or not isinstance(stamp.get("arrays"), dict):
        return None
    arrays = {}
    for key in keys:
        spec = stamp["arrays"].get(key)
        try:
            array = np.load(source.cache_dir / f"{key}.npy", mmap_mode="c", allow_pickle=False)
            if array.shape != tuple(spec["shape"]) or array.dtype != np.dtype(spec["dtype"]):
                return None
        except (OSError, ValueError, EOFError, TypeError, KeyError):
            return None
        arrays[key] = np.asarray(array)  # a plain ndarray view of the copy-on-write map: writable, cache untouched
    return arrays


def _build_arrays(source: _Source) -> dict[str, np.ndarray]:
    """Parse the verified IDX bytes into every cached array: ``<split>_X``, ``<split>_raw``, ``<split>_y``."""
    arrays = {}
    for split, (images_name, labels_name) in _SPLIT_FILES.items():
        images = read_idx(io.BytesIO(_blob(source, images_name)))
        labels = read_idx(io.BytesIO(_blob(source, labels_name)))
        n = len(labels)
        shapes_ok = images.shape == (n, *_IMAGE_SHAPE) and labels.ndim == 1
        if not shapes_ok or images.dtype != np.uint8 or labels.dtype != np.uint8:
            raise DatasetError(
                f"{source.paths[images_name]} and {source.paths[labels_name]}: expected images (N, 28, 28) uint8 "
                f"and labels (N,) uint8, found {images.shape} {images.dtype} and {labels.shape} {labels.dtype}"
            )
        if n and labels.max() >= len(CLASS_NAMES[source.dataset]):
            raise DatasetError(f"{source.paths[labels_name]}: labels must be 0..9, found {int(labels.max())}")
        arrays[f"{split}_raw"] = images
        arrays[f"{split}_X"] = np.divide(images.reshape(n, -1), np.float32(255), dtype=np.float32)
        arrays[f"{split}_y"] = labels.astype(np.int64)
    return arrays


def _blob(source: _Source, name: str) -> bytes:
    if name in source.blobs:
        return source.blobs[name]
    # Verified earlier (the stamp matched), but parse only bytes that are still the verified ones.
    return _read_verified(source.paths[name], SHA256[source.dataset][name], source.dataset, name)


def _save_cache(source: _Source, arrays: dict[str, np.ndarray]) -> None:
    """Save every array as .npy, then the stamp that makes them valid (best effort: a failure only warns)."""
    if source.cache_dir is None:
        return
    try:
        (source.cache_dir / _ARRAYS_STAMP).unlink(missing_ok=True)  # invalid while the arrays are replaced
        for key, array in arrays.items():
            _atomic_write(source.cache_dir / f"{key}.npy", lambda f, a=array: np.save(f, a, allow_pickle=False))
    except OSError as exc:
        warnings.warn(f"Could not write the cache in {source.cache_dir} ({exc}); the next load is slow.", stacklevel=3)
        return
    specs = {key: {"shape": list(a.shape), "dtype": a.dtype.str} for key, a in arrays.items()}
    stamp = {"folder": str(source.directory.absolute()), "sources": source.identity, "arrays": specs}
    _write_stamp(source.cache_dir / _ARRAYS_STAMP, stamp)
