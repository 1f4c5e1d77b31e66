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
One description of a data set (``DataSpec``) and the function that opens it.

Training configs, ``msdepth-eval`` and the tests name data sets the same way:

====================  ============================================================  =========
kind                  what                                                          fields
====================  ============================================================  =========
``nyu_labeled``       ``nyu_depth_v2_labeled.mat`` and the official split            root
                      (``split``: train, test, all; ``splits_file``: splits.mat)
``nyu_pairs``         RGB / 16-bit mm PNG pairs: ``split`` is a CSV                 root
                      (``image_path,depth_path``) or a folder of image_N/depth_N
``kitti_raw``         raw drives + a split file (``split``), ground truth from the  root
                      Velodyne or the depth benchmark (``benchmark_root``)
``kitti_object``      the object benchmark layout (``image_2``, ``velodyne``,        root
                      ``calib``)
``synthetic``         rendered road scenes (``count``, ``seed``, ``width``,          (none)
                      ``height``)
====================  ============================================================  =========
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from msdepth_ros.data.base import DatasetError, DepthDataset, SubsetDataset
from msdepth_ros.data.kitti import (GT_PIXEL_CONVENTIONS, KittiObjectDataset,
                                    KittiRawDataset, read_split_file)
from msdepth_ros.data.nyu import NyuLabeledDataset, NyuPairsDataset
from msdepth_ros.data.synthetic import SyntheticRoadDataset

DATASET_KINDS = ('nyu_labeled', 'nyu_pairs', 'kitti_raw', 'kitti_object', 'synthetic')


@dataclass(frozen=True)
class DataSpec:
    """
    Which data set to open, and how.

    Attributes
    ----------
    kind:
        One of ``DATASET_KINDS``.
    root:
        Folder or file of the data (see the table in the module docstring).
    split:
        NYU labeled: ``train``/``test``/``all``; NYU pairs: a CSV file or a folder (relative
        paths are relative to ``root``); KITTI raw: a split file.
    splits_file:
        NYU labeled: ``splits.mat`` (default: beside the ``.mat``).
    ground_truth:
        KITTI raw: ``velodyne`` or ``benchmark``.
    benchmark_root:
        KITTI raw with ``benchmark`` ground truth: the benchmark's folder.
    gt_cache:
        KITTI raw: a ground-truth file written by ``save_ground_truth`` for this split.
    gt_pixels:
        KITTI raw, Velodyne ground truth: pixel convention, ``exact`` or ``eigen``
        (``data.kitti.GT_PIXEL_CONVENTIONS``).
    count, seed, width, height, length_m:
        Synthetic scenes.
    cache_size:
        Synthetic scenes: rendered samples each process keeps in memory (about 1.9 MB each at
        621 x 188); a training set no larger than this is rendered once per data-loading worker
        and stage.
    skip_missing:
        KITTI raw: drop split entries whose image or ground truth is missing.
    limit:
        Use only the first ``limit`` samples (0: all).

    """

    kind: str
    root: str = ''
    split: str = ''
    splits_file: str = ''
    ground_truth: str = 'velodyne'
    benchmark_root: str = ''
    gt_cache: str = ''
    gt_pixels: str = 'exact'
    count: int = 64
    seed: int = 0
    width: int = 621
    height: int = 188
    length_m: float = 30.0
    cache_size: int = 256
    skip_missing: bool = False
    limit: int = 0

    def __post_init__(self) -> None:
        if self.kind not in DATASET_KINDS:
            raise DatasetError(f'data set kind must be one of {DATASET_KINDS}, got '
                               f'{self.kind!r}')
        if self.kind != 'synthetic' and not self.root:
            raise DatasetError(f'data set {self.kind!r} needs a root')
        if self.cache_size < 0:
            raise DatasetError(f'cache_size must be >= 0, got {self.cache_size}')
        if self.limit < 0:
            raise DatasetError(f'limit must be >= 0, got {self.limit}')
        if self.gt_pixels not in GT_PIXEL_CONVENTIONS:
            raise DatasetError(f'gt_pixels must be one of {GT_PIXEL_CONVENTIONS}, got '
                               f'{self.gt_pixels!r}')


def _under(root: Path, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() or path.exists() else root / path


def open_dataset(spec: DataSpec) -> DepthDataset:
    """Open the data set ``spec`` describes (files are read lazily, per sample)."""
    root = Path(spec.root)
    dataset: DepthDataset
    if spec.kind == 'synthetic':
        dataset = SyntheticRoadDataset(spec.count, seed=spec.seed, width=spec.width,
                                       height=spec.height, length_m=spec.length_m,
                                       cache_size=spec.cache_size)
    elif spec.kind == 'nyu_labeled':
        mat = root if root.suffix == '.mat' else root / 'nyu_depth_v2_labeled.mat'
        splits = _under(root if root.is_dir() else root.parent, spec.splits_file) \
            if spec.splits_file else None
        dataset = NyuLabeledDataset(mat, split=spec.split or 'test', splits_path=splits)
    elif spec.kind == 'nyu_pairs':
        source = _under(root, spec.split) if spec.split else root
        if source.is_dir():
            dataset = NyuPairsDataset.from_folder(source)
        else:
            dataset = NyuPairsDataset.from_csv(source, root=root if root.is_dir() else None)
    elif spec.kind == 'kitti_raw':
        if not spec.split:
            raise DatasetError('kitti_raw needs a split file (split)')
        entries = read_split_file(_under(root, spec.split))
        if spec.limit:
            # Limit before opening, so that a ground-truth cache of the limited list fits.
            entries = entries[:spec.limit]
        dataset = KittiRawDataset(
            root, entries, ground_truth=spec.ground_truth,
            benchmark_root=spec.benchmark_root or None, gt_cache=spec.gt_cache or None,
            skip_missing=spec.skip_missing, pixel_convention=spec.gt_pixels)
    else:
        dataset = KittiObjectDataset(root)
    if spec.limit and spec.limit < len(dataset):
        dataset = SubsetDataset(dataset, range(spec.limit))
    return dataset
