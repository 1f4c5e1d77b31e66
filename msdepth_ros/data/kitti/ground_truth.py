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
Precomputed ground truth: every sample's depth map computed once and stored in one ``.npz``.

Projecting Velodyne scans is the slow part of a KITTI evaluation; ``save_ground_truth`` writes
the maps once, and ``GroundTruthCache`` reads them back, refusing a file of another split or
pixel convention.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

from msdepth_ros.data.base import DatasetError, DepthDataset, write_atomically
import numpy as np

GT_CACHE_FORMAT = 'msdepth_ros.ground_truth.v1'


def save_ground_truth(path: str | os.PathLike, dataset: DepthDataset,
                      progress: Callable[[Iterable[int]], Iterable[int]] | None = None) -> Path:
    """
    Compute every sample's ground truth once and store it in a compressed ``.npz``.

    The file holds ``names`` (the samples' names, in order), ``ground_truth`` (the data set's
    ``gt_label``, such as ``velodyne eigen``, when it has one) and ``depth_NNNNNN``
    (``H x W`` float32 metres, NaN invalid) for each; ``GroundTruthCache`` reads it back
    without pickling. ``progress`` wraps the index range (``tqdm`` for a bar).
    """
    get_depth = getattr(dataset, 'depth_m', None) or (lambda i: dataset[i].depth_m)
    indices: Iterable[int] = range(len(dataset))
    if progress is not None:
        indices = progress(indices)
    arrays: dict[str, np.ndarray] = {
        'format': np.array(GT_CACHE_FORMAT),
        'names': np.array([dataset.sample_name(i) for i in range(len(dataset))]),
    }
    label = getattr(dataset, 'gt_label', None)
    if label is not None:
        arrays['ground_truth'] = np.array(label)
    for i in indices:
        arrays[f'depth_{i:06d}'] = np.asarray(get_depth(i), dtype=np.float32)
    return write_atomically(path, lambda tmp: np.savez_compressed(tmp, **arrays))


class GroundTruthCache:
    """
    Ground truth written by ``save_ground_truth``, read lazily.

    ``expected_names`` (the data set's sample names) must equal the stored names, and
    ``expected_ground_truth`` (``KittiRawDataset.gt_label``) the stored kind of ground truth
    (files written before it was recorded cannot hold ``velodyne eigen``): a cache of another
    split or pixel convention is an error, not a silent mismatch.
    """

    def __init__(self, path: str | os.PathLike, expected_names: Sequence[str] | None = None,
                 expected_ground_truth: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DatasetError(f'{self.path}: no such ground-truth file')
        try:
            self._npz = np.load(self.path, allow_pickle=False)
            fmt = str(self._npz['format'])
            self.names = [str(n) for n in self._npz['names']]
            self.ground_truth = (str(self._npz['ground_truth'])
                                 if 'ground_truth' in self._npz.files else None)
        except (OSError, ValueError, KeyError) as exc:
            raise DatasetError(f'{self.path}: not a ground-truth file of msdepth_ros: '
                               f'{exc}') from None
        if fmt != GT_CACHE_FORMAT:
            raise DatasetError(f'{self.path}: unknown ground-truth format {fmt!r}')
        if expected_names is not None and list(expected_names) != self.names:
            raise DatasetError(f'{self.path}: ground truth was computed for another list of '
                               f'frames ({len(self.names)} names, first '
                               f'{self.names[:1]}); the split has {len(expected_names)}')
        # Files written before the convention was recorded hold 'exact' or benchmark depth.
        stored = self.ground_truth or 'velodyne exact or benchmark'
        if expected_ground_truth is not None and (
                expected_ground_truth != self.ground_truth if self.ground_truth is not None
                else expected_ground_truth == 'velodyne eigen'):
            raise DatasetError(f'{self.path}: holds {stored} ground truth, this evaluation '
                               f'uses {expected_ground_truth}: give another file (or delete '
                               'it to have it written again)')

    def __len__(self) -> int:
        return len(self.names)

    def depth_m(self, index: int) -> np.ndarray:
        """``H x W`` float32 metres of sample ``index``."""
        key = f'depth_{index:06d}'
        if key not in self._npz.files:
            raise DatasetError(f'{self.path}: no depth for sample {index}')
        return self._npz[key]
