"""File helpers shared by ``idx``, ``datasets`` and ``models``: atomic writes and one bounded gzip reader.

Private (the notebooks never import it).
"""

import contextlib
import os
import secrets
import time
import zlib
from pathlib import Path

GZIP_MAGIC = b"\x1f\x8b"  # the first two bytes of every gzip file
_CHUNK = 256 * 1024  # bytes read from a file, and bytes produced, per step
_MAX_STEP = 64 * 1024  # compressed bytes handed to zlib per call
_FIRST_STEP = 64  # ... at the start of a gzip member, so that many tiny members cost linear time


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
