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
KITTI data sets: the raw layout's frames listed by a split, and the object-benchmark layout.

Both project Velodyne ground truth through ``velodyne.lidar_depth_image``; the raw layout can
read the depth benchmark's PNGs instead, or a file of precomputed ground truth.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.data.base import DatasetError, DepthDataset, DepthSample, read_image_rgb
from msdepth_ros.data.kitti.calibration import KittiCalibration
from msdepth_ros.data.kitti.ground_truth import GroundTruthCache
from msdepth_ros.data.kitti.layout import (find_benchmark_depth, raw_image_path, raw_velodyne_path,
                                           read_benchmark_depth, read_split_file, SplitEntry)
from msdepth_ros.data.kitti.velodyne import (GT_PIXEL_CONVENTIONS, lidar_depth_image,
                                             read_velodyne_points)
import numpy as np

GROUND_TRUTH_SOURCES = ('velodyne', 'benchmark')


class KittiRawDataset(DepthDataset):
    """
    Frames of the KITTI raw data set listed by a split.

    Parameters
    ----------
    root:
        Folder that holds the recording days (``ROOT/2011_09_26/calib_cam_to_cam.txt`` ...).
    entries:
        The frames: a split file's path or ``SplitEntry`` objects.
    ground_truth:
        ``velodyne``: project the frame's Velodyne scan (``lidar_depth_image``);
        ``benchmark``: read the depth benchmark's PNG under ``benchmark_root``.
    benchmark_root:
        Folder of the depth benchmark's drive folders (for ``ground_truth='benchmark'``).
    gt_cache:
        A file written by ``save_ground_truth`` for these entries: its depth maps are used
        instead of projecting or reading again.
    skip_missing:
        Drop the entries whose image or ground truth is missing (the depth benchmark has no
        ground truth for the first and last frames of a drive) instead of failing on them;
        ``skipped`` lists them.
    pixel_convention:
        Velodyne ground truth: ``exact`` (training, online evaluation) or ``eigen`` (the
        published tables' pixels, one up and left; see ``GT_PIXEL_CONVENTIONS``).

    """

    sparse_depth = True

    def __init__(self, root: str | os.PathLike, entries: str | os.PathLike | Sequence[SplitEntry],
                 ground_truth: str = 'velodyne', benchmark_root: str | os.PathLike | None = None,
                 gt_cache: str | os.PathLike | None = None, skip_missing: bool = False,
                 pixel_convention: str = 'exact') -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetError(f'{self.root}: no such KITTI raw data folder')
        if isinstance(entries, (str, os.PathLike)):
            entries = read_split_file(entries)
        self.entries = list(entries)
        if ground_truth not in GROUND_TRUTH_SOURCES:
            raise DatasetError(f'ground_truth must be one of {GROUND_TRUTH_SOURCES}, got '
                               f'{ground_truth!r}')
        if ground_truth == 'benchmark' and benchmark_root is None:
            raise DatasetError("ground_truth 'benchmark' needs benchmark_root")
        self.ground_truth = ground_truth
        if pixel_convention not in GT_PIXEL_CONVENTIONS:
            raise DatasetError(f'pixel_convention must be one of {GT_PIXEL_CONVENTIONS}, got '
                               f'{pixel_convention!r}')
        self.pixel_convention = pixel_convention
        self.benchmark_root = Path(benchmark_root) if benchmark_root is not None else None
        self._calibrations: dict[str, KittiCalibration] = {}
        self.skipped: list[SplitEntry] = []
        if skip_missing:
            kept = [e for e in self.entries if self._has_files(e)]
            self.skipped = [e for e in self.entries if e not in set(kept)]
            self.entries = kept
            if not self.entries:
                raise DatasetError(f'{self.root}: no frame of the split has its files')
        self._cache = (GroundTruthCache(gt_cache, [e.name for e in self.entries],
                                        self.gt_label)
                       if gt_cache is not None else None)

    @property
    def gt_label(self) -> str:
        """Name the ground truth: ``benchmark``, ``velodyne exact`` or ``velodyne eigen``."""
        if self.ground_truth == 'benchmark':
            return 'benchmark'
        return f'velodyne {self.pixel_convention}'

    def _has_files(self, entry: SplitEntry) -> bool:
        if not raw_image_path(self.root, entry).is_file():
            return False
        if self.ground_truth == 'velodyne':
            return raw_velodyne_path(self.root, entry).is_file()
        try:
            find_benchmark_depth(self.benchmark_root, entry)
        except DatasetError:
            return False
        return True

    def __len__(self) -> int:
        return len(self.entries)

    def sample_name(self, index: int) -> str:
        """Return the split line of sample ``index``."""
        return self.entries[self._check_index(index)].name

    def calibration(self, date: str) -> KittiCalibration:
        """Calibration of a recording day (read once)."""
        if date not in self._calibrations:
            self._calibrations[date] = KittiCalibration.from_raw_dir(self.root / date)
        return self._calibrations[date]

    def intrinsics(self, index: int) -> Intrinsics:
        """Rectified intrinsics of sample ``index``'s camera."""
        entry = self.entries[self._check_index(index)]
        return self.calibration(entry.date).intrinsics(entry.camera)

    def depth_m(self, index: int) -> np.ndarray:
        """Ground-truth depth of sample ``index`` (without reading its image)."""
        index = self._check_index(index)
        entry = self.entries[index]
        if self._cache is not None:
            return self._cache.depth_m(index)
        if self.ground_truth == 'benchmark':
            return read_benchmark_depth(find_benchmark_depth(self.benchmark_root, entry))
        points = read_velodyne_points(raw_velodyne_path(self.root, entry))
        return lidar_depth_image(points, self.calibration(entry.date), entry.camera,
                                 self.pixel_convention)

    def __getitem__(self, index: int) -> DepthSample:
        index = self._check_index(index)
        entry = self.entries[index]
        path = raw_image_path(self.root, entry)
        image = read_image_rgb(path)
        intrinsics = self.intrinsics(index)
        depth = self.depth_m(index)
        _check_sizes(path, image, depth, intrinsics)
        return DepthSample(image, depth, intrinsics)


class KittiObjectDataset(DepthDataset):
    """
    Frames of the KITTI object benchmark layout (``image_2``, ``velodyne``, ``calib``).

    Ground truth is the Velodyne scan projected into camera 2 through the same code as the raw
    layout, with the frame's own calibration (``KittiCalibration.from_object_file``).
    """

    sparse_depth = True

    def __init__(self, root: str | os.PathLike, frame_ids: Sequence[int] | None = None) -> None:
        self.root = Path(root)
        if not (self.root / 'image_2').is_dir():
            raise DatasetError(f'{self.root}: not a KITTI object layout (no image_2 folder)')
        if frame_ids is None:
            frame_ids = sorted(int(p.stem) for p in (self.root / 'image_2').glob('*.png')
                               if p.stem.isdigit())
        self.frame_ids = [int(i) for i in frame_ids]
        if not self.frame_ids:
            raise DatasetError(f'{self.root}/image_2: no frames')

    def __len__(self) -> int:
        return len(self.frame_ids)

    def sample_name(self, index: int) -> str:
        """Return the frame's six-digit id."""
        return f'{self.frame_ids[self._check_index(index)]:06d}'

    def calibration(self, index: int, image_size: tuple[int, int]) -> KittiCalibration:
        """Calibration of frame ``index`` for images of ``image_size`` (width, height)."""
        name = self.sample_name(index)
        return KittiCalibration.from_object_file(self.root / 'calib' / f'{name}.txt',
                                                 image_size)

    def __getitem__(self, index: int) -> DepthSample:
        name = self.sample_name(index)
        path = self.root / 'image_2' / f'{name}.png'
        image = read_image_rgb(path)
        calib = self.calibration(index, (image.shape[1], image.shape[0]))
        points = read_velodyne_points(self.root / 'velodyne' / f'{name}.bin')
        depth = lidar_depth_image(points, calib, 2)
        return DepthSample(image, depth, calib.intrinsics(2))


def _check_sizes(path: Path, image: np.ndarray, depth: np.ndarray,
                 intrinsics: Intrinsics) -> None:
    h, w = image.shape[:2]
    if (w, h) != intrinsics.size:
        raise DatasetError(f'{path}: image is {w}x{h}, the calibration says '
                           f'{intrinsics.width}x{intrinsics.height}')
    if depth.shape != (h, w):
        raise DatasetError(f'{path}: ground truth is {depth.shape[1]}x{depth.shape[0]}, the '
                           f'image {w}x{h}')
