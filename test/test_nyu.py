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


"""NYU Depth v2: the labeled .mat and splits.mat in their real formats, and PNG pairs."""

import h5py
from msdepth_ros.data.base import DatasetError, write_png
from msdepth_ros.data.nyu import (NYU_INTRINSICS, NyuLabeledDataset, NyuPairsDataset,
                                  read_nyu_splits, write_pairs_csv)
from msdepth_ros.data.registry import DataSpec, open_dataset
import numpy as np
import pytest
import scipy.io

N_IMAGES = 5
TRAIN_1BASED = [1, 3, 5]
TEST_1BASED = [2, 4]


def _frame(i):
    """Image i: R = row, G = column, B = i; depth = 1 + row / 100 + column / 1000 + i."""
    rows, cols = np.mgrid[0:480, 0:640]
    image = np.stack([rows % 256, cols % 256, np.full_like(rows, i)], axis=-1).astype(np.uint8)
    depth = (1.0 + rows / 100.0 + cols / 1000.0 + i).astype(np.float32)
    return image, depth


def _write_labeled_mat(path):
    """Write a MATLAB 7.3 file as MATLAB does: a 512-byte user block, then HDF5."""
    with h5py.File(path, 'w', userblock_size=512) as f:
        # h5py sees MATLAB's 480x640x3xN array as (N, 3, 640, 480)
        images = f.create_dataset('images', (N_IMAGES, 3, 640, 480), dtype=np.uint8)
        depths = f.create_dataset('depths', (N_IMAGES, 640, 480), dtype=np.float32)
        for i in range(N_IMAGES):
            image, depth = _frame(i)
            images[i] = image.transpose(2, 1, 0)
            depths[i] = depth.T
    with open(path, 'r+b') as f:
        f.write(b'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Sep 27 2011 HDF5 '
                b'schema 1.00 .')


@pytest.fixture()
def labeled(tmp_path):
    mat = tmp_path / 'nyu_depth_v2_labeled.mat'
    _write_labeled_mat(mat)
    # splits.mat is a MATLAB 5 file with 795x1 / 654x1 double columns of one-based indices
    scipy.io.savemat(tmp_path / 'splits.mat',
                     {'trainNdxs': np.array(TRAIN_1BASED, dtype=float)[:, None],
                      'testNdxs': np.array(TEST_1BASED, dtype=float)[:, None]},
                     do_compression=True)
    return mat


def test_labeled_mat_and_official_split(labeled):
    assert h5py.is_hdf5(labeled)
    test = NyuLabeledDataset(labeled, split='test')
    assert len(test) == 2
    assert [test.sample_name(i) for i in range(2)] == ['nyu_labeled_0002', 'nyu_labeled_0004']
    for k, i in enumerate(np.array(TEST_1BASED) - 1):
        image, depth, intrinsics = test[k]
        expected_image, expected_depth = _frame(i)
        assert image.shape == (480, 640, 3) and image.dtype == np.uint8
        np.testing.assert_array_equal(image, expected_image)
        np.testing.assert_array_equal(depth, expected_depth)
        assert intrinsics == NYU_INTRINSICS
    assert len(NyuLabeledDataset(labeled, split='train')) == 3
    assert len(NyuLabeledDataset(labeled, split='all')) == N_IMAGES
    spec = DataSpec('nyu_labeled', root=str(labeled), split='train')
    assert open_dataset(spec).sample_name(2) == 'nyu_labeled_0005'


@pytest.mark.parametrize('fmt', ['mat5', 'mat5-uncompressed', 'hdf5'])
def test_splits_mat_in_every_format(tmp_path, fmt):
    path = tmp_path / 'splits.mat'
    train = np.array(TRAIN_1BASED, dtype=float)[:, None]
    test = np.array(TEST_1BASED, dtype=float)[:, None]
    if fmt == 'hdf5':
        with h5py.File(path, 'w') as f:  # MATLAB 7.3 stores the columns as (1, N)
            f['trainNdxs'] = train.T
            f['testNdxs'] = test.T
    else:
        scipy.io.savemat(path, {'trainNdxs': train, 'testNdxs': test},
                         do_compression=fmt == 'mat5')
    splits = read_nyu_splits(path)
    np.testing.assert_array_equal(splits['train'], [0, 2, 4])
    np.testing.assert_array_equal(splits['test'], [1, 3])


def test_bad_files_name_the_file_and_cause(tmp_path, labeled):
    bad = tmp_path / 'bad_splits.mat'
    scipy.io.savemat(bad, {'trainIdx': np.ones((2, 1))})
    with pytest.raises(DatasetError, match=r"bad_splits.mat: no numeric variable \['trainNdxs'"):
        read_nyu_splits(bad)
    with pytest.raises(DatasetError, match='neither a MATLAB 5 nor an HDF5'):
        (tmp_path / 'junk.mat').write_bytes(b'x' * 200)
        read_nyu_splits(tmp_path / 'junk.mat')
    with pytest.raises(DatasetError, match='split must be one of'):
        NyuLabeledDataset(labeled, split='val')
    with h5py.File(tmp_path / 'nodepth.mat', 'w') as f:
        f['images'] = np.zeros((1, 3, 640, 480), dtype=np.uint8)
    with pytest.raises(DatasetError, match="nodepth.mat: no 'depths' variable"):
        NyuLabeledDataset(tmp_path / 'nodepth.mat', split='all')


def test_real_nyu_pairs_read_in_metres(shared_data, tmp_path):
    folder = shared_data / 'nyu_mini'
    dataset = NyuPairsDataset.from_folder(folder)
    assert len(dataset) == 8 and dataset.sample_name(0) == 'image_0'
    for i in range(len(dataset)):
        image, depth, intrinsics = dataset[i]
        assert image.shape == (480, 640, 3) and depth.dtype == np.float32
        valid = depth[np.isfinite(depth)]
        assert valid.size > 0.9 * depth.size
        assert 0.3 < valid.min() and valid.max() < 10.5 and 1.0 < np.median(valid) < 6.0
        assert intrinsics == NYU_INTRINSICS
    # the same pairs through a CSV with a header and paths relative to the CSV
    csv_path = write_pairs_csv(tmp_path / 'pairs.csv', dataset.pairs[:3])
    from_csv = NyuPairsDataset.from_csv(csv_path)
    assert len(from_csv) == 3
    np.testing.assert_array_equal(from_csv[2].depth_m, dataset[2].depth_m)


def test_pairs_csv_relative_paths_and_errors(tmp_path):
    image = np.zeros((480, 640, 3), dtype=np.uint8)
    raw = np.full((480, 640), 2500, dtype=np.uint16)
    raw[0, 0] = 0
    write_png(tmp_path / 'data' / 'a.png', image)
    write_png(tmp_path / 'data' / 'a_depth.png', raw)
    write_png(tmp_path / 'data' / 'b_depth.png', raw.astype(np.uint8))
    (tmp_path / 'list.csv').write_text('data/a.png,data/a_depth.png\n\n'
                                       'data/a.png,data/b_depth.png\n')
    dataset = NyuPairsDataset.from_csv(tmp_path / 'list.csv')
    depth = dataset[0].depth_m
    assert np.isnan(depth[0, 0]) and depth[1, 1] == pytest.approx(2.5)
    with pytest.raises(DatasetError, match='b_depth.png: expected a single-channel 16-bit'):
        dataset[1]
    (tmp_path / 'bad.csv').write_text('a.png,b.png,c.png\n')
    with pytest.raises(DatasetError, match=r'bad.csv:1: expected image_path,depth_path'):
        NyuPairsDataset.from_csv(tmp_path / 'bad.csv')


# -- the paper's masking of each image's minimum and maximum depth ------------------------------

def test_min_max_masking_uses_the_recorded_image_not_the_cropped_capped_target():
    import torch
    from msdepth_ros.core.preprocess import plan_input
    from msdepth_ros.core.presets import NYU
    from msdepth_ros.data.augment import make_example, mask_recorded_extremes
    from msdepth_ros.model.loss import valid_depth_mask
    # A room from 1.0 m (left edge, outside the network's crop) to 9.0 m, with a window whose
    # sensor reading is 12 m (beyond the 10 m cut) in the top rows.
    depth = np.tile(np.linspace(1.0, 9.0, 640, dtype=np.float32), (480, 1))
    depth[:4, 300:340] = 12.0
    image = np.zeros((480, 640, 3), np.uint8)
    plan = plan_input(640, 480, NYU)
    plain = make_example(image, depth, NYU_INTRINSICS, plan, normalize_focal=False)
    new = make_example(image, depth, NYU_INTRINSICS, plan, normalize_focal=False,
                       mask_extremes=True)
    # Neither extreme reaches the target (crop, 10 m cut): every target pixel is a valid
    # recorded depth, and the recorded-image rule keeps all of them.
    assert np.isfinite(plain.target_depth_m).all()
    assert plain.target_depth_m.min() > 1.0 and plain.target_depth_m.max() < 9.0
    np.testing.assert_array_equal(new.target_depth_m, plain.target_depth_m)
    # The old rule (the target's own extremes, after crop and cut) drops valid depths.
    old = valid_depth_mask(torch.from_numpy(plain.target_depth_m)[None, None],
                           mask_min_max=True)[0, 0].numpy()
    assert (~old).sum() == 2 * plain.target_depth_m.shape[0]  # its first and last columns
    # What the recorded-image rule drops: exactly the recorded minimum and maximum.
    masked = mask_recorded_extremes(depth)
    dropped = np.isnan(masked)
    assert (dropped == ((depth == 1.0) | (depth == 12.0))).all() and dropped.sum() == 480 + 160
    assert np.array_equal(masked[~dropped], depth[~dropped])


def test_min_max_masking_of_real_nyu_depth(shared_data):
    from msdepth_ros.data.augment import mask_recorded_extremes
    dataset = NyuPairsDataset.from_folder(shared_data / 'nyu_mini')
    for i in range(len(dataset)):
        depth = dataset.depth_m(i)
        valid = np.isfinite(depth)
        lo, hi = depth[valid].min(), depth[valid].max()
        masked = mask_recorded_extremes(depth)
        assert np.array_equal(np.isnan(masked), ~valid | (depth == lo) | (depth == hi))
        assert 0 < (valid & np.isnan(masked)).sum() < 0.2 * valid.sum()
