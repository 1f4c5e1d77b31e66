# Copyright 2026 The msdepth_ros Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.


"""Atomic file writes and content hashes for exported models and cached engines."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
import secrets
from typing import Callable

#: Mode of a new file before the process's umask, as ``open()`` (and ``torch.save``) use: with
#: the usual umask 022 the file is readable by every user, so that a node running under another
#: account (systemd, a container) can load what an export or an engine build wrote.
NEW_FILE_MODE = 0o666


def atomic_write_bytes(path: str | os.PathLike, data: bytes | memoryview) -> Path:
    """
    Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same folder, are flushed to disk, then renamed
    over ``path``; on any error the temporary file is removed and the error re-raised. The file
    gets the permissions any new file gets (``0o666`` less the umask).
    """
    return atomic_write(path, lambda f: f.write(data))


def atomic_write(path: str | os.PathLike, write: Callable[[object], object]) -> Path:
    """
    Call ``write(file)`` on a temporary binary file beside ``path``, then rename it to ``path``.

    Parameters
    ----------
    path:
        The file to create or replace; its folder must exist.
    write:
        Writes the content to the open binary file object it is given.

    Returns
    -------
    ``path`` as a ``Path``, with mode ``0o666`` less the umask (``tempfile.mkstemp`` would make
    it ``0o600`` whatever the umask).

    """
    path = Path(path)
    fd, tmp = _create_temporary(path)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _create_temporary(path: Path) -> tuple[int, str]:
    """Create a new, uniquely named file beside ``path``; the kernel applies the umask."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, 'O_BINARY', 0)
    for _ in range(100):
        tmp = str(path.parent / f'.{path.name}.{secrets.token_hex(6)}.tmp')
        try:
            return os.open(tmp, flags, NEW_FILE_MODE), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f'could not create a temporary file beside {path}')


def sha256_bytes(data: bytes | memoryview) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
