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
NYU Depth v2: the labeled ``.mat`` with the official split, and RGB/depth PNG pairs.

- ``nyu_depth_v2_labeled.mat`` (MATLAB 7.3, HDF5): ``images`` (1449, 3, 640, 480) uint8 and
  ``depths`` (1449, 640, 480) float metres, as h5py sees them (MATLAB's column-major arrays with
  the dimensions reversed), so a frame is transposed to ``480 x 640``. The official split is
  ``splits.mat`` (``trainNdxs``: 795, ``testNdxs``: 654 one-based indices).
- Pairs of an RGB image and a 16-bit PNG of depth in millimetres (0 = none), listed in a CSV
  of ``image_path,depth_path`` rows (the format of the widely used preprocessed NYU training
  set) or found in a folder as ``image_N.png`` / ``depth_N.png``.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
import re
from typing import Any, Sequence

from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.data.base import (DatasetError, depth_from_uint16, DepthDataset, DepthSample,
                                   read_image_rgb, read_png_unchanged, write_atomically)
from msdepth_ros.data.matlab import read_mat_arrays
import numpy as np

#: The Kinect colour camera of NYU Depth v2 at 640x480 (the data set's toolbox,
#: ``camera_params.m``: fx_rgb, fy_rgb, cx_rgb, cy_rgb).
NYU_INTRINSICS = Intrinsics(fx_px=518.8579, fy_px=519.4696, cx_px=325.5824, cy_px=253.7362,
                            width=640, height=480)

NYU_SPLITS = ('train', 'test', 'all')
NYU_SPLIT_KEYS = {'train': 'trainNdxs', 'test': 'testNdxs'}


def read_nyu_splits(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """
    Read the official split (``splits.mat``).

    Returns ``{'train': ..., 'test': ...}``: sorted zero-based int64 indices into the labeled
    set (the file stores one-based MATLAB indices).
    """
    path = Path(path)
    arrays = read_mat_arrays(path, list(NYU_SPLIT_KEYS.values()))
    out = {}
    for split, key in NYU_SPLIT_KEYS.items():
        values = np.asarray(arrays[key], dtype=np.float64).reshape(-1)
        if values.size == 0 or np.any(values < 1) or np.any(values != np.round(values)):
            raise DatasetError(f'{path}: {key} must hold positive whole (one-based) indices')
        out[split] = np.sort(values.astype(np.int64) - 1)
    if np.intersect1d(out['train'], out['test']).size:
        raise DatasetError(f'{path}: trainNdxs and testNdxs overlap')
    return out


class NyuLabeledDataset(DepthDataset):
    """
    The labeled NYU Depth v2 set (``nyu_depth_v2_labeled.mat``), or one split of it.

    Parameters
    ----------
    mat_path:
        The labeled ``.mat`` file (HDF5).
    split:
        ``train`` (795 images), ``test`` (654) or ``all``.
    splits_path:
        ``splits.mat``; by default the one beside ``mat_path``.
    intrinsics:
        Camera of the images (the toolbox's colour camera by default).

    """

    def __init__(self, mat_path: str | os.PathLike, split: str = 'test',
                 splits_path: str | os.PathLike | None = None,
                 intrinsics: Intrinsics = NYU_INTRINSICS) -> None:
        import h5py
        self.mat_path = Path(mat_path)
        if split not in NYU_SPLITS:
            raise DatasetError(f'NYU split must be one of {NYU_SPLITS}, got {split!r}')
        if not self.mat_path.is_file():
            raise DatasetError(f'{self.mat_path}: no such file')
        try:
            with h5py.File(self.mat_path, 'r') as f:
                shapes = {k: f[k].shape for k in ('images', 'depths') if k in f}
                image_dtype = f['images'].dtype if 'images' in f else None
        except OSError as exc:
            raise DatasetError(f'{self.mat_path}: not an HDF5 (MATLAB 7.3) file: '
                               f'{exc}') from None
        for key in ('images', 'depths'):
            if key not in shapes:
                raise DatasetError(f'{self.mat_path}: no {key!r} variable')
        n, w, h = shapes['depths']
        if shapes['images'] != (n, 3, w, h) or image_dtype != np.uint8:
            raise DatasetError(f'{self.mat_path}: images must be uint8 (N, 3, W, H) matching '
                               f'depths (N, W, H) = {shapes["depths"]}, got '
                               f'{image_dtype} {shapes["images"]}')
        if intrinsics.size != (w, h):
            raise DatasetError(f'{self.mat_path}: images are {w}x{h}, the intrinsics are for '
                               f'{intrinsics.width}x{intrinsics.height}')
        self.intrinsics = intrinsics
        if split == 'all':
            self.indices = np.arange(n)
        else:
            splits_path = Path(splits_path) if splits_path else self.mat_path.with_name(
                'splits.mat')
            self.indices = read_nyu_splits(splits_path)[split]
            if self.indices.size and self.indices[-1] >= n:
                raise DatasetError(f'{splits_path}: index {self.indices[-1] + 1} is beyond '
                                   f'the {n} images of {self.mat_path}')
        self.split = split
        self._file = None
        self._pid = None

    def __len__(self) -> int:
        return int(self.indices.size)

    def sample_name(self, index: int) -> str:
        """Return the one-based index in the labeled set (as ``splits.mat`` counts)."""
        return f'nyu_labeled_{int(self.indices[self._check_index(index)]) + 1:04d}'

    def _h5(self) -> Any:  # an h5py.File; h5py is imported lazily
        # h5py handles do not survive fork: each DataLoader worker opens its own.
        if self._file is None or self._pid != os.getpid():
            import h5py
            self._file = h5py.File(self.mat_path, 'r')
            self._pid = os.getpid()
        return self._file

    def __getitem__(self, index: int) -> DepthSample:
        i = int(self.indices[self._check_index(index)])
        f = self._h5()
        image = np.ascontiguousarray(np.asarray(f['images'][i]).transpose(2, 1, 0))
        depth = np.asarray(f['depths'][i], dtype=np.float32).T.copy()
        with np.errstate(invalid='ignore'):
            depth[~(depth > 0)] = np.nan
        return DepthSample(image, depth, self.intrinsics)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state['_file'] = None
        return state


class NyuPairsDataset(DepthDataset):
    """
    RGB images with 16-bit depth PNGs.

    Parameters
    ----------
    pairs:
        ``(image_path, depth_path)`` of each sample.
    intrinsics:
        Camera of the images (all the same size).
    metres_per_unit:
        Depth PNG unit; 0.001 (millimetres) for the NYU PNGs. 0 in a PNG is no depth.

    """

    def __init__(self, pairs: Sequence[tuple[str | os.PathLike, str | os.PathLike]],
                 intrinsics: Intrinsics = NYU_INTRINSICS, metres_per_unit: float = 1e-3) -> None:
        self.pairs = [(Path(a), Path(b)) for a, b in pairs]
        if not self.pairs:
            raise DatasetError('no image/depth pairs')
        self.intrinsics = intrinsics
        self.metres_per_unit = float(metres_per_unit)

    @classmethod
    def from_csv(cls, csv_path: str | os.PathLike, root: str | os.PathLike | None = None,
                 **kwargs: object) -> NyuPairsDataset:
        """
        Read ``image_path,depth_path`` rows; relative paths are relative to ``root``.

        ``root`` defaults to the CSV's folder. A header row (``image_path,depth_path``) and
        blank lines are skipped.
        """
        csv_path = Path(csv_path)
        if not csv_path.is_file():
            raise DatasetError(f'{csv_path}: no such CSV file')
        base = Path(root) if root is not None else csv_path.parent
        pairs = []
        with open(csv_path, newline='', encoding='utf-8') as f:
            for lineno, row in enumerate(csv.reader(f), 1):
                row = [c.strip() for c in row]
                if not row or not any(row):
                    continue
                if len(row) != 2:
                    raise DatasetError(f'{csv_path}:{lineno}: expected image_path,depth_path, '
                                       f'got {len(row)} fields')
                if lineno == 1 and row[0].lower() in ('image_path', 'image', 'rgb'):
                    continue
                pairs.append((base / row[0], base / row[1]))
        if not pairs:
            raise DatasetError(f'{csv_path}: lists no pairs')
        return cls(pairs, **kwargs)

    @classmethod
    def from_folder(cls, folder: str | os.PathLike, **kwargs: object) -> NyuPairsDataset:
        """Pair ``image_N.png`` with ``depth_N.png`` in ``folder`` (sorted by ``N``)."""
        folder = Path(folder)
        if not folder.is_dir():
            raise DatasetError(f'{folder}: no such folder')
        pairs = []
        for image in folder.glob('image_*.png'):
            m = re.fullmatch(r'image_(\d+)\.png', image.name)
            if m is None:
                continue
            depth = folder / f'depth_{m.group(1)}.png'
            if not depth.is_file():
                raise DatasetError(f'{image}: no matching {depth.name}')
            pairs.append((int(m.group(1)), image, depth))
        if not pairs:
            raise DatasetError(f'{folder}: no image_N.png / depth_N.png pairs')
        return cls([(a, b) for _, a, b in sorted(pairs)], **kwargs)

    def __len__(self) -> int:
        return len(self.pairs)

    def sample_name(self, index: int) -> str:
        """Return the image file's name without extension."""
        return self.pairs[self._check_index(index)][0].stem

    def depth_m(self, index: int) -> np.ndarray:
        """Depth of sample ``index`` in metres, NaN where the PNG holds 0."""
        path = self.pairs[self._check_index(index)][1]
        raw = read_png_unchanged(path)
        if raw.ndim != 2 or raw.dtype != np.uint16:
            raise DatasetError(f'{path}: expected a single-channel 16-bit depth PNG, got '
                               f'{raw.dtype} with shape {raw.shape}')
        return depth_from_uint16(raw, self.metres_per_unit)

    def __getitem__(self, index: int) -> DepthSample:
        index = self._check_index(index)
        image_path = self.pairs[index][0]
        image = read_image_rgb(image_path)
        depth = self.depth_m(index)
        h, w = image.shape[:2]
        if depth.shape != (h, w):
            raise DatasetError(f'{self.pairs[index][1]}: depth is {depth.shape[1]}x'
                               f'{depth.shape[0]}, the image {w}x{h}')
        if self.intrinsics.size != (w, h):
            raise DatasetError(f'{image_path}: image is {w}x{h}, the intrinsics are for '
                               f'{self.intrinsics.width}x{self.intrinsics.height}')
        return DepthSample(image, depth, self.intrinsics)


def write_pairs_csv(path: str | os.PathLike,
                    pairs: Sequence[tuple[str | os.PathLike, str | os.PathLike]],
                    root: str | os.PathLike | None = None) -> Path:
    """Write an ``image_path,depth_path`` CSV (paths relative to ``root`` when given)."""
    def rel(p: str | os.PathLike) -> str:
        return os.path.relpath(p, root) if root is not None else str(p)

    def write(tmp: Path) -> None:
        with open(tmp, 'w', newline='', encoding='utf-8') as f:
            writer = csv.writer(f)
            writer.writerow(['image_path', 'depth_path'])
            for a, b in pairs:
                writer.writerow([rel(a), rel(b)])
    return write_atomically(path, write)
