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
import tempfile
from typing import Callable


def atomic_write_bytes(path: str | os.PathLike, data: bytes | memoryview) -> Path:
    """
    Write ``data`` to ``path`` so that readers see the old file or the new one, never half.

    The bytes go to a temporary file in the same folder, are flushed to disk, then renamed
    over ``path``; on any error the temporary file is removed and the error re-raised.
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
    ``path`` as a ``Path``.

    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f'.{path.name}.', suffix='.tmp', dir=path.parent)
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


def sha256_bytes(data: bytes | memoryview) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()
