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

"""
KITTI split files and where a frame's files lie in the raw and depth-benchmark layouts.

A split line names a frame as ``DATE/DATE_drive_NNNN_sync FRAME SIDE``; the raw layout keeps
its image under ``ROOT/DATE/DRIVE/image_0C/data`` and its scan under ``velodyne_points/data``;
the depth benchmark keeps its uint16 PNGs under ``DRIVE/proj_depth/KIND/image_0C``.
"""

from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
from typing import Iterable

from msdepth_ros.data.base import (DatasetError, depth_from_uint16, depth_to_uint16,
                                   read_png_unchanged, write_png, write_text)
import numpy as np

#: The depth benchmark stores depth as uint16 PNG: value / 256 = metres, 0 = no ground truth.
BENCHMARK_UNITS_PER_METRE = 256.0

#: Camera index of the split files' sides: ``l`` = image_02, ``r`` = image_03.
SIDE_TO_CAMERA = {'l': 2, 'r': 3}


# -- split files ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SplitEntry:
    """
    One line of a split file: ``DATE/DATE_drive_NNNN_sync FRAME SIDE``.

    ``side`` is ``l`` (camera 2, ``image_02``) or ``r`` (camera 3, ``image_03``).
    """

    date: str
    drive: str
    frame: int
    side: str

    @property
    def camera(self) -> int:
        """Return the camera index (2 or 3)."""
        return SIDE_TO_CAMERA[self.side]

    @property
    def folder(self) -> str:
        """``DATE/DRIVE`` as the split files write it."""
        return f'{self.date}/{self.drive}'

    @property
    def name(self) -> str:
        """Return the entry's unique name: its split line with a zero-padded frame."""
        return self.line()

    def line(self, zero_pad: bool = True) -> str:
        """Format the entry as split files write it (frame zero-padded to 10 digits, or not)."""
        frame = f'{self.frame:010d}' if zero_pad else str(self.frame)
        return f'{self.folder} {frame} {self.side}'


def parse_split_line(line: str, where: str = 'split line') -> SplitEntry:
    """Parse ``DATE/DRIVE FRAME l|r``; ``where`` names the line in error messages."""
    parts = line.split()
    if len(parts) != 3:
        raise DatasetError(f'{where}: expected "DATE/DRIVE_sync FRAME l|r", got {line!r}')
    folder, frame, side = parts
    date, sep, drive = folder.partition('/')
    if not sep or not date or not drive or '/' in drive:
        raise DatasetError(f'{where}: expected DATE/DRIVE before the frame, got {folder!r}')
    if not frame.isdigit():
        raise DatasetError(f'{where}: frame must be a non-negative integer, got {frame!r}')
    if side not in SIDE_TO_CAMERA:
        raise DatasetError(f"{where}: side must be 'l' or 'r', got {side!r}")
    return SplitEntry(date=date, drive=drive, frame=int(frame), side=side)


def read_split_file(path: str | os.PathLike) -> list[SplitEntry]:
    """Read a split file (Eigen test split, training lists); blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such split file')
    entries = []
    for lineno, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        if line.strip():
            entries.append(parse_split_line(line, f'{path}:{lineno}'))
    if not entries:
        raise DatasetError(f'{path}: split file lists no frames')
    return entries


def write_split_file(path: str | os.PathLike, entries: Iterable[SplitEntry],
                     zero_pad: bool = True) -> Path:
    """Write split-file lines atomically."""
    return write_text(path, ''.join(e.line(zero_pad) + '\n' for e in entries))


# -- the raw layout -----------------------------------------------------------------------------

def raw_drive_dir(root: str | os.PathLike, entry: SplitEntry) -> Path:
    """``ROOT/DATE/DRIVE``."""
    return Path(root) / entry.date / entry.drive


def raw_image_path(root: str | os.PathLike, entry: SplitEntry) -> Path:
    """``ROOT/DATE/DRIVE/image_0C/data/FRAME.png`` (``.jpg`` where only a JPEG exists)."""
    base = raw_drive_dir(root, entry) / f'image_0{entry.camera}' / 'data' / f'{entry.frame:010d}'
    png = base.with_suffix('.png')
    if not png.is_file() and base.with_suffix('.jpg').is_file():
        return base.with_suffix('.jpg')
    return png


def raw_velodyne_path(root: str | os.PathLike, entry: SplitEntry) -> Path:
    """``ROOT/DATE/DRIVE/velodyne_points/data/FRAME.bin``."""
    return (raw_drive_dir(root, entry) / 'velodyne_points' / 'data'
            / f'{entry.frame:010d}.bin')


# -- the depth-benchmark layout ---------------------------------------------------------------

def benchmark_depth_path(root: str | os.PathLike, drive: str, camera: int, frame: int,
                         kind: str = 'groundtruth') -> Path:
    """``ROOT/DRIVE/proj_depth/KIND/image_0C/FRAME.png`` (``KIND``: groundtruth, velodyne_raw)."""
    return (Path(root) / drive / 'proj_depth' / kind / f'image_0{camera}'
            / f'{frame:010d}.png')


def find_benchmark_depth(root: str | os.PathLike, entry: SplitEntry,
                         kind: str = 'groundtruth') -> Path:
    """
    Find the benchmark depth PNG of a split entry.

    The benchmark splits its drives into ``train/`` and ``val/``; ``root`` may be either of
    them or the folder above them.
    """
    root = Path(root)
    candidates = [benchmark_depth_path(base, entry.drive, entry.camera, entry.frame, kind)
                  for base in (root, root / 'train', root / 'val')]
    for path in candidates:
        if path.is_file():
            return path
    raise DatasetError(f'no benchmark depth for {entry.name}: looked for {candidates[0]} '
                       '(and under train/ and val/)')


def read_benchmark_depth(path: str | os.PathLike) -> np.ndarray:
    """Read a benchmark depth PNG (uint16, value / 256 = metres, 0 = none) as float32 metres."""
    raw = read_png_unchanged(path)
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise DatasetError(f'{path}: a benchmark depth PNG is single-channel uint16, got '
                           f'{raw.dtype} with shape {raw.shape}')
    return depth_from_uint16(raw, 1.0 / BENCHMARK_UNITS_PER_METRE)


def write_benchmark_depth(path: str | os.PathLike, depth_m: np.ndarray) -> Path:
    """Write metric depth as a benchmark PNG (NaN and depth beyond 255.99 m become 0)."""
    return write_png(path, depth_to_uint16(depth_m, BENCHMARK_UNITS_PER_METRE))
