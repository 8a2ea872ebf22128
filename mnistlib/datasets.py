"""Find, download, verify and cache MNIST and Fashion-MNIST (introduced in notebook 01_idx_files).

``load_mnist()`` is the one call every notebook makes::

    train, val, test = load_mnist(validation_size=10_000)   # Nielsen's 50,000 / 10,000 / 10,000
    X_train, y_train = train                                 # (50000, 784) float32 in [0, 1], (50000,) int64

Both datasets come as the same four IDX files (:data:`FILES`, parsed by :mod:`mnistlib.idx`), gzipped or not.
They are looked for in ``data_dir``, else (Fashion-MNIST only) in the Debian package's folder
:data:`SYSTEM_DATA_DIRS`, else in :func:`default_data_dir`, where missing files are downloaded from
:data:`MIRRORS` (or the base URLs in ``$MNISTLIB_MIRRORS``; ``{dataset}`` in a URL is replaced by the name).

Verification: the SHA-256 of the *decompressed* IDX bytes must match :data:`SHA256` (mirrors recompress, so the
digest of a ``.gz`` proves nothing). No file is read or downloaded beyond the size of the real one
(:data:`SHAPES`), so a damaged file, a decompression bomb or a lying server costs at most that much.

Cache: the verified arrays are saved as ``.npy`` in ``<data folder>/.cache/`` (or, when that folder is read-only,
in ``$XDG_CACHE_HOME/mnistlib/caches/``) and memory-mapped copy-on-write on later calls. ``stamp.json`` records
the size, mtime and inode of each source file and of each ``.npy`` file as written; a warm ``load_mnist()``
compares them (a few ``stat`` calls, about a millisecond) and rebuilds from the verified source files whatever
does not match, so a replaced or modified cache file is never served. data/README.md has the details.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import time
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import numpy as np

from mnistlib._checks import check_int, progress_enabled
from mnistlib.idx import GZIP_MAGIC, IDXError, atomic_write, read_idx, read_idx_header, remove_stale_parts, write_idx

#: Dataset names accepted by ``dataset=``.
DATASETS = ("mnist", "fashion-mnist")

#: The four IDX files of either dataset (without ``.gz``); the same names for both datasets.
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

#: Shape of the uint8 array in each file (both datasets): no file is read or downloaded beyond this much data.
SHAPES = dict(zip(FILES, [(60_000, 28, 28), (60_000,), (10_000, 28, 28), (10_000,)], strict=True))

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
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat")
FASHION_MNIST_CLASSES += ("Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

#: Class names per dataset, for titles and legends: ``CLASS_NAMES[dataset][y]``.
CLASS_NAMES = {"mnist": tuple(str(digit) for digit in range(10)), "fashion-mnist": FASHION_MNIST_CLASSES}

ENV_DATA_DIR = "MNISTLIB_DATA_DIR"
ENV_MIRRORS = "MNISTLIB_MIRRORS"
DOWNLOAD_TIMEOUT = 30.0  # seconds one read from a mirror may wait for data
DOWNLOAD_DEADLINE = 300.0  # seconds one file may take in all: a server that trickles is given up
STALE_PART_AGE = 120.0  # seconds without a write after which a temporary .part file is removed (a killed process)

_TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
_SPLIT_FILES = {"train": FILES[:2], "test": FILES[2:]}
_CACHE_FILES = [f"{split}_{kind}.npy" for split in _SPLIT_FILES for kind in ("X", "raw", "y")]
_STAMP, _STAMP_VERSION = "stamp.json", 2
_CHUNK = 256 * 1024
_USER_AGENT = "mnistlib (course 'MNIST from scratch with NumPy'; Python urllib)"
_PACKAGE_ROOT = Path(__file__).resolve().parents[1]  # a source checkout when it has pyproject.toml and data/


class DatasetError(Exception):
    """Base class of every failure to provide a dataset (not found, download, checksum)."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """The IDX files are not on disk and ``download=False``. Attributes: ``missing`` (names), ``searched``."""

    def __init__(self, message: str, *, missing: list[str], searched: list[Path]) -> None:
        super().__init__(message)
        self.missing, self.searched = list(missing), list(searched)


class DownloadError(DatasetError, OSError):
    """No mirror delivered a good file, or it cannot be put in place. ``attempts``: ``[(url, why it failed)]``."""

    def __init__(self, message: str, *, attempts: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.attempts = list(attempts or [])


class ChecksumError(DatasetError, ValueError):
    """A data file is not the expected one: damaged, truncated, too large, or another dataset's file.

    Attributes: ``path``, ``expected`` (hex digest), ``found`` (hex digest of the decompressed bytes, or None when
    the file could not even be read as an IDX file of the expected size), ``reason`` (what is wrong, one phrase).
    """

    def __init__(self, message: str, *, path: Path, expected: str, found: str | None, reason: str = "") -> None:
        super().__init__(message)
        self.path, self.expected, self.found, self.reason = path, expected, found, reason


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
    One format for every split so models, training loops and plots never convert. A warm call checks the cache
    stamp and memory-maps the cache copy-on-write: the arrays are writable, writing never changes the cache.

    Args:
        data_dir: folder holding the four IDX files (``.gz`` or not); None: see :func:`default_data_dir`.
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        validation_size: rows moved from the end of the training set into ``val``; 0 <= validation_size < 60000.
        raw: return uint8 (N, 28, 28) images instead of float32 (N, 784).
        download: download missing files; False raises DatasetNotFoundError instead.
        progress: download progress bar; None means on unless the environment has ``MNISTLIB_PROGRESS=0``.

    Raises:
        ValueError: unknown ``dataset`` or bad ``validation_size``; TypeError: raw, download or progress not a bool.
        DatasetNotFoundError: files missing and ``download=False``.
        DownloadError: files missing and no mirror delivered them (each URL and why is in the message).
        ChecksumError: a file on disk is not the expected one (damaged, truncated, another dataset).
    """
    _check_dataset(dataset)
    if not isinstance(raw, bool) or not isinstance(download, bool):
        raise TypeError(f"load_mnist: raw and download must be True or False; found {raw=!r}, {download=!r}.")
    progress_enabled(progress, "load_mnist")  # checked now, not only once a download starts
    validation_size = check_int(validation_size, "validation_size", "load_mnist")
    if validation_size >= SHAPES["train-labels-idx1-ubyte"][0]:
        raise ValueError(
            f"load_mnist: validation_size must be below 60000 (rows taken from the end of the training set; "
            f"10_000 gives the usual 50,000/10,000 split); found {validation_size}."
        )
    kind = "raw" if raw else "X"
    _, arrays = _prepare(dataset, data_dir, [f"train_{kind}", "train_y", f"test_{kind}", "test_y"], download, progress)
    X, y = arrays[f"train_{kind}"], arrays["train_y"]
    cut = len(y) - validation_size
    return MNIST(Split(X[:cut], y[:cut]), Split(X[cut:], y[cut:]), Split(arrays[f"test_{kind}"], arrays["test_y"]))


def fetch(
    data_dir: str | os.PathLike[str] | None = None, *, dataset: str = "mnist", progress: bool | None = None
) -> Path:
    """Make sure the four IDX files of ``dataset`` are on disk, verified and cached; return their folder.

    Looks where :func:`load_mnist` looks, downloads the missing files (``.gz``) into ``data_dir`` or
    :func:`default_data_dir`, checks every file's SHA-256 and builds the cache, so that the next
    :func:`load_mnist` is fast. Call it alone to prepare a machine (introduced in notebook 01_idx_files).

    Arguments are those of :func:`load_mnist` (``data_dir`` first, the rest keyword-only).
    Raises DownloadError or ChecksumError as :func:`load_mnist` does.
    """
    _check_dataset(dataset)
    progress_enabled(progress, "fetch")  # a TypeError for anything but True, False or None
    return _prepare(dataset, data_dir, ["train_X", "train_y", "test_X", "test_y"], True, progress)[0]


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
    try:
        pyproject = (_PACKAGE_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        pyproject = ""
    if re.search(r"""^\s*name\s*=\s*["']mnistlib["']""", pyproject, re.MULTILINE) and (_PACKAGE_ROOT / "data").is_dir():
        return _PACKAGE_ROOT / "data" / dataset
    return _user_cache_root() / dataset


def _check_dataset(dataset: object) -> None:
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(map(repr, DATASETS))}, found {dataset!r}")


def _user_cache_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    return (Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache") / "mnistlib"


# ---------------------------------------------------------------------------------------------- finding, checking


def _prepare(dataset, data_dir, keys, download, progress) -> tuple[Path, dict[str, np.ndarray]]:
    """Find (or download) the files, then the arrays ``keys`` from the cache, rebuilding what does not match."""
    directory, paths = _locate(dataset, data_dir, download, progress)
    cache_dir = _cache_dir(directory, dataset)
    remove_stale_parts(directory, [*FILES, *(f"{name}.gz" for name in FILES)], STALE_PART_AGE)
    if cache_dir is not None:
        remove_stale_parts(cache_dir, [*_CACHE_FILES, _STAMP], STALE_PART_AGE)
    sources = {name: [path.name, *_identity(os.stat(path)), SHA256[dataset][name]] for name, path in paths.items()}
    stamp = _read_stamp(cache_dir, sources)
    arrays = {key: _map_cached(cache_dir, key, stamp.get(key)) for key in keys}
    missing = [key for key, array in arrays.items() if array is None]
    if missing:
        arrays.update(_build(dataset, paths, missing))
        _save_cache(cache_dir, sources, stamp, {key: arrays[key] for key in missing})
    return directory, arrays


def _locate(dataset, data_dir, download, progress) -> tuple[Path, dict[str, Path]]:
    """The first folder holding all four files (downloading the missing ones into the last folder searched)."""
    if data_dir is not None:
        searched = [Path(data_dir).expanduser()]
    else:
        searched = [Path(SYSTEM_DATA_DIRS[dataset])] if dataset in SYSTEM_DATA_DIRS else []
        searched.append(default_data_dir(dataset))
    for directory in searched:
        paths = _find_files(directory)
        if len(paths) == len(FILES):
            return directory, paths
    missing = [name for name in FILES if name not in paths]
    if not download:
        raise DatasetNotFoundError(_not_found_message(dataset, missing, searched), missing=missing, searched=searched)
    _download(dataset, missing, directory, progress)
    return directory, _find_files(directory)


def _find_files(directory: Path) -> dict[str, Path]:
    """The IDX files present in ``directory``: name -> path, preferring the uncompressed file."""
    found = {}
    for name in FILES:
        for candidate in (directory / name, directory / f"{name}.gz"):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def _not_found_message(dataset: str, missing: list[str], searched: list[Path]) -> str:
    lines = [
        f"{_TITLES[dataset]} files not found and download=False. Missing (NAME.gz or NAME): {', '.join(missing)}",
        "Looked in: " + ", ".join(str(d) for d in searched),
        f"To get them: call load_mnist(dataset={dataset!r}) with download=True (the default), or download "
        f"{', '.join(n + '.gz' for n in missing)} from {MIRRORS[dataset][0]} into {searched[-1]}/ "
        f"(or into <folder>/{dataset}/ and set {ENV_DATA_DIR}=<folder>). See data/README.md.",
    ]
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    if env and _find_files(Path(env).expanduser()):
        lines.append(f"Note: {ENV_DATA_DIR}={env} holds IDX files itself, but it names the PARENT folder.")
    if dataset == "fashion-mnist":
        lines.append("On Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist")
    return "\n".join(lines)


def _checked_array(path: Path, dataset: str, name: str) -> np.ndarray:
    """The uint8 array in ``path`` when its decompressed bytes have the SHA-256 of ``dataset``'s ``name``."""
    expected, limit, found = SHA256[dataset][name], math.prod(SHAPES[name]), None
    try:
        dtype, shape = read_idx_header(path)
        if dtype != np.uint8 or math.prod(shape) > limit:
            reason = f"its header announces {shape} {dtype}; {name} holds at most {limit:,} uint8 values"
        else:
            array = read_idx(path)  # reads no more than the header announces, so no more than the real file holds
            digest = hashlib.sha256()
            write_idx(SimpleNamespace(write=digest.update), array)  # exactly the bytes read_idx accepted
            found = digest.hexdigest()
            if found == expected:
                return array
            reason = f"wrong SHA-256 of the decompressed bytes:\n  expected: {expected}\n  found:    {found}"
    except IDXError as exc:
        reason = f"it is not a complete IDX file ({exc})"
    raise ChecksumError(
        f"{path} is not the expected {_TITLES[dataset]} file {name}: {reason}\nIt is damaged, truncated or another "
        f"dataset's file. The file was left in place. Delete it and call load_mnist(dataset={dataset!r}) again to "
        "download it, or fetch it by hand (see data/README.md).",
        path=path,
        expected=expected,
        found=found,
        reason=reason,
    )


# ---------------------------------------------------------------------------------------------- the .npy cache


def _identity(st: os.stat_result) -> list[int]:
    """What changes when a file is replaced (inode) or modified (size, mtime): a cheap stand-in for its content."""
    return [st.st_size, st.st_mtime_ns, st.st_ino]


def _cache_dir(directory: Path, dataset: str) -> Path | None:
    """``<directory>/.cache`` when writable (never inside a system folder), else a per-user folder, else None."""
    system = directory.absolute() in {Path(d).absolute() for d in SYSTEM_DATA_DIRS.values()}
    if not system and _is_writable_dir(directory / ".cache"):
        return directory / ".cache"
    key = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()[:16]
    fallback = _user_cache_root() / "caches" / f"{dataset}-{key}"
    if _is_writable_dir(fallback):
        return fallback
    warnings.warn(
        f"No writable cache folder for {directory} (tried {directory / '.cache'} and {fallback}): "
        f"the files are verified and parsed on every load_mnist() call, which is slow.",
        stacklevel=4,
    )
    return None


def _is_writable_dir(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(path, os.W_OK | os.X_OK)


def _read_stamp(cache_dir: Path | None, sources: dict) -> dict:
    """Cache file name -> identity recorded when it was written; {} when the stamp is missing, damaged or stale."""
    try:
        stamp = json.loads((cache_dir / _STAMP).read_bytes())
        return dict(stamp["arrays"]) if stamp["version"] == _STAMP_VERSION and stamp["sources"] == sources else {}
    except (OSError, TypeError, ValueError, KeyError):  # no cache folder (None), no stamp, not JSON, not ours
        return {}


def _map_cached(cache_dir: Path | None, key: str, expected: list[int] | None) -> np.ndarray | None:
    """The cached array ``key``, memory-mapped copy-on-write, if the file is the one stamped; else None."""
    if expected is None:
        return None
    try:
        with open(cache_dir / f"{key}.npy", "rb") as f:
            if _identity(os.fstat(f.fileno())) != expected or np.lib.format.read_magic(f) != (1, 0):
                return None  # replaced or modified since it was written (or not written by np.save)
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
            array = np.memmap(f, dtype=dtype, mode="c", offset=f.tell(), shape=shape, order="F" if fortran else "C")
    except (OSError, ValueError):
        return None
    return np.asarray(array)  # a plain ndarray view of the private map: writable, the cache stays untouched


def _build(dataset: str, paths: dict[str, Path], keys: list[str]) -> dict[str, np.ndarray]:
    """The arrays ``keys`` (``<split>_X``, ``<split>_raw``, ``<split>_y``), parsed from verified files."""
    arrays = {}
    for split, (images_name, labels_name) in _SPLIT_FILES.items():
        wanted = [key for key in keys if key.startswith(f"{split}_")]
        if wanted:
            images = _checked_array(paths[images_name], dataset, images_name)
            labels = _checked_array(paths[labels_name], dataset, labels_name)
        for key in wanted:
            if key.endswith("_X"):
                arrays[key] = np.divide(images.reshape(len(images), -1), np.float32(255), dtype=np.float32)
            else:
                arrays[key] = images if key.endswith("_raw") else labels.astype(np.int64)
    return arrays


def _save_cache(cache_dir: Path | None, sources: dict, stamp: dict, arrays: dict[str, np.ndarray]) -> None:
    """Write each array as .npy (atomically), then the stamp with each file's identity as written."""
    if cache_dir is None:
        return
    try:
        for key, array in arrays.items():
            path = cache_dir / f"{key}.npy"
            with atomic_write(path) as f:
                np.save(f, array, allow_pickle=False)
            stamp[key] = _identity(path.stat())
        with atomic_write(cache_dir / _STAMP) as f:
            f.write(json.dumps({"version": _STAMP_VERSION, "sources": sources, "arrays": stamp}, indent=1).encode())
    except OSError as exc:
        warnings.warn(f"Could not write the cache in {cache_dir} ({exc}); the next load is slow.", stacklevel=4)


# ---------------------------------------------------------------------------------------------- downloading


class _MirrorFailure(Exception):
    """One URL did not deliver a good file (the next mirror is tried)."""


def _download(dataset: str, names: list[str], directory: Path, progress: bool | None) -> None:
    """Download ``names`` into ``directory``, each from the first mirror that delivers the right file."""
    for target in [directory / name for name in names] + [directory / f"{name}.gz" for name in names]:
        if target.exists() and not target.is_file():
            raise DownloadError(
                f"Cannot download {_TITLES[dataset]} file {target.name}: {target} is in the way (a folder, not a "
                f"file). Move or delete it, then call load_mnist(dataset={dataset!r}) again."
            )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DownloadError(f"Cannot create {directory}: {exc}.\n" + _by_hand(dataset, names, directory)) from exc
    if not _is_writable_dir(directory):  # say so once, rather than once per mirror
        raise DownloadError(
            f"Cannot download into {directory}: the folder is not writable.\n" + _by_hand(dataset, names, directory)
        )
    bases = [base for base in re.split(r"[\s,]+", os.environ.get(ENV_MIRRORS, "")) if base] or MIRRORS[dataset]
    mirrors = [base.replace("{dataset}", dataset) for base in bases]
    attempts: list[tuple[str, str]] = []
    for done, name in enumerate(names):
        for base in mirrors:
            url = base.rstrip("/") + f"/{name}.gz"
            try:
                _download_one(url, directory, dataset, name, progress)
            except Exception as exc:  # whatever one mirror does (a bomb, a MemoryError, a crash): try the next
                attempts.append((url, _describe(exc)))
                continue
            mirrors.remove(base)  # the mirror that worked is tried first for the next files
            mirrors.insert(0, base)
            break
        else:
            tried = "\n".join(f"  {url} -> {error}" for url, error in attempts) or "  (no mirror configured)"
            raise DownloadError(
                f"Could not download {_TITLES[dataset]} file {name}.gz; URLs tried:\n{tried}\n"
                + _by_hand(dataset, names[done:], directory),
                attempts=attempts,
            )


def _by_hand(dataset: str, names: list[str], directory: Path) -> str:
    return (
        f"To put the files in place by hand, download {', '.join(n + '.gz' for n in names)} "
        f"(from any mirror; .gz or uncompressed) into {directory}/, or put them into <folder>/{dataset}/ and set "
        f"{ENV_DATA_DIR}=<folder>. Other mirrors: set {ENV_MIRRORS} to their base URLs. See data/README.md."
    )


def _download_one(url: str, directory: Path, dataset: str, name: str, progress: bool | None) -> None:
    """Stream ``url`` into ``directory`` atomically, within the size cap and the deadline, then verify it."""
    import urllib.request  # here, not at the top: it takes longer to import than all of mnistlib

    size = 4 + 4 * len(SHAPES[name]) + math.prod(SHAPES[name])  # the uncompressed file
    cap = size + size // 100 + 65_536  # gzip output is smaller; allow for its framing on incompressible data
    deadline = time.monotonic() + DOWNLOAD_DEADLINE
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    final = directory / f"{name}.gz"
    with (
        urllib.request.urlopen(request, timeout=min(DOWNLOAD_TIMEOUT, DOWNLOAD_DEADLINE)) as response,
        atomic_write(final) as out,
    ):
        length = response.headers.get("Content-Length", "")
        total = int(length) if length.isdigit() else None
        if total is not None and total > cap:
            raise _MirrorFailure(f"the server announces {total:,} bytes; {name}.gz has at most {cap:,}")
        received, head = 0, b""
        with _progress_bar(progress, total, f"{name}.gz") as update:
            while chunk := response.read1(_CHUNK):  # whatever has arrived: the deadline is checked often
                received += len(chunk)
                if received > cap:
                    raise _MirrorFailure(f"more than {cap:,} bytes received; {name}.gz has at most that many")
                if time.monotonic() > deadline:
                    raise _MirrorFailure(f"not complete after {DOWNLOAD_DEADLINE:g} s (the deadline for one file)")
                head = (head + chunk[:2])[:2]
                out.write(chunk)
                update(len(chunk))
        if total is not None and received != total:
            raise _MirrorFailure(f"incomplete download: the connection closed after {received:,} of {total:,} bytes")
        out.flush()
        _checked_array(Path(out.name), dataset, name)
    if head != GZIP_MAGIC:  # the server sent it uncompressed: name it for what it is
        os.replace(final, directory / name)


def _describe(exc: Exception) -> str:
    """One line saying why a mirror failed."""
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        exc.close()
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{type(exc.reason).__name__}: {exc.reason}"
    if isinstance(exc, ChecksumError):
        return f"wrong content: {exc.reason}"
    return str(exc) if isinstance(exc, _MirrorFailure) else f"{type(exc).__name__}: {exc}"


@contextlib.contextmanager
def _progress_bar(progress: bool | None, total: int | None, desc: str):
    """Yield ``update(num_bytes)``: a tqdm bar when enabled, else a no-op (tqdm is then not even imported)."""
    if not progress_enabled(progress, "download"):
        yield lambda num_bytes: None
        return
    from tqdm.auto import tqdm

    with tqdm(total=total, desc=desc, unit="B", unit_scale=True, unit_divisor=1024, leave=False) as bar:
        yield bar.update
