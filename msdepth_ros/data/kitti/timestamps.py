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

"""KITTI ``timestamps.txt`` lines: writing them, and reading them as Unix nanoseconds."""

from __future__ import annotations

import calendar
from datetime import date
import math
import os
from pathlib import Path

from msdepth_ros.data.base import DatasetError
import numpy as np


def timestamp_line(seconds: float, date: str) -> str:
    """
    One line of a KITTI ``timestamps.txt``: ``YYYY-MM-DD HH:MM:SS.nnnnnnnnn``.

    ``seconds`` counts from midnight of ``date`` (``YYYY_MM_DD``).
    """
    whole = int(math.floor(seconds))
    nanos = int(round((seconds - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{date.replace('_', '-')} {hours:02d}:{minutes:02d}:{secs:02d}.{nanos:09d}"


def parse_timestamp_line(line: str) -> float:
    """Seconds since midnight of a ``timestamps.txt`` line (the date is ignored)."""
    try:
        _date, clock = line.split()
        h, m, s = clock.split(':')
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        raise DatasetError(f'not a KITTI timestamp: {line!r}') from None


def timestamp_ns(line: str, utc_offset_s: float = 0.0) -> int:
    """
    Unix time in nanoseconds of a ``timestamps.txt`` line.

    The line's date and clock are read as a clock that runs ``utc_offset_s`` seconds ahead of
    UTC (KITTI's files give the local time of Karlsruhe: ``7200.0``, CEST, on every recording
    day of 2011; ``0.0`` reads them as UTC). Exact to the nanosecond for the files' nine
    decimals.
    """
    seconds = parse_timestamp_line(line)
    try:
        day = date.fromisoformat(line.split()[0])
    except ValueError:
        raise DatasetError(f'not a KITTI timestamp: {line!r}') from None
    whole = math.floor(seconds)
    midnight_s = calendar.timegm(day.timetuple())
    return ((midnight_s + whole) * 10**9 + round((seconds - whole) * 1e9)
            - round(utc_offset_s * 1e9))


def read_timestamps_ns(path: str | os.PathLike, utc_offset_s: float = 0.0) -> np.ndarray:
    """Read a ``timestamps.txt`` as int64 Unix nanoseconds (``timestamp_ns`` of each line)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such timestamps file')
    stamps = []
    for lineno, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        if not line.strip():
            continue
        try:
            stamps.append(timestamp_ns(line, utc_offset_s))
        except DatasetError as exc:
            raise DatasetError(f'{path}:{lineno}: {exc}') from None
    return np.array(stamps, dtype=np.int64)
