"""File helpers shared by ``idx``, ``datasets`` and ``models``: atomic writes.

Private (the notebooks never import it).
"""

import contextlib
import os
import secrets
from pathlib import Path


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
