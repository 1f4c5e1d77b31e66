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
KITTI: calibration, LIDAR ground truth, split files and layouts.

On the real samples, and on drives that the synthetic writer produces in the real formats.
"""

from collections import Counter
from pathlib import Path

from msdepth_ros.core.camera import backproject, project
from msdepth_ros.core.transforms import apply
from msdepth_ros.data.base import DatasetError
from msdepth_ros.data.kitti import (find_benchmark_depth, format_calib_entries, GroundTruthCache,
                                    KittiCalibration, KittiObjectDataset, KittiRawDataset,
                                    lidar_depth_image, parse_split_line, parse_timestamp_line,
                                    read_benchmark_depth, read_calib_file, read_split_file,
                                    read_velodyne_points, save_ground_truth, SplitEntry)
from msdepth_ros.data.kitti_writer import (reference_calibration, reference_calibration_entries,
                                           render_camera, SyntheticDriveConfig,
                                           write_synthetic_drive)
from msdepth_ros.data.registry import DataSpec, open_dataset
import numpy as np
import pytest

RAW_DATE = '2011_09_26'


def _devkit_projection(p_rect, r_rect, t_velo_to_cam, points):
    """Project with the development kit's chain, P_rect_0i @ R_rect_00 @ T_velo_to_cam."""
    r = np.eye(4)
    r[:3, :3] = np.reshape(r_rect, (3, 3))
    t = np.eye(4)
    t[:3, :] = np.reshape(t_velo_to_cam, (3, 4))
    hom = np.hstack([points[:, :3], np.ones((len(points), 1))])
    x = (np.reshape(p_rect, (3, 4)) @ r @ t @ hom.T).T
    return x[:, :2] / x[:, 2:3], x[:, 2]


def _check_ground_truth_against_points(depth, points_cam, intrinsics):
    """Every ground-truth pixel back-projects onto the nearest point that landed on it."""
    v, u = np.nonzero(np.isfinite(depth))
    back = backproject(depth, intrinsics)[v, u].astype(np.float64)
    uv, z = project(points_cam, intrinsics)
    pu, pv = np.rint(uv[:, 0]), np.rint(uv[:, 1])
    keep = (z > 0) & (pu >= 0) & (pu < intrinsics.width) & (pv >= 0) & (pv < intrinsics.height)
    pix = (pv[keep] * intrinsics.width + pu[keep]).astype(np.int64)
    pts, zk = points_cam[keep], z[keep]
    order = np.lexsort((zk, pix))  # by pixel, nearest first
    first = order[np.r_[True, pix[order][1:] != pix[order][:-1]]]
    nearest = dict(zip(pix[first].tolist(), pts[first]))
    target = np.array([nearest[int(p)] for p in v * intrinsics.width + u])
    # same depth, and the ray of the pixel centre passes within half a pixel of the point
    np.testing.assert_allclose(back[:, 2], target[:, 2], rtol=1e-6)
    half_pixel = 0.5 * np.sqrt(2) * target[:, 2] / min(intrinsics.fx_px, intrinsics.fy_px)
    assert np.all(np.linalg.norm(back - target, axis=1) <= half_pixel * 1.001 + 1e-6)
    return len(v)


# -- real samples ------------------------------------------------------------------------------

def test_raw_calibration_reads_the_real_files(shared_data):
    calib = KittiCalibration.from_raw_dir(shared_data / 'kitti_raw_mini' / RAW_DATE)
    k2 = calib.intrinsics(2)
    assert (k2.fx_px, k2.cx_px, k2.cy_px, k2.size) == (721.5377, 609.5593, 172.854, (1242, 375))
    # the stereo baseline that P_rect_02/03 encode: about 0.54 m, camera 3 right of camera 2
    assert 0.53 < calib.baseline_m(2, 3) < 0.54
    assert calib.rect_offset(3)[0] < 0 < calib.rect_offset(2)[0]
    assert calib.T_velo_imu is not None
    np.testing.assert_allclose(calib.T_cam_imu(2), calib.T_cam_velo(2) @ calib.T_velo_imu)


def test_lidar_ground_truth_of_real_drive_back_projects_onto_the_velodyne_points(shared_data):
    root = shared_data / 'kitti_raw_mini'
    dataset = KittiRawDataset(root, root / 'test_files.txt')
    assert len(dataset) == 2
    c2c = read_calib_file(root / RAW_DATE / 'calib_cam_to_cam.txt')
    v2c = read_calib_file(root / RAW_DATE / 'calib_velo_to_cam.txt')
    t_velo_to_cam = np.hstack([v2c['R'].reshape(3, 3), v2c['T'].reshape(3, 1)])
    for i, entry in enumerate(dataset.entries):
        image, depth, intrinsics = dataset[i]
        assert image.shape == (375, 1242, 3) and depth.dtype == np.float32
        points = read_velodyne_points(root / RAW_DATE / entry.drive / 'velodyne_points' /
                                      'data' / f'{entry.frame:010d}.bin')
        calib = dataset.calibration(RAW_DATE)
        points_cam = apply(calib.T_cam_velo(entry.camera), points[:, :3])
        n = _check_ground_truth_against_points(depth, points_cam, intrinsics)
        # plausible: tens of thousands of returns, 1-80 m, all below the horizon band
        assert 10_000 < n < 40_000
        valid = depth[np.isfinite(depth)]
        assert 2.0 < valid.min() < 8.0 and 40.0 < valid.max() <= 120.0
        assert np.nonzero(np.isfinite(depth))[0].min() > 80  # the top laser is at +2 deg
        # the development kit's projection lands on the same pixels with the same depth
        uv_dev, w_dev = _devkit_projection(c2c['P_rect_02'], c2c['R_rect_00'],
                                           t_velo_to_cam, points)
        uv, z = project(points_cam, intrinsics)
        front = w_dev > 0.5
        np.testing.assert_allclose(uv[front], uv_dev[front], atol=1e-6)
        np.testing.assert_allclose(z[front], w_dev[front], rtol=1e-9)


def test_object_layout_goes_through_the_same_code(shared_data):
    root = shared_data / 'kitti_object_000000'
    dataset = KittiObjectDataset(root)
    image, depth, intrinsics = dataset[0]
    assert image.shape == (370, 1224, 3) and intrinsics.size == (1224, 370)
    assert intrinsics.fx_px == pytest.approx(707.0493)
    calib = dataset.calibration(0, (1224, 370))
    points = read_velodyne_points(root / 'velodyne' / '000000.bin')
    n = _check_ground_truth_against_points(
        depth, apply(calib.T_cam_velo(2), points[:, :3]), intrinsics)
    assert 10_000 < n < 40_000
    values = read_calib_file(root / 'calib' / '000000.txt')
    uv_dev, w_dev = _devkit_projection(values['P2'], values['R0_rect'],
                                       values['Tr_velo_to_cam'], points)
    uv, _ = project(apply(calib.T_cam_velo(2), points[:, :3]), intrinsics)
    np.testing.assert_allclose(uv[w_dev > 0.5], uv_dev[w_dev > 0.5], atol=1e-6)


def test_split_files_parse(shared_data):
    splits = shared_data / 'splits'
    test = read_split_file(splits / 'eigen_test_files.txt')
    train = read_split_file(splits / 'eigen_full_train_files.txt')
    assert len(test) == 697 and len(train) == 45_200
    assert {e.side for e in train} == {'l', 'r'}
    assert not {e.drive for e in test} & {e.drive for e in train}
    assert test[0] == SplitEntry(RAW_DATE, '2011_09_26_drive_0002_sync', 69, 'l')
    assert test[0].camera == 2 and train[0].line(zero_pad=False) == \
        '2011_10_03/2011_10_03_drive_0034_sync 1757 r'
    # the repository's copy is the same list
    repo = Path(__file__).resolve().parents[1] / 'splits' / 'kitti'
    assert (repo / 'eigen_test_files.txt').read_text() == (
        splits / 'eigen_test_files.txt').read_text()


def test_embedded_reference_calibration_is_the_real_one(shared_data):
    for name, entries in reference_calibration_entries().items():
        text = (shared_data / 'kitti_raw_mini' / RAW_DATE / name).read_text()
        assert format_calib_entries(entries) == text


# -- formats and errors ------------------------------------------------------------------------

def test_split_line_errors_name_the_line(tmp_path):
    assert parse_split_line('2011_09_26/2011_09_26_drive_0001_sync 12 r').frame == 12
    bad = tmp_path / 'split.txt'
    bad.write_text('2011_09_26/2011_09_26_drive_0001_sync 0000000001 l\nfoo 3 x\n')
    with pytest.raises(DatasetError, match=r'split.txt:2: expected DATE/DRIVE'):
        read_split_file(bad)
    with pytest.raises(DatasetError, match="side must be 'l' or 'r'"):
        parse_split_line('a/b 1 x')
    with pytest.raises(DatasetError, match='no such split file'):
        read_split_file(tmp_path / 'missing.txt')


def test_calibration_and_scan_errors_name_file_and_cause(tmp_path):
    path = tmp_path / 'calib_cam_to_cam.txt'
    path.write_text('calib_time: 09-Jan-2012 13:57:47\nP_rect_00: 1 2 3\n')
    with pytest.raises(DatasetError, match=r"calib_cam_to_cam.txt: 'P_rect_00' must have 12"):
        KittiCalibration.from_raw_files(path, path)
    scan = tmp_path / 'scan.bin'
    scan.write_bytes(b'\0' * 20)
    with pytest.raises(DatasetError, match='scan.bin: 20 bytes is not a whole number'):
        read_velodyne_points(scan)


# -- synthetic drives in the real layout -------------------------------------------------------

@pytest.fixture(scope='module')
def drive(tmp_path_factory):
    root = tmp_path_factory.mktemp('kitti_raw')
    config = SyntheticDriveConfig(frames=3, width=310, height=94, seed=4, drive=7)
    return write_synthetic_drive(root, config, benchmark_root=root / 'benchmark' / 'train')


def test_written_drive_has_the_raw_layout(drive):
    d = drive.drive_dir
    assert d == drive.root / RAW_DATE / '2011_09_26_drive_0007_sync'
    for sub in ('image_02', 'image_03', 'velodyne_points', 'oxts'):
        assert sorted(p.name for p in (d / sub / 'data').iterdir())[0].startswith('0000000000.')
        lines = (d / sub / 'timestamps.txt').read_text().splitlines()
        assert len(lines) == 3
        times = [parse_timestamp_line(line) for line in lines]
        np.testing.assert_allclose(np.diff(times), 0.1, atol=1e-9)
    assert (d / 'velodyne_points' / 'timestamps_start.txt').is_file()
    oxts = (d / 'oxts' / 'data' / '0000000001.txt').read_text().split()
    assert len(oxts) == 30
    calib = KittiCalibration.from_raw_dir(drive.root / RAW_DATE)
    ref = reference_calibration(310, 94)
    for i in range(4):
        np.testing.assert_allclose(calib.p_rect[i], ref.p_rect[i], rtol=1e-6, atol=1e-6)
    assert calib.image_sizes[2] == (310, 94)


def test_velodyne_ground_truth_of_written_drive_matches_the_exact_depth(drive):
    dataset = KittiRawDataset(drive.root, drive.entries('l'))
    for i in range(3):
        image, depth, intrinsics = dataset[i]
        assert image.shape == (94, 310, 3)
        exact = render_camera(drive.layout, drive.calibration, 2, drive.poses[i])
        ok = np.isfinite(depth)
        assert ok.sum() > 1000
        rel = np.abs(depth[ok] - exact.depth_m[ok]) / exact.depth_m[ok]
        # a LIDAR point is within half a pixel of the pixel centre: depths agree but for edges
        assert np.median(rel) < 0.01 and np.mean(rel < 0.05) > 0.95
        points = read_velodyne_points(drive.drive_dir / 'velodyne_points' / 'data' /
                                      f'{i:010d}.bin')
        _check_ground_truth_against_points(
            depth, apply(drive.calibration.T_cam_velo(2), points[:, :3]), intrinsics)
        # points are in the Velodyne frame (z up, 1.73 m above the road); moved into
        # rectified camera 0 they lie exactly on the ground plane y = 1.65 m
        rect0 = apply(drive.calibration.T_rect0_velo(), points[:, :3])
        ground = np.abs(rect0[:, 1] - 1.65) < 0.1  # the road, and the feet of boxes and walls
        assert ground.sum() > 500
        assert np.mean(np.abs(rect0[ground, 1] - 1.65) < 1e-4) > 0.95
        assert -1.8 < np.median(points[ground, 2]) < -1.6


def test_stereo_cameras_see_the_same_street(drive):
    calib = drive.calibration
    left = render_camera(drive.layout, calib, 2, drive.poses[1])
    right = render_camera(drive.layout, calib, 3, drive.poses[1])
    pts = backproject(left.depth_m, calib.intrinsics(2)).reshape(-1, 3)
    pts = pts[np.isfinite(pts[:, 2])].astype(np.float64)
    in_right = pts + (calib.rect_offset(3) - calib.rect_offset(2))
    uv, z = project(in_right, calib.intrinsics(3))
    u, v = np.rint(uv[:, 0]).astype(int), np.rint(uv[:, 1]).astype(int)
    seen = (u >= 0) & (u < 310) & (v >= 0) & (v < 94)
    rel = np.abs(right.depth_m[v[seen], u[seen]] - z[seen]) / z[seen]
    # the same surfaces at the depths the baseline predicts (but at occlusion edges)
    assert np.mean(rel < 0.01) > 0.9


def test_benchmark_layout_of_written_drive(drive):
    entry = drive.entries('r')[2]
    path = find_benchmark_depth(drive.root / 'benchmark', entry)
    assert path.parts[-5:] == ('2011_09_26_drive_0007_sync', 'proj_depth', 'groundtruth',
                               'image_03', '0000000002.png')
    dataset = KittiRawDataset(drive.root, [entry], ground_truth='benchmark',
                              benchmark_root=drive.root / 'benchmark')
    depth = dataset[0].depth_m
    exact = render_camera(drive.layout, drive.calibration, 3, drive.poses[2]).depth_m
    ok = np.isfinite(exact) & (exact < 255)
    np.testing.assert_allclose(depth[ok], exact[ok], atol=0.5 / 256 + 1e-6)
    raw = read_benchmark_depth(find_benchmark_depth(drive.root / 'benchmark', entry,
                                                    'velodyne_raw'))
    assert 0 < np.isfinite(raw).mean() < 0.5


def test_frames_without_files_can_be_skipped(drive):
    entries = drive.entries('l') + [SplitEntry(RAW_DATE, drive.config.drive_name, 99, 'l')]
    with pytest.raises(DatasetError, match='no such Velodyne scan'):
        KittiRawDataset(drive.root, entries).depth_m(3)
    dataset = KittiRawDataset(drive.root, entries, skip_missing=True)
    assert len(dataset) == 3 and dataset.skipped == entries[3:]


def test_ground_truth_cache_round_trip(drive, tmp_path):
    dataset = KittiRawDataset(drive.root, drive.entries('l'))
    path = save_ground_truth(tmp_path / 'gt.npz', dataset)
    cached = KittiRawDataset(drive.root, drive.entries('l'), gt_cache=path)
    for i in range(3):
        np.testing.assert_array_equal(cached.depth_m(i), lidar_depth_image(
            read_velodyne_points(drive.drive_dir / 'velodyne_points' / 'data' /
                                 f'{i:010d}.bin'), drive.calibration, 2))
    assert len(GroundTruthCache(path)) == 3
    with pytest.raises(DatasetError, match='another list of frames'):
        KittiRawDataset(drive.root, drive.entries('r'), gt_cache=path)


# -- the published tables' pixel convention ('eigen') ----------------------------------------

def _monodepth2_generate_depth_map(date_dir, velo_path, cam):
    """
    monodepth2's ``kitti_utils.generate_depth_map``, re-implemented from its description.

    Its own file reader, its own matrices, ``round - 1``, last write then the minimum over the
    pixels its ``sub2ind`` calls duplicates (``row * (n - 1) + col - 1``, which also joins
    pixel ``(r, n - 1)`` with ``(r + 1, 0)``), negative depth set to 0. 0 = no ground truth.
    """
    def read(path):
        data = {}
        for line in Path(path).read_text().splitlines():
            key, _, value = line.partition(':')
            try:
                data[key] = np.array([float(x) for x in value.split()])
            except ValueError:
                pass
        return data
    c2c, v2c = read(date_dir / 'calib_cam_to_cam.txt'), read(date_dir / 'calib_velo_to_cam.txt')
    velo2cam = np.vstack((np.hstack((v2c['R'].reshape(3, 3), v2c['T'][:, None])),
                          [0.0, 0.0, 0.0, 1.0]))
    im_shape = c2c['S_rect_02'][::-1].astype(np.int32)
    r_cam2rect = np.eye(4)
    r_cam2rect[:3, :3] = c2c['R_rect_00'].reshape(3, 3)
    p_rect = c2c[f'P_rect_0{cam}'].reshape(3, 4)
    p_velo2im = p_rect @ r_cam2rect @ velo2cam
    velo = np.fromfile(velo_path, dtype=np.float32).reshape(-1, 4)
    velo[:, 3] = 1.0
    velo = velo[velo[:, 0] >= 0, :]
    pts = (p_velo2im @ velo.T).T
    pts[:, :2] = pts[:, :2] / pts[:, 2][..., None]
    pts[:, 0] = np.round(pts[:, 0]) - 1
    pts[:, 1] = np.round(pts[:, 1]) - 1
    keep = (pts[:, 0] >= 0) & (pts[:, 1] >= 0)
    keep &= (pts[:, 0] < im_shape[1]) & (pts[:, 1] < im_shape[0])
    pts = pts[keep]
    depth = np.zeros(im_shape[:2])
    depth[pts[:, 1].astype(int), pts[:, 0].astype(int)] = pts[:, 2]
    inds = pts[:, 1] * (depth.shape[1] - 1) + pts[:, 0] - 1
    for dd in [i for i, c in Counter(inds).items() if c > 1]:
        same = np.where(inds == dd)[0]
        depth[int(pts[same[0], 1]), int(pts[same[0], 0])] = pts[same, 2].min()
    depth[depth < 0] = 0
    return depth


def _real_scans(root):
    dataset = KittiRawDataset(root, root / 'test_files.txt')
    for entry in dataset.entries:
        yield entry, dataset.calibration(entry.date), (
            root / entry.date / entry.drive / 'velodyne_points' / 'data' /
            f'{entry.frame:010d}.bin')


def test_eigen_ground_truth_is_exact_one_pixel_up_and_left_on_real_frames(shared_data):
    root = shared_data / 'kitti_raw_mini'
    for entry, calib, scan in _real_scans(root):
        points = read_velodyne_points(scan)
        exact = lidar_depth_image(points, calib, entry.camera)
        eigen = lidar_depth_image(points, calib, entry.camera, pixel_convention='eigen')
        assert eigen.shape == exact.shape == (375, 1242)
        a, b = eigen[:-1, :-1], exact[1:, 1:]
        both = np.isfinite(a) & np.isfinite(b)
        assert both.sum() > 15_000
        np.testing.assert_array_equal(a[both], b[both])
        # Where one is defined, so is the other (no point lies beside the camera here).
        np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
        # 'eigen' loses the first column of 'exact' and fills its own last one with points
        # up to half a pixel beyond the image's right edge, which 'exact' drops.
        assert np.isfinite(exact[:, 0]).any() and np.isfinite(eigen[:, -1]).any()
        assert not np.array_equal(np.isfinite(eigen), np.isfinite(exact))


def test_eigen_ground_truth_equals_monodepth2s_generate_depth_map(shared_data):
    root = shared_data / 'kitti_raw_mini'
    for entry, calib, scan in _real_scans(root):
        for camera in (2, 3):
            eigen = lidar_depth_image(read_velodyne_points(scan), calib, camera, 'eigen')
            reference = _monodepth2_generate_depth_map(root / entry.date, scan, camera)
            ref = np.where(reference > 0, reference, np.nan).astype(np.float32)
            # monodepth2's sub2ind joins pixel (r, W-1) with (r+1, 0): only the first and last
            # columns can differ, and both lie outside every evaluation crop.
            np.testing.assert_array_equal(eigen[:, 1:-1], ref[:, 1:-1])
            assert np.isfinite(eigen).sum() > 15_000


def test_eigen_ground_truth_through_the_data_set_and_its_cache(drive, tmp_path):
    exact = KittiRawDataset(drive.root, drive.entries('l'))
    spec = DataSpec('kitti_raw', root=str(drive.root), split=str(tmp_path / 'split.txt'),
                    gt_pixels='eigen')
    (tmp_path / 'split.txt').write_text(''.join(e.line() + '\n' for e in drive.entries('l')))
    eigen = open_dataset(spec)
    assert eigen.gt_label == 'velodyne eigen' and exact.gt_label == 'velodyne exact'
    for i in range(3):
        a, b = eigen.depth_m(i)[:-1, :-1], exact.depth_m(i)[1:, 1:]
        both = np.isfinite(a) & np.isfinite(b)
        assert both.sum() > 100
        np.testing.assert_array_equal(a[both], b[both])
    path = save_ground_truth(tmp_path / 'gt_eigen.npz', eigen)
    assert GroundTruthCache(path).ground_truth == 'velodyne eigen'
    cached = KittiRawDataset(drive.root, drive.entries('l'), gt_cache=path,
                             pixel_convention='eigen')
    np.testing.assert_array_equal(cached.depth_m(1), eigen.depth_m(1))
    with pytest.raises(DatasetError, match='holds velodyne eigen ground truth.*velodyne exact'):
        KittiRawDataset(drive.root, drive.entries('l'), gt_cache=path)
    with pytest.raises(DatasetError, match="gt_pixels must be one of .*'matlab'"):
        DataSpec('kitti_raw', root=str(drive.root), split='x', gt_pixels='matlab')


def test_ground_truth_cache_without_a_convention_is_not_taken_for_eigen(drive, tmp_path):
    """Files written before the convention was recorded hold 'exact' (or benchmark) depth."""
    exact = KittiRawDataset(drive.root, drive.entries('l'))
    path = tmp_path / 'old.npz'
    np.savez_compressed(path, format=np.array('msdepth_ros.ground_truth.v1'),
                        names=np.array([exact.sample_name(i) for i in range(len(exact))]),
                        **{f'depth_{i:06d}': exact.depth_m(i) for i in range(len(exact))})
    assert GroundTruthCache(path).ground_truth is None
    old = KittiRawDataset(drive.root, drive.entries('l'), gt_cache=path)
    np.testing.assert_array_equal(old.depth_m(2), exact.depth_m(2))
    with pytest.raises(DatasetError, match='holds velodyne exact or benchmark ground truth'):
        KittiRawDataset(drive.root, drive.entries('l'), gt_cache=path, pixel_convention='eigen')
