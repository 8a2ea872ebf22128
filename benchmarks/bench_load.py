"""Benchmark: how fast MNIST loads, compared with the floor set by zlib itself.

Measured in one run, best-of-N with ``time.perf_counter`` (floor and reader interleaved, so that both see the
same machine load):

(a) the floor: read the bytes of the four MNIST ``.gz`` files and decompress them with ``zlib.decompress``
    (also reported: a tighter floor whose output buffer is sized from the gzip trailer);
(b) ``mnistlib.idx.read_idx`` on the same four files (header checks, native writable arrays included);
(c) the ratio b / a (target: at most 1.1);
(d) ``load_mnist()`` cold (on a temporary copy of the data folder, its cache deleted before every call: find,
    verify by SHA-256, parse, convert, write the cache with fsync; target: at most 0.5 s) and warm (the cache
    stamp checked, the .npy files memory-mapped; target: at most 5 ms). The cold time is also given as a
    multiple of the zlib floor, which shows how loaded the machine was.

Usage::

    .venv/bin/python benchmarks/bench_load.py [--data-dir DIR] [--repeats 7] [--check]

``--check`` exits 1 when a target is missed (best of the repeats).

The data folder is ``--data-dir``, else ``$MNISTLIB_DATA_DIR/mnist``, else the repository's ``data/mnist/`` when
the files are there, else ``../shared/data/mnist`` beside the repository. The last line printed is one JSON object
with every figure (seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

from mnistlib.idx import read_idx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import FILES, default_data_dir, has_files  # noqa: E402

TARGET_RATIO = 1.1
TARGET_COLD_S = 0.5
TARGET_WARM_S = 0.005


def zlib_floor(paths: list[Path]) -> int:
    total = 0
    for path in paths:
        with open(path, "rb") as f:
            total += len(zlib.decompress(f.read(), wbits=31))
    return total


def zlib_floor_presized(paths: list[Path]) -> int:
    """A tighter floor: output buffer sized from the gzip trailer (ISIZE), so zlib never grows and joins blocks."""
    total = 0
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        total += len(zlib.decompress(data, wbits=31, bufsize=int.from_bytes(data[-4:], "little")))
    return total


def with_read_idx(paths: list[Path]) -> int:
    return sum(read_idx(path).nbytes for path in paths)


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def summary(times: list[float]) -> tuple[float, float]:
    return min(times), statistics.median(times)


def bench_idx(paths: list[Path], repeats: int) -> dict:
    # Same content? (outside the timings) read_idx's data must be exactly what zlib gives after the header.
    for path in paths:
        with open(path, "rb") as f:
            raw = zlib.decompress(f.read(), wbits=31)
        array = read_idx(path)
        assert raw.endswith(array.tobytes()) and len(raw) - array.nbytes == 4 + 4 * array.ndim, path
    zlib_floor(paths), with_read_idx(paths)  # warm the page cache and the allocator
    floor, presized, reader = [], [], []
    for _ in range(repeats):
        floor.append(timed(zlib_floor, paths))
        presized.append(timed(zlib_floor_presized, paths))
        reader.append(timed(with_read_idx, paths))
    (zlib_min, zlib_med), (idx_min, idx_med) = summary(floor), summary(reader)
    presized_min, presized_med = summary(presized)
    return {
        "zlib_s": round(zlib_min, 4),
        "zlib_median_s": round(zlib_med, 4),
        "read_idx_s": round(idx_min, 4),
        "read_idx_median_s": round(idx_med, 4),
        "ratio": round(idx_min / zlib_min, 3),
        "ratio_median": round(idx_med / zlib_med, 3),
        "zlib_presized_s": round(presized_min, 4),
        "zlib_presized_median_s": round(presized_med, 4),
        "ratio_presized": round(idx_min / presized_min, 3),
        "compressed_bytes": sum(path.stat().st_size for path in paths),
        "decompressed_bytes": zlib_floor(paths),
    }


def bench_datasets(data_dir: Path, repeats: int) -> dict:
    from mnistlib.datasets import load_mnist

    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp:
        folder = Path(tmp) / "mnist"
        folder.mkdir()
        for name in FILES:
            shutil.copy2(data_dir / name, folder / name)
        originals = set(os.listdir(folder))
        old_env = {key: os.environ.get(key) for key in ("XDG_CACHE_HOME", "MNISTLIB_PROGRESS")}
        os.environ["XDG_CACHE_HOME"] = str(Path(tmp) / "xdg-cache")  # any fallback cache stays in the temp dir
        os.environ["MNISTLIB_PROGRESS"] = "0"

        def clear_cache():
            for name in set(os.listdir(folder)) - originals:
                target = folder / name
                shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
            shutil.rmtree(Path(tmp) / "xdg-cache", ignore_errors=True)

        def load():
            train, val, test = load_mnist(folder, download=False, progress=False)
            assert train.X.shape == (60000, 784) and test.X.shape == (10000, 784)

        try:
            cold, warm = [], []
            for _ in range(repeats):
                clear_cache()
                cold.append(timed(load))
                warm.append(timed(load))
        finally:
            for key, value in old_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    (cold_min, cold_med), (warm_min, warm_med) = summary(cold), summary(warm)
    return {
        "datasets_cold_s": round(cold_min, 4),
        "datasets_cold_median_s": round(cold_med, 4),
        "datasets_warm_s": round(warm_min, 5),
        "datasets_warm_median_s": round(warm_med, 5),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=None, help="folder with the four MNIST .gz files")
    parser.add_argument("--repeats", type=int, default=7, help="timed repetitions; min and median are reported")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    data_dir = (args.data_dir or default_data_dir()).resolve()
    if not has_files(data_dir):
        print(f"bench_load: the four MNIST .gz files were not found in {data_dir} (use --data-dir)", file=sys.stderr)
        return 2
    paths = [data_dir / name for name in FILES]
    print(f"data: {data_dir}  ({args.repeats} repeats, best and median)")

    result = {"benchmark": "load", "data_dir": str(data_dir), "repeats": args.repeats}
    result.update(bench_idx(paths, args.repeats))
    r = result
    print(
        f"zlib floor (read + zlib.decompress): {r['zlib_s']:.4f} s   (median {r['zlib_median_s']:.4f})\n"
        f"mnistlib.idx.read_idx:               {r['read_idx_s']:.4f} s   (median {r['read_idx_median_s']:.4f})\n"
        f"ratio read_idx / zlib:               {r['ratio']:.3f}      (median {r['ratio_median']:.3f}; "
        f"target <= {TARGET_RATIO})\n"
        f"(tighter floor, zlib with bufsize from the gzip trailer: {r['zlib_presized_s']:.4f} s, "
        f"ratio {r['ratio_presized']:.3f})"
    )
    result.update(bench_datasets(data_dir, args.repeats))
    result["cold_over_zlib"] = round(result["datasets_cold_s"] / result["zlib_s"], 2)
    print(
        f"load_mnist cold (no cache):          {result['datasets_cold_s']:.4f} s   "
        f"(median {result['datasets_cold_median_s']:.4f}; {result['cold_over_zlib']:.2f} x the zlib floor; "
        f"target <= {TARGET_COLD_S})\n"
        f"load_mnist warm (cached):            {result['datasets_warm_s']:.5f} s  "
        f"(median {result['datasets_warm_median_s']:.5f}; target <= {TARGET_WARM_S})"
    )
    missed = [
        name
        for name, value, target in [
            ("ratio", result["ratio"], TARGET_RATIO),
            ("cold", result["datasets_cold_s"], TARGET_COLD_S),
            ("warm", result["datasets_warm_s"], TARGET_WARM_S),
        ]
        if value > target
    ]
    result.update(
        missed=missed,
        target_ratio=TARGET_RATIO,
        target_cold_s=TARGET_COLD_S,
        target_warm_s=TARGET_WARM_S,
        python=platform.python_version(),
        numpy=np.__version__,
        zlib=zlib.ZLIB_RUNTIME_VERSION,
    )
    print(json.dumps(result))
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
