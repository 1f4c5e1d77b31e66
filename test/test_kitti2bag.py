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
``msdepth-kitti2bag``: KITTI raw drives (the real sample and synthetic ones) as rosbag2 files.

Bags are read back with ``rosbags`` and checked against the drive's files read independently
(OpenCV for the PNGs, numpy for the scans, the calibration files' entries, the timestamp lines
parsed here); the transforms and camera info of the bag must project the Velodyne onto the
same pixels as the calibration files do.
"""

from __future__ import annotations

import math
from pathlib import Path
import shutil
import subprocess

from conftest import console_script
import cv2
from msdepth_ros.core.camera import depth_image_from_points, project
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.transforms import apply
from msdepth_ros.data.kitti import (KittiCalibration, lidar_depth_image, oxts_poses,
                                    read_calib_file, read_timestamps_ns, read_velodyne_points,
                                    timestamp_line, timestamp_ns)
from msdepth_ros.data.kitti_writer import SyntheticDriveConfig, write_synthetic_drive
from msdepth_ros.msgs.readers import pointcloud2_fields, tree_from_tf_messages
from msdepth_ros.tools import kitti2bag
import numpy as np
import pytest
from rosbags.highlevel import AnyReader
from rosbags.interfaces import QosDurability, QosReliability
from rosbags.typesys import get_typestore, Stores

CAMERA_TOPICS = {2: '/kitti/camera_color_left', 3: '/kitti/camera_color_right',
                 0: '/kitti/camera_gray_left', 1: '/kitti/camera_gray_right'}
FRAMES = {2: 'camera_color_left_optical_frame', 3: 'camera_color_right_optical_frame',
          0: 'camera_gray_left_optical_frame', 1: 'camera_gray_right_optical_frame'}
CEST_NS = 2 * 3600 * 10**9
#: Stereo pairs: right camera -> left camera (sensor_msgs/CameraInfo: a right camera's P takes
#: points in its left camera's optical frame).
PAIR_LEFT = {1: 0, 3: 2}


def read_bag(path: Path) -> tuple[dict, dict]:
    """Return topic -> [(bag time, message)] and topic -> connection."""
    messages, connections = {}, {}
    with AnyReader([path], default_typestore=get_typestore(Stores.ROS2_JAZZY)) as reader:
        for conn in reader.connections:
            connections[conn.topic] = conn
        for conn, t, data in reader.messages():
            messages.setdefault(conn.topic, []).append((t, reader.deserialize(data, conn.msgtype)))
    return messages, connections


def stamp_of(msg) -> int:
    return msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec


def expected_stamps(path: Path) -> list[int]:
    """Parse KITTI timestamp lines with integers only: Karlsruhe local time (UTC+2) -> Unix."""
    import calendar
    import datetime
    out = []
    for line in path.read_text().splitlines():
        day, clock = line.split()
        hms, frac = clock.split('.')
        t = datetime.datetime.strptime(f'{day} {hms}', '%Y-%m-%d %H:%M:%S')
        out.append(calendar.timegm(t.timetuple()) * 10**9 + int(frac.ljust(9, '0')) - CEST_NS)
    return out


def image_pixels(msg) -> np.ndarray:
    channels = {'rgb8': 3, 'mono8': 1}[msg.encoding]
    assert msg.step == msg.width * channels and msg.is_bigendian == 0
    pixels = np.asarray(msg.data, np.uint8).reshape(msg.height, msg.width, channels)
    return pixels[..., 0] if channels == 1 else pixels


def stereo_baseline_m(calib_values: dict, right: int) -> float:
    """Distance of the rectified right camera's centre from its pair's left, from ``P_rect``."""
    def centre(camera: int) -> np.ndarray:
        p = calib_values[f'P_rect_0{camera}'].reshape(3, 4)
        return -np.linalg.solve(p[:, :3], p[:, 3])
    return float(np.linalg.norm(centre(right) - centre(PAIR_LEFT[right])))


def check_bag_against_drive(bag: Path, drive_dir: Path, cameras, velodyne=True, oxts=False):
    """Every check that holds for any converted drive; returns the bag's messages."""
    messages, connections = read_bag(bag)
    calib_values = read_calib_file(drive_dir.parent / 'calib_cam_to_cam.txt')
    expected_topics = {'/tf_static'}
    for camera in cameras:
        ns = CAMERA_TOPICS[camera]
        expected_topics |= {f'{ns}/image_raw', f'{ns}/camera_info'}
        folder = drive_dir / f'image_0{camera}'
        pngs = sorted((folder / 'data').glob('*.png'))
        stamps = expected_stamps(folder / 'timestamps.txt')
        images = messages[f'{ns}/image_raw']
        infos = messages[f'{ns}/camera_info']
        assert connections[f'{ns}/image_raw'].msgtype == 'sensor_msgs/msg/Image'
        assert connections[f'{ns}/camera_info'].msgtype == 'sensor_msgs/msg/CameraInfo'
        assert len(images) == len(infos) == len(pngs) == len(stamps)
        p_rect = calib_values[f'P_rect_0{camera}'].reshape(3, 4)
        size = tuple(int(v) for v in calib_values[f'S_rect_0{camera}'])
        for (t_img, img), (t_info, info), png, stamp in zip(images, infos, pngs, stamps):
            assert t_img == stamp_of(img) == stamp_of(info) == stamp
            assert t_info == stamp - 1_000_000  # the intrinsics lead their image on replay
            assert img.header.frame_id == info.header.frame_id == FRAMES[camera]
            if camera in (2, 3):
                assert img.encoding == 'rgb8'
                expected = cv2.imread(str(png), cv2.IMREAD_COLOR)[..., ::-1]
            else:
                assert img.encoding == 'mono8'
                expected = cv2.imread(str(png), cv2.IMREAD_UNCHANGED)
            np.testing.assert_array_equal(image_pixels(img), expected)
            assert (info.width, info.height) == (img.width, img.height) == size
            p = info.p.reshape(3, 4)
            np.testing.assert_array_equal(p[:, :3], p_rect[:, :3])
            if camera in (0, 2):  # monocular or left: P = [K | 0] (CameraInfo's convention)
                np.testing.assert_array_equal(p[:, 3], np.zeros(3))
            else:  # right: Tx = -fx B, B the baseline to its pair's left camera
                assert -p[0, 3] / p[0, 0] == pytest.approx(
                    stereo_baseline_m(calib_values, camera), rel=1e-4)
            np.testing.assert_array_equal(info.k.reshape(3, 3), p_rect[:, :3])
            np.testing.assert_array_equal(info.r, np.eye(3).reshape(-1))
            assert info.distortion_model == 'plumb_bob'
            np.testing.assert_array_equal(info.d, np.zeros(5))
    if velodyne:
        expected_topics.add('/kitti/velodyne_points')
        folder = drive_dir / 'velodyne_points'
        bins = sorted((folder / 'data').glob('*.bin'))
        scans = messages['/kitti/velodyne_points']
        stamps = expected_stamps(folder / 'timestamps.txt')
        assert len(scans) == len(bins) == len(stamps)
        for (t, cloud), path, stamp in zip(scans, bins, stamps):
            assert t == stamp_of(cloud) == stamp
            assert cloud.header.frame_id == 'velodyne'
            assert cloud.height == 1 and cloud.point_step == 16
            assert [(f.name, f.offset, f.datatype) for f in cloud.fields] == [
                ('x', 0, 7), ('y', 4, 7), ('z', 8, 7), ('intensity', 12, 7)]
            np.testing.assert_array_equal(
                pointcloud2_fields(cloud, ('x', 'y', 'z', 'intensity')).astype(np.float32),
                np.fromfile(path, '<f4').reshape(-1, 4))
    if oxts:
        expected_topics.add('/tf')
    assert set(messages) == expected_topics
    assert len(messages['/tf_static']) == 1
    assert messages['/tf_static'][0][0] == min(t for m in messages.values() for t, _ in m)
    qos = connections['/tf_static'].ext.offered_qos_profiles
    assert qos[0].durability == QosDurability.TRANSIENT_LOCAL
    assert qos[0].reliability == QosReliability.RELIABLE
    for topic, conn in connections.items():
        if topic != '/tf_static':
            assert conn.ext.offered_qos_profiles[0].durability == QosDurability.VOLATILE
    return messages


def check_projection(messages, drive_dir: Path, camera: int) -> None:
    """Check that the bag's tf and camera info project the Velodyne as the calibration does."""
    calibration = KittiCalibration.from_raw_dir(drive_dir.parent)
    tree = tree_from_tf_messages([m for _, m in messages['/tf_static']])
    T_cam_velo = tree.lookup(FRAMES[camera], 'velodyne')
    info = messages[f'{CAMERA_TOPICS[camera]}/camera_info'][0][1]
    intrinsics = Intrinsics.from_camera_info(info.k, info.p, info.width, info.height)
    bins = sorted((drive_dir / 'velodyne_points' / 'data').glob('*.bin'))
    for (_, cloud), path in zip(messages['/kitti/velodyne_points'], bins):
        points = pointcloud2_fields(cloud, ('x', 'y', 'z'))
        expected = lidar_depth_image(read_velodyne_points(path), calibration, camera)
        got = depth_image_from_points(apply(T_cam_velo, points), intrinsics)
        # The same continuous projection; the files' 7-digit rotations are not exactly
        # orthonormal, so a quaternion moves points by ~1e-8 m: a handful of points that sit
        # on a pixel border may land on the neighbour.
        uv_bag, _ = project(apply(T_cam_velo, points), intrinsics)
        uv_cal, z = project(apply(calibration.T_cam_velo(camera), points),
                            calibration.intrinsics(camera))
        seen = (z > 1.0) & (np.abs(uv_cal) < 2 * max(intrinsics.size)).all(axis=1)
        assert seen.sum() > 100
        assert np.abs(uv_bag[seen] - uv_cal[seen]).max() < 1e-3
        valid_got, valid_expected = np.isfinite(got), np.isfinite(expected)
        assert valid_expected.sum() > 100
        assert (valid_got != valid_expected).mean() < 1e-3
        both = valid_got & valid_expected
        close = np.isclose(got[both], expected[both], rtol=1e-5)
        assert close.mean() > 0.999


def check_projection_through_p(messages, drive_dir: Path, camera: int) -> float:
    """
    Project the Velodyne through the bag's tf and full P; compare with KITTI's devkit.

    A point goes through ``/tf_static`` to the camera's optical frame (a right camera: to its
    pair's left camera's frame) and through the camera info's 3x4 P; the devkit's pixel is
    ``P_rect_0i R_rect_00 T_cam0_velo X`` from the calibration files' entries. Returns the
    largest difference in pixels over the points in front of the camera that land near the
    image.
    """
    date_dir = drive_dir.parent
    c2c = read_calib_file(date_dir / 'calib_cam_to_cam.txt')
    v2c = read_calib_file(date_dir / 'calib_velo_to_cam.txt')
    r_rect = np.eye(4)
    r_rect[:3, :3] = c2c['R_rect_00'].reshape(3, 3)
    t_cam0_velo = np.eye(4)
    t_cam0_velo[:3, :3] = v2c['R'].reshape(3, 3)
    t_cam0_velo[:3, 3] = v2c['T']
    devkit = c2c[f'P_rect_0{camera}'].reshape(3, 4) @ r_rect @ t_cam0_velo
    tree = tree_from_tf_messages([m for _, m in messages['/tf_static']])
    T_frame_velo = tree.lookup(FRAMES[PAIR_LEFT.get(camera, camera)], 'velodyne')
    info = messages[f'{CAMERA_TOPICS[camera]}/camera_info'][0][1]
    p = np.asarray(info.p, dtype=np.float64).reshape(3, 4)
    worst, seen_total = 0.0, 0
    for _, cloud in messages['/kitti/velodyne_points']:
        points = pointcloud2_fields(cloud, ('x', 'y', 'z')).astype(np.float64)
        homogeneous = np.c_[points, np.ones(len(points))]
        expected = homogeneous @ devkit.T
        got = np.c_[apply(T_frame_velo, points), np.ones(len(points))] @ p.T
        in_front = (expected[:, 2] > 1.0) & (got[:, 2] > 1.0)
        uv_expected = expected[in_front, :2] / expected[in_front, 2:]
        uv_got = got[in_front, :2] / got[in_front, 2:]
        near = (np.abs(uv_expected - [info.width / 2, info.height / 2])
                < [info.width, info.height]).all(axis=1)
        assert near.sum() > 100
        seen_total += int(near.sum())
        worst = max(worst, float(np.abs(uv_got[near] - uv_expected[near]).max()))
    assert seen_total > 100
    assert worst < 0.05, f'camera {camera}: bag tf + P miss the devkit by {worst:.3f} px'
    return worst


def real_drive_with_four_cameras(shared_data: Path, root: Path) -> Path:
    """
    Lay out the real sample drive with cameras 0, 1 and 3 added (its calibration and scans).

    The sample holds camera 2 only; the other cameras' PNGs are its frames (grey for 0 and 1),
    which is enough for projections that only read the calibration and the scans.
    """
    source_date = shared_data / 'kitti_raw_mini' / '2011_09_26'
    source = source_date / '2011_09_26_drive_0000_sync'
    date_dir = root / '2011_09_26'
    drive_dir = date_dir / source.name
    drive_dir.mkdir(parents=True)
    for name in ('calib_cam_to_cam.txt', 'calib_velo_to_cam.txt', 'calib_imu_to_velo.txt'):
        (date_dir / name).symlink_to(source_date / name)
    (drive_dir / 'velodyne_points').symlink_to(source / 'velodyne_points')
    for camera in range(4):
        folder = drive_dir / f'image_0{camera}'
        (folder / 'data').mkdir(parents=True)
        shutil.copy(source / 'image_02' / 'timestamps.txt', folder / 'timestamps.txt')
        for png in sorted((source / 'image_02' / 'data').glob('*.png')):
            image = cv2.imread(str(png), cv2.IMREAD_COLOR)
            if camera in (0, 1):
                image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            cv2.imwrite(str(folder / 'data' / png.name), image)
    return drive_dir


# -- the real sample ---------------------------------------------------------------------------

def test_real_drive(shared_data, tmp_path):
    drive_dir = shared_data / 'kitti_raw_mini' / '2011_09_26' / '2011_09_26_drive_0000_sync'
    bag = tmp_path / 'mini'
    assert kitti2bag.main([str(drive_dir), str(bag), '-q']) == 0
    messages = check_bag_against_drive(bag, drive_dir, cameras=[2])
    check_projection(messages, drive_dir, 2)
    assert sorted(p.name for p in bag.iterdir()) == ['metadata.yaml', 'mini.mcap']
    assert not (tmp_path / 'mini.partial').exists()
    # The transform tree: base_link (IMU) -> velodyne -> the four optical frames.
    tree = tree_from_tf_messages([m for _, m in messages['/tf_static']])
    calibration = KittiCalibration.from_raw_dir(drive_dir.parent)
    np.testing.assert_allclose(tree.lookup('velodyne', 'base_link'), calibration.T_velo_imu,
                               atol=1e-6)
    for camera in range(4):
        np.testing.assert_allclose(tree.lookup(FRAMES[camera], 'base_link'),
                                   calibration.T_cam_imu(camera), atol=1e-6)
    check_projection_through_p(messages, drive_dir, 2)


def test_real_calibration_every_camera_projects_as_the_devkit(shared_data, tmp_path):
    # Before: every P was KITTI's P_rect_0i, whose fourth column is camera i's offset from
    # camera 0, on top of tf frames already at camera i: camera 2 missed by up to 8 px.
    drive_dir = real_drive_with_four_cameras(shared_data, tmp_path / 'raw')
    bag = tmp_path / 'four'
    assert kitti2bag.main([str(drive_dir), str(bag), '--cameras', '0', '1', '2', '3',
                           '-q']) == 0
    messages = check_bag_against_drive(bag, drive_dir, cameras=[0, 1, 2, 3])
    for camera in range(4):
        check_projection_through_p(messages, drive_dir, camera)
        # What msgs.images, msdepth-bag-infer and the node's online evaluation do: K from P,
        # points moved into the image's own frame.
        check_projection(messages, drive_dir, camera)
    # image_geometry's StereoCameraModel reads the baseline as -Tx / fx: KITTI's 0.54 m (grey)
    # and 0.53 m (colour).
    for right, baseline in ((1, 0.5372), (3, 0.5327)):
        p = messages[f'{CAMERA_TOPICS[right]}/camera_info'][0][1].p.reshape(3, 4)
        assert -p[0, 3] / p[0, 0] == pytest.approx(baseline, abs=1e-4)


# -- synthetic drives ----------------------------------------------------------------------------

@pytest.fixture(scope='module')
def synthetic(tmp_path_factory):
    root = tmp_path_factory.mktemp('kitti2bag_drive')
    return write_synthetic_drive(root, SyntheticDriveConfig(frames=3, width=310, height=94,
                                                            cameras=(2, 3)))


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_synthetic_drive_with_both_colour_cameras(synthetic, tmp_path, storage):
    bag = tmp_path / 'drive'
    assert kitti2bag.main([str(synthetic.drive_dir), str(bag), '--cameras', '2', '3',
                           '--storage', storage, '-q']) == 0
    messages = check_bag_against_drive(bag, synthetic.drive_dir, cameras=[2, 3], oxts=True)
    for camera in (2, 3):
        check_projection(messages, synthetic.drive_dir, camera)
        check_projection_through_p(messages, synthetic.drive_dir, camera)
    # The right camera's P carries the stereo term: Tx = -fx * baseline (camera 3 ~0.53 m to
    # the right of camera 2 on KITTI's rig); the left camera's is [K | 0].
    right = messages['/kitti/camera_color_right/camera_info'][0][1].p.reshape(3, 4)
    left = messages['/kitti/camera_color_left/camera_info'][0][1].p.reshape(3, 4)
    assert not left[:, 3].any()
    assert -right[0, 3] / right[0, 0] == pytest.approx(
        synthetic.calibration.baseline_m(2, 3), rel=1e-4)
    # /tf: odom -> base_link, the car's straight drive east: x grows by the step each frame.
    tf = messages['/tf']
    assert [t for t, _ in tf] == list(read_timestamps_ns(
        synthetic.drive_dir / 'oxts' / 'timestamps.txt', 7200.0))
    for i, (_, msg) in enumerate(tf):
        (t,) = msg.transforms
        assert (t.header.frame_id, t.child_frame_id) == ('odom', 'base_link')
        assert stamp_of(t) == tf[i][0]
        offset = t.transform.translation
        assert offset.x == pytest.approx(i * synthetic.config.step_m, abs=1e-6)
        assert abs(offset.y) < 1e-6 and abs(offset.z) < 1e-9
        assert t.transform.rotation.w == pytest.approx(1.0)


def test_grey_cameras_and_stamps_read_as_utc(tmp_path):
    root = tmp_path / 'raw'
    drive = write_synthetic_drive(root, SyntheticDriveConfig(frames=2, width=124, height=38,
                                                             cameras=(2,), oxts=False))
    # Grey cameras 0 and 1: single-channel PNGs of the synthetic colour frames.
    for camera in (0, 1):
        folder = drive.drive_dir / f'image_0{camera}'
        (folder / 'data').mkdir(parents=True)
        for png in sorted((drive.drive_dir / 'image_02' / 'data').glob('*.png')):
            grey = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2GRAY)
            cv2.imwrite(str(folder / 'data' / png.name), grey)
        shutil.copy(drive.drive_dir / 'image_02' / 'timestamps.txt', folder / 'timestamps.txt')
    bag = tmp_path / 'bag'
    assert kitti2bag.main([str(drive.drive_dir), str(bag), '--cameras', '0', '1', '2',
                           '--utc-offset-h', '2', '--no-velodyne', '-q']) == 0
    messages = check_bag_against_drive(bag, drive.drive_dir, cameras=[0, 1, 2],
                                       velodyne=False)
    bag_utc = tmp_path / 'bag_utc'
    assert kitti2bag.main([str(drive.drive_dir), str(bag_utc), '--cameras', '2',
                           '--utc-offset-h', '0', '--no-velodyne', '-q']) == 0
    utc, _ = read_bag(bag_utc)
    shifted = [t + CEST_NS for t, _ in messages['/kitti/camera_color_left/image_raw']]
    assert [t for t, _ in utc['/kitti/camera_color_left/image_raw']] == shifted


def test_without_imu_calibration_the_tree_is_rooted_at_the_velodyne(tmp_path, capsys):
    drive = write_synthetic_drive(tmp_path / 'raw', SyntheticDriveConfig(
        frames=2, width=124, height=38, cameras=(2,)))
    (drive.drive_dir.parent / 'calib_imu_to_velo.txt').unlink()
    bag = tmp_path / 'bag'
    assert kitti2bag.main([str(drive.drive_dir), str(bag), '-q']) == 0
    err = capsys.readouterr().err
    assert 'calib_imu_to_velo.txt: missing; the transform tree is rooted at velodyne' in err
    messages = check_bag_against_drive(bag, drive.drive_dir, cameras=[2])
    (msg,) = [m for _, m in messages['/tf_static']]
    assert {t.header.frame_id for t in msg.transforms} == {'velodyne'}
    assert {t.child_frame_id for t in msg.transforms} == set(FRAMES.values())
    check_projection(messages, drive.drive_dir, 2)


# -- the readers added for it ---------------------------------------------------------------------

def test_timestamps_are_exact_to_the_nanosecond():
    for seconds in (0.0, 47_000.961661696, 86_399.999999999):
        line = timestamp_line(seconds, '2011_09_26')
        midnight = 1_317_000_000 - 1_317_000_000 % 86400  # 2011-09-26 00:00 UTC
        assert midnight == 1_316_995_200
        expected = midnight * 10**9 + round(seconds * 1e9)
        assert timestamp_ns(line) == expected
        assert timestamp_ns(line, 7200.0) == expected - CEST_NS


def _devkit_pose(packet, scale):
    """``convertOxtsToPose`` of the KITTI development kit (before the first pose's inverse)."""
    er = 6378137.0
    lat, lon, alt, rx, ry, rz = packet[:6]
    t = [scale * lon * math.pi * er / 180,
         scale * er * math.log(math.tan((90 + lat) * math.pi / 360)), alt]
    Rx = np.array([[1, 0, 0], [0, math.cos(rx), -math.sin(rx)], [0, math.sin(rx), math.cos(rx)]])
    Ry = np.array([[math.cos(ry), 0, math.sin(ry)], [0, 1, 0], [-math.sin(ry), 0, math.cos(ry)]])
    Rz = np.array([[math.cos(rz), -math.sin(rz), 0], [math.sin(rz), math.cos(rz), 0], [0, 0, 1]])
    pose = np.eye(4)
    pose[:3, :3] = Rz @ Ry @ Rx
    pose[:3, 3] = t
    return pose


def test_oxts_poses_follow_the_devkit():
    rng = np.random.default_rng(3)
    packets = np.zeros((5, 30))
    packets[:, 0] = 49.01 + rng.normal(0, 1e-3, 5)
    packets[:, 1] = 8.42 + rng.normal(0, 1e-3, 5)
    packets[:, 2] = 112 + rng.normal(0, 1, 5)
    packets[:, 3:6] = rng.uniform(-0.3, 0.3, (5, 3))
    scale = math.cos(math.radians(packets[0, 0]))
    devkit = [_devkit_pose(p, scale) for p in packets]
    expected = [np.linalg.inv(devkit[0]) @ p for p in devkit]
    np.testing.assert_allclose(oxts_poses(packets), expected, atol=1e-6)
    np.testing.assert_allclose(oxts_poses(packets)[0], np.eye(4), atol=1e-9)


# -- errors -----------------------------------------------------------------------------------

def _fresh_drive(tmp_path: Path):
    return write_synthetic_drive(tmp_path / 'raw', SyntheticDriveConfig(
        frames=2, width=124, height=38, cameras=(2,)))


def _run(drive_dir: Path, bag: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([console_script('msdepth-kitti2bag'), str(drive_dir), str(bag), '-q',
                           *extra], capture_output=True, text=True, timeout=120)


def _assert_clear_failure(proc, bag: Path, *fragments: str) -> None:
    assert proc.returncode == 1, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith('msdepth-kitti2bag: ')
    for fragment in fragments:
        assert fragment in lines[0]
    assert 'Traceback' not in proc.stderr
    assert not bag.exists()
    assert not bag.with_name(bag.name + '.partial').exists()


@pytest.mark.parametrize('damage, fragments', [
    ('missing_calibration', ('calib_velo_to_cam.txt: no such calibration file',)),
    ('truncated_bin', ('0000000001.bin: ', 'not a whole number of 16-byte points')),
    ('unreadable_png', ('image_02/data/0000000001.png: not a readable image',)),
])
def test_damaged_drives_fail_clearly_without_a_bag(tmp_path, damage, fragments):
    drive = _fresh_drive(tmp_path)
    d = drive.drive_dir
    if damage == 'missing_calibration':
        (d.parent / 'calib_velo_to_cam.txt').unlink()
    elif damage == 'truncated_bin':
        path = d / 'velodyne_points' / 'data' / '0000000001.bin'
        path.write_bytes(path.read_bytes()[:-6])
    else:
        path = d / 'image_02' / 'data' / '0000000001.png'
        path.write_bytes(path.read_bytes()[:200])
    bag = tmp_path / 'out'
    _assert_clear_failure(_run(d, bag), bag, *fragments)


def test_inconsistent_drives_fail_clearly(tmp_path, capsys):
    drive = _fresh_drive(tmp_path)
    d = drive.drive_dir
    bag = tmp_path / 'out'

    def fails(*fragments, extra=()):
        assert kitti2bag.main([str(d), str(bag), '-q', *extra]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith('msdepth-kitti2bag: '), err
        for fragment in fragments:
            assert fragment in err[0]
        assert not bag.exists() and not bag.with_name('out.partial').exists()

    # A camera that the drive does not have.
    fails('image_03/data: no such folder (camera 3)', extra=('--cameras', '3'))
    # Timestamps that do not match the frames.
    stamps = d / 'velodyne_points' / 'timestamps.txt'
    good = stamps.read_text()
    stamps.write_text(good.splitlines()[0] + '\n')
    fails('velodyne_points/timestamps.txt: 1 timestamps for 2 *.bin files')
    stamps.write_text('yesterday noon\n' + good.splitlines()[1] + '\n')
    fails('velodyne_points/timestamps.txt:1: not a KITTI timestamp')
    stamps.write_text(good)
    # An image whose size is not the calibration's.
    png = d / 'image_02' / 'data' / '0000000001.png'
    original = png.read_bytes()
    cv2.imwrite(str(png), np.zeros((38, 120, 3), np.uint8))
    fails('0000000001.png: image is 120x38, the calibration (S_rect_02) says 124x38')
    png.write_bytes(original)
    # A corrupt OXTS packet.
    packet = d / 'oxts' / 'data' / '0000000000.txt'
    packet.write_text('49.0 8.4\n')
    fails('oxts/data/0000000000.txt: an OXTS packet has 30 values, got 2')


def test_existing_output_and_bad_usage(tmp_path):
    drive = _fresh_drive(tmp_path)
    bag = tmp_path / 'out'
    bag.mkdir()
    (bag / 'keep').write_text('mine')
    proc = _run(drive.drive_dir, bag)
    assert proc.returncode == 1
    assert f'{bag}: exists already; choose another name or pass --overwrite' in proc.stderr
    assert (bag / 'keep').read_text() == 'mine'
    proc = _run(drive.drive_dir, bag, '--overwrite')
    assert proc.returncode == 0, proc.stderr
    assert not (bag / 'keep').exists() and (bag / 'metadata.yaml').is_file()
    proc = _run(drive.drive_dir, tmp_path / 'other', '--cameras', '5')
    assert proc.returncode == 2 and 'invalid choice' in proc.stderr
    proc = _run(tmp_path / 'nowhere', tmp_path / 'other')
    assert proc.returncode == 1 and 'nowhere: no such drive folder' in proc.stderr
    assert not (tmp_path / 'other').exists()
