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
A KITTI raw drive (synced and rectified) as a rosbag2, without ROS: ``msdepth-kitti2bag``'s work.

Reads ``DATE/DATE_drive_NNNN_sync`` with the calibration files of ``DATE/`` and writes:

- ``/kitti/camera_color_left/image_raw`` (rgb8) and ``.../camera_info`` for camera 2, and on
  request ``/kitti/camera_color_right`` (3), ``/kitti/camera_gray_left`` (0) and
  ``/kitti/camera_gray_right`` (1, mono8). The images are rectified: the camera info has
  K = P_rect[:3, :3], R = identity, zero ``plumb_bob`` distortion and the P of
  ``sensor_msgs/CameraInfo``'s convention (``camera_info_p``), not KITTI's ``P_rect``. Frame
  id: the camera's optical frame (``camera_color_left_optical_frame`` ...).
- ``/kitti/velodyne_points`` (PointCloud2: x, y, z, intensity float32, unorganized, frame
  ``velodyne``).
- ``/tf_static`` (offered transient-local: latched on replay): ``base_link`` (the OXTS/IMU
  frame, the devkit's body frame) -> ``velodyne`` -> each rectified camera's optical frame.
  Without ``calib_imu_to_velo.txt`` the tree is rooted at ``velodyne``.
- ``/tf`` (``odom`` -> ``base_link``) from the OXTS packets, when the drive has them: the
  devkit's poses (``convertOxtsToPose``), the first pose as ``odom``.

Stamps: each message's header stamp and its bag time are the sensor's line of its
``timestamps.txt``, except that a camera info's bag time leads its image's by 1 ms (same header
stamp) so that a replay delivers the intrinsics before the image they describe. The files give
the local time of Karlsruhe (CEST, UTC+2 on every recording day), so the stamps are that
instant in Unix time; ``--utc-offset-h 0`` reads the files' clock as UTC instead. The bag is
written under ``OUT_BAG.partial/`` and renamed when complete.

Projection matrices. KITTI's ``P_rect_0i`` projects points of *rectified camera 0*: its fourth
column is camera i's offset from camera 0 (``P_rect_02``'s Tx = 44.857 px for camera 2's
6 cm). ``/tf_static`` puts each optical frame at its own camera's centre, so the bag follows
``sensor_msgs/CameraInfo`` (and image_geometry) instead:

- a left camera (0, 2) is a monocular camera: P = [K | 0] projects points in its own optical
  frame;
- a right camera (1, 3) is the right camera of a stereo pair whose left camera is 0 (for 1)
  or 2 (for 3): P = K [I | t_right - t_left] projects points given in the LEFT camera's
  optical frame, with Tx = P[0, 3] = -fx B, B the baseline (image_geometry's
  ``StereoCameraModel``: B = -Tx / fx). KITTI's rectified centres are not exactly collinear
  (2011_09_26: camera 3 sits 2.8 mm below camera 2), so Ty and P[2, 3] keep those millimetres
  and the projection stays exact (Ty alone is 0.4 px at 5 m).

Either way ``P @ [X; 1]`` of a Velodyne point X moved through the bag's tf (to the camera's
frame, for a right camera to its pair's left camera) is the pixel of KITTI's
``P_rect_0i R_rect_00 T_cam0_velo X``. Users who need only the intrinsics read K = P[:, :3]
and move points into the image's own frame (``header.frame_id``) through tf.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from msdepth_ros.bags.files import bag_qos, bag_types, BagOutput, tf_message
from msdepth_ros.core.intrinsics import IntrinsicsError
from msdepth_ros.core.transforms import invert
from msdepth_ros.data.base import DatasetError, read_image_rgb, read_png_unchanged
from msdepth_ros.data.kitti import (KittiCalibration, oxts_poses, read_oxts_packet,
                                    read_timestamps_ns, read_velodyne_points)
from msdepth_ros.msgs import topics
from msdepth_ros.msgs.writers import camera_info, header, image, pointcloud
import numpy as np


#: KITTI camera index -> (name, image encoding): ``image_0C`` of the drive.
CAMERAS = {0: ('camera_gray_left', 'mono8'), 1: ('camera_gray_right', 'mono8'),
           2: ('camera_color_left', 'rgb8'), 3: ('camera_color_right', 'rgb8')}
BASE_FRAME = 'base_link'
VELODYNE_FRAME = 'velodyne'
ODOM_FRAME = 'odom'
#: Hours that KITTI's ``timestamps.txt`` clock runs ahead of UTC (CEST in Karlsruhe, 2011).
KITTI_UTC_OFFSET_H = 2.0
#: Bag time by which a camera info precedes its image: a node that subscribes to both (image
#: first, as the depth node does) then has the intrinsics when the first image arrives.
CAMERA_INFO_LEAD_NS = 1_000_000


#: Right camera of a stereo pair -> its left camera (KITTI: grey 1 -> 0, colour 3 -> 2).
STEREO_LEFT = {1: 0, 3: 2}


def camera_namespace(camera: int) -> str:
    """``/kitti/camera_color_left`` and the like: the camera's topics live under it."""
    return f'{topics.KITTI_NAMESPACE}/{CAMERAS[camera][0]}'


def image_topic(camera: int) -> str:
    """Image topic of a KITTI camera."""
    return f'{camera_namespace(camera)}/{topics.KITTI_IMAGE}'


def camera_info_topic(camera: int) -> str:
    """Camera info topic of a KITTI camera."""
    return f'{camera_namespace(camera)}/{topics.CAMERA_INFO}'


def optical_frame(camera: int) -> str:
    """Frame id of a rectified camera's optical frame (x right, y down, z forward)."""
    return f'{CAMERAS[camera][0]}_optical_frame'


# -- the drive's files ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SensorFiles:
    """One sensor's data files in time order and their stamps (Unix nanoseconds)."""

    folder: Path
    files: tuple[Path, ...]
    stamps_ns: np.ndarray


@dataclass(frozen=True)
class KittiDrive:
    """What a drive folder holds, checked: calibration, cameras, Velodyne, OXTS poses."""

    drive_dir: Path
    calibration: KittiCalibration
    cameras: dict[int, SensorFiles]
    velodyne: SensorFiles | None
    oxts: SensorFiles | None
    oxts_poses: np.ndarray | None
    notes: tuple[str, ...]


def _sensor_files(folder: Path, pattern: str, utc_offset_s: float, what: str) -> SensorFiles:
    data = folder / 'data'
    if not data.is_dir():
        raise DatasetError(f'{data}: no such folder ({what})')
    files = tuple(sorted(data.glob(pattern)))
    if not files:
        raise DatasetError(f'{data}: no {pattern} files ({what})')
    stamps_path = folder / 'timestamps.txt'
    stamps = read_timestamps_ns(stamps_path, utc_offset_s)
    if len(stamps) != len(files):
        raise DatasetError(f'{stamps_path}: {len(stamps)} timestamps for {len(files)} '
                           f'{pattern} files in {data}')
    return SensorFiles(folder=folder, files=files, stamps_ns=stamps)


def read_drive(drive_dir: Path, cameras: Sequence[int], velodyne: bool = True,
               utc_offset_s: float = KITTI_UTC_OFFSET_H * 3600.0) -> KittiDrive:
    """
    Find and check a drive's files (nothing large is read yet; OXTS packets are).

    Raises ``DatasetError`` naming the file and the cause: missing calibration, folders,
    timestamps that do not match the frames, unreadable OXTS packets.
    """
    if not drive_dir.is_dir():
        raise DatasetError(f'{drive_dir}: no such drive folder')
    date_dir = drive_dir.resolve().parent
    calibration = KittiCalibration.from_raw_dir(date_dir)
    for camera in cameras:
        try:
            calibration.intrinsics(camera)
        except IntrinsicsError as exc:
            raise DatasetError(f'{date_dir / "calib_cam_to_cam.txt"}: P_rect_0{camera}: '
                               f'{exc}') from None
    notes = []
    found = {camera: _sensor_files(drive_dir / f'image_0{camera}', '*.png', utc_offset_s,
                                   f'camera {camera}') for camera in cameras}
    scans = None
    if velodyne and (drive_dir / 'velodyne_points').is_dir():
        scans = _sensor_files(drive_dir / 'velodyne_points', '*.bin', utc_offset_s,
                              'Velodyne scans')
    elif velodyne:
        notes.append(f'{drive_dir / "velodyne_points"}: no such folder; the bag has no '
                     f'{topics.KITTI_VELODYNE}')
    oxts, poses = None, None
    if calibration.T_velo_imu is None:
        notes.append(f'{date_dir / "calib_imu_to_velo.txt"}: missing; the transform tree is '
                     f'rooted at {VELODYNE_FRAME} (no {BASE_FRAME}) and has no {topics.TF} '
                     'from OXTS')
    elif (drive_dir / 'oxts').is_dir():
        oxts = _sensor_files(drive_dir / 'oxts', '*.txt', utc_offset_s, 'OXTS packets')
        poses = oxts_poses(np.stack([read_oxts_packet(path) for path in oxts.files]))
    return KittiDrive(drive_dir=drive_dir, calibration=calibration, cameras=found,
                      velodyne=scans, oxts=oxts, oxts_poses=poses, notes=tuple(notes))


# -- messages -------------------------------------------------------------------------------------

def static_transforms(calibration: KittiCalibration) -> list[tuple[str, str, np.ndarray]]:
    """
    ``(parent, child, T_parent_child)`` of the rig from the calibration files.

    ``base_link`` (IMU) -> ``velodyne`` (``T_velo_imu`` inverted; left out without the IMU
    calibration) -> every rectified camera's optical frame (``T_cam_velo`` inverted).
    """
    transforms = []
    if calibration.T_velo_imu is not None:
        transforms.append((BASE_FRAME, VELODYNE_FRAME, invert(calibration.T_velo_imu)))
    for camera in sorted(CAMERAS):
        transforms.append((VELODYNE_FRAME, optical_frame(camera),
                           invert(calibration.T_cam_velo(camera))))
    return transforms


def camera_info_p(calibration: KittiCalibration, camera: int) -> np.ndarray:
    """
    Return the 3x4 CameraInfo P of a rectified KITTI camera (float64, pixels).

    Left cameras (0, 2): ``[K | 0]`` in their own optical frame. Right cameras (1, 3):
    ``K [I | t_right - t_left]`` for points in the optical frame of the pair's left camera
    (``STEREO_LEFT``), ``t`` being ``KittiCalibration.rect_offset``; its Tx is ``-fx B``.
    """
    k = np.asarray(calibration.p_rect[camera][:, :3], dtype=np.float64)
    p = np.zeros((3, 4))
    p[:, :3] = k
    if camera in STEREO_LEFT:
        offset = calibration.rect_offset(camera) - calibration.rect_offset(STEREO_LEFT[camera])
        p[:, 3] = k @ offset
    return p


def kitti_camera_info(calibration: KittiCalibration, camera: int, stamp_ns: int) -> Any:
    """Camera info of a rectified KITTI camera: K = P_rect[:3, :3], R = I, P = camera_info_p."""
    intrinsics = calibration.intrinsics(camera)
    return camera_info(bag_types(), header(bag_types(), stamp_ns, optical_frame(camera)),
                       intrinsics.width, intrinsics.height, intrinsics.k_matrix(),
                       camera_info_p(calibration, camera))


def read_camera_image(path: Path, camera: int, calibration: KittiCalibration) -> np.ndarray:
    """
    Read a camera's PNG and check its size against the calibration.

    Returns ``H x W x 3`` uint8 RGB (colour cameras 2, 3) or ``H x W`` uint8 (grey 0, 1).
    """
    if CAMERAS[camera][1] == 'rgb8':
        pixels = read_image_rgb(path)
    else:
        pixels = read_png_unchanged(path)
        if pixels.dtype != np.uint8 or pixels.ndim != 2:
            raise DatasetError(f'{path}: a grey camera image is single-channel 8-bit, got '
                               f'{pixels.dtype} with shape {pixels.shape}')
    height, width = pixels.shape[:2]
    expected = calibration.image_sizes[camera]
    if (width, height) != expected:
        raise DatasetError(f'{path}: image is {width}x{height}, the calibration '
                           f'(S_rect_0{camera}) says {expected[0]}x{expected[1]}')
    return pixels


def velodyne_message(path: Path, stamp_ns: int) -> Any:
    """Velodyne scan of a ``.bin`` as an unorganized x, y, z, intensity cloud."""
    return pointcloud(bag_types(), header(bag_types(), stamp_ns, VELODYNE_FRAME),
                      read_velodyne_points(path), ('x', 'y', 'z', 'intensity'), point_step=16)


# -- conversion -----------------------------------------------------------------------------------

def _events(drive: KittiDrive) -> list[tuple[int, int, str, int, int]]:
    """``(stamp, order, kind, sensor, index)`` of every message group, in writing order."""
    events = []
    for camera, files in drive.cameras.items():
        events += [(int(t), 1, 'camera', camera, i) for i, t in enumerate(files.stamps_ns)]
    if drive.velodyne is not None:
        events += [(int(t), 2, 'velodyne', 0, i) for i, t in enumerate(drive.velodyne.stamps_ns)]
    if drive.oxts is not None:
        events += [(int(t), 0, 'tf', 0, i) for i, t in enumerate(drive.oxts.stamps_ns)]
    return sorted(events)


def convert(drive: KittiDrive, out: BagOutput,
            progress: Callable[[Iterable[Any]], Iterable[Any]] = iter) -> dict[str, int]:
    """
    Write every message of ``drive`` into the open ``out`` in time order.

    ``/tf_static`` comes first, stamped with the drive's first stamp; a camera's info comes
    ``CAMERA_INFO_LEAD_NS`` of bag time before its image. ``progress`` wraps the message
    groups (``tqdm``). Returns the number of messages per topic.
    """
    events = _events(drive)
    if not events:
        raise DatasetError(f'{drive.drive_dir}: nothing to convert')
    reliable = bag_qos()
    connections: dict[str, Any] = {}
    counts: dict[str, int] = {}

    def write(topic: str, msgtype: str, stamp: int, msg: Any, qos: Any = reliable) -> None:
        if topic not in connections:
            connections[topic] = out.add_connection(topic, msgtype, qos)
            counts[topic] = 0
        out.write(connections[topic], stamp, msg)
        counts[topic] += 1

    calibration = drive.calibration
    first = events[0][0]
    write(topics.TF_STATIC, 'tf2_msgs/msg/TFMessage', first - CAMERA_INFO_LEAD_NS,
          tf_message(first, static_transforms(calibration)),
          bag_qos(transient_local=True, depth=1))
    for stamp, _, kind, sensor, index in progress(events):
        if kind == 'camera':
            pixels = read_camera_image(drive.cameras[sensor].files[index], sensor, calibration)
            write(camera_info_topic(sensor), 'sensor_msgs/msg/CameraInfo',
                  stamp - CAMERA_INFO_LEAD_NS, kitti_camera_info(calibration, sensor, stamp))
            write(image_topic(sensor), 'sensor_msgs/msg/Image', stamp,
                  image(bag_types(), pixels, CAMERAS[sensor][1],
                        header(bag_types(), stamp, optical_frame(sensor))))
        elif kind == 'velodyne':
            write(topics.KITTI_VELODYNE, 'sensor_msgs/msg/PointCloud2', stamp,
                  velodyne_message(drive.velodyne.files[index], stamp))
        else:
            write(topics.TF, 'tf2_msgs/msg/TFMessage', stamp,
                  tf_message(stamp, [(ODOM_FRAME, BASE_FRAME, drive.oxts_poses[index])]),
                  bag_qos(depth=100))
    return counts
