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


"""The sample type every data set yields, the data-set interface, and safe file I/O."""

from __future__ import annotations

import abc
import os
from pathlib import Path
from typing import Callable, NamedTuple, Sequence

import cv2
from msdepth_ros.core.intrinsics import Intrinsics
import numpy as np


class DatasetError(ValueError):
    """A data file or folder that cannot be used; the message names the file and the cause."""


class DepthSample(NamedTuple):
    """
    One training or evaluation sample.

    ``image``: ``H x W x 3`` uint8 RGB; ``depth_m``: ``H x W`` float32 metres, NaN where there
    is no ground truth; ``intrinsics``: the image's rectified pinhole camera.
    """

    image: np.ndarray
    depth_m: np.ndarray
    intrinsics: Intrinsics


class DepthDataset(abc.ABC):
    """
    A finite, indexable set of ``DepthSample``.

    ``sparse_depth`` says whether the ground truth is sparse (projected LIDAR) rather than a
    dense map; training targets are then taken from the nearest valid pixel of each output
    cell instead of its centre.
    """

    sparse_depth: bool = False

    @abc.abstractmethod
    def __len__(self) -> int:
        """Return the number of samples."""

    @abc.abstractmethod
    def __getitem__(self, index: int) -> DepthSample:
        """Load sample ``index``."""

    @abc.abstractmethod
    def sample_name(self, index: int) -> str:
        """Return a stable, human-readable name of sample ``index`` (for logs and CSV rows)."""

    def _check_index(self, index: int) -> int:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f'sample {index} of a data set of {n}')
        return index % n


class SubsetDataset(DepthDataset):
    """The samples ``indices`` of another data set, in that order."""

    def __init__(self, base: DepthDataset, indices: Sequence[int]) -> None:
        self.base = base
        self.indices = [int(i) for i in indices]
        self.sparse_depth = base.sparse_depth

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> DepthSample:
        return self.base[self.indices[self._check_index(index)]]

    def sample_name(self, index: int) -> str:
        """Return the base data set's name of the sample."""
        return self.base.sample_name(self.indices[self._check_index(index)])


def read_image_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read a colour image file as ``H x W x 3`` uint8 RGB (grey images are expanded)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such image file')
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise DatasetError(f'{path}: not a readable image (truncated or not an image)')
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_png_unchanged(path: str | os.PathLike) -> np.ndarray:
    """Read a PNG with its own dtype and channels (16-bit depth PNGs stay uint16)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such file')
    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise DatasetError(f'{path}: not a readable image (truncated or not an image)')
    return data


def write_atomically(path: str | os.PathLike, write: Callable[[Path], None]) -> Path:
    """
    Call ``write(tmp_path)`` and rename the result to ``path``.

    Nothing half-written is left at ``path`` if ``write`` fails; the temporary file keeps the
    suffix of ``path`` so that writers which pick the format from it (OpenCV, numpy) work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f'.{path.stem}.tmp{os.getpid()}{path.suffix}')
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def write_png(path: str | os.PathLike, image: np.ndarray) -> Path:
    """Write an image (uint8 RGB ``H x W x 3``, or single-channel uint8/uint16) as PNG."""
    if image.ndim == 3:
        image = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)

    def write(tmp: Path) -> None:
        if not cv2.imwrite(str(tmp), image):
            raise DatasetError(f'{path}: OpenCV could not write the PNG')
    return write_atomically(path, write)


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Write a text file atomically."""
    return write_atomically(path, lambda tmp: tmp.write_text(text, encoding='utf-8'))


def depth_from_uint16(raw: np.ndarray, metres_per_unit: float) -> np.ndarray:
    """Metric depth of a 16-bit depth image: ``raw * metres_per_unit``, 0 -> NaN (invalid)."""
    depth = raw.astype(np.float32) * np.float32(metres_per_unit)
    depth[raw == 0] = np.nan
    return depth


def depth_to_uint16(depth_m: np.ndarray, units_per_metre: float) -> np.ndarray:
    """
    16-bit depth image of metric depth: ``round(depth * units_per_metre)``.

    Invalid depth (NaN, non-positive) and depth beyond the 16-bit range become 0 (invalid).
    """
    depth = np.asarray(depth_m, dtype=np.float64)
    with np.errstate(invalid='ignore'):
        raw = np.rint(depth * units_per_metre)
        ok = np.isfinite(raw) & (raw > 0) & (raw <= 65535)
    out = np.zeros(depth.shape, dtype=np.uint16)
    out[ok] = raw[ok].astype(np.uint16)
    return out
