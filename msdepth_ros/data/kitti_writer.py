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
Synthetic KITTI drives: the raw layout (and the depth benchmark's) written from road scenes.

``write_synthetic_drive`` writes a drive that the KITTI readers (and any tool written for the
real data set) take as a real one: ``DATE/calib_cam_to_cam.txt``, ``calib_velo_to_cam.txt``,
``calib_imu_to_velo.txt`` in the real files' format with the real 2011-09-26 values (scaled
when the images are smaller), ``DATE/DATE_drive_NNNN_sync/image_02/data/*.png`` and
``image_03`` (the two colour cameras of the stereo rig, each rendered from its own centre),
``velodyne_points/data/*.bin`` (a scan simulated from the exact scene depth and expressed in
the Velodyne frame through the calibration), ``oxts/data/*.txt`` (the car's straight drive),
and the ``timestamps.txt`` files. The camera rig drives forward along the street.

The rig: rectified camera 0 stands ``camera_height_m`` above the road's centre line, looking
down the street; every sensor sits where the calibration puts it relative to camera 0.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
import os
from pathlib import Path
from typing import Callable, Iterable, Sequence

from msdepth_ros.core.affine import PixelMap
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.synthetic import KITTI_CAMERA_HEIGHT_M, render, RoadLayout, SyntheticFrame
from msdepth_ros.data.base import write_png, write_text
from msdepth_ros.data.kitti import (benchmark_depth_path, format_calib_entries, KittiCalibration,
                                    lidar_depth_image, SplitEntry, timestamp_line,
                                    write_benchmark_depth, write_velodyne_points)
import numpy as np

# The real calibration of 2011-09-26 (the KITTI raw data set's calibration files of that day).
_REFERENCE_CAM_TO_CAM: tuple[tuple[str, str | tuple[float, ...]], ...] = (
    ('calib_time', '09-Jan-2012 13:57:47'),
    ('corner_dist', (9.950000e-02,)),
    ('S_00', (1.392000e+03, 5.120000e+02)),
    ('K_00', (
        9.842439e+02, 0.000000e+00, 6.900000e+02, 0.000000e+00, 9.808141e+02, 2.331966e+02,
        0.000000e+00, 0.000000e+00, 1.000000e+00,
    )),
    ('D_00', (-3.728755e-01, 2.037299e-01, 2.219027e-03, 1.383707e-03, -7.233722e-02)),
    ('R_00', (
        1.000000e+00, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00,
        0.000000e+00, 0.000000e+00, 1.000000e+00,
    )),
    ('T_00', (2.573699e-16, -1.059758e-16, 1.614870e-16)),
    ('S_rect_00', (1.242000e+03, 3.750000e+02)),
    ('R_rect_00', (
        9.999239e-01, 9.837760e-03, -7.445048e-03, -9.869795e-03, 9.999421e-01, -4.278459e-03,
        7.402527e-03, 4.351614e-03, 9.999631e-01,
    )),
    ('P_rect_00', (
        7.215377e+02, 0.000000e+00, 6.095593e+02, 0.000000e+00, 0.000000e+00, 7.215377e+02,
        1.728540e+02, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00,
    )),
    ('S_01', (1.392000e+03, 5.120000e+02)),
    ('K_01', (
        9.895267e+02, 0.000000e+00, 7.020000e+02, 0.000000e+00, 9.878386e+02, 2.455590e+02,
        0.000000e+00, 0.000000e+00, 1.000000e+00,
    )),
    ('D_01', (-3.644661e-01, 1.790019e-01, 1.148107e-03, -6.298563e-04, -5.314062e-02)),
    ('R_01', (
        9.993513e-01, 1.860866e-02, -3.083487e-02, -1.887662e-02, 9.997863e-01, -8.421873e-03,
        3.067156e-02, 8.998467e-03, 9.994890e-01,
    )),
    ('T_01', (-5.370000e-01, 4.822061e-03, -1.252488e-02)),
    ('S_rect_01', (1.242000e+03, 3.750000e+02)),
    ('R_rect_01', (
        9.996878e-01, -8.976826e-03, 2.331651e-02, 8.876121e-03, 9.999508e-01, 4.418952e-03,
        -2.335503e-02, -4.210612e-03, 9.997184e-01,
    )),
    ('P_rect_01', (
        7.215377e+02, 0.000000e+00, 6.095593e+02, -3.875744e+02, 0.000000e+00, 7.215377e+02,
        1.728540e+02, 0.000000e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 0.000000e+00,
    )),
    ('S_02', (1.392000e+03, 5.120000e+02)),
    ('K_02', (
        9.597910e+02, 0.000000e+00, 6.960217e+02, 0.000000e+00, 9.569251e+02, 2.241806e+02,
        0.000000e+00, 0.000000e+00, 1.000000e+00,
    )),
    ('D_02', (-3.691481e-01, 1.968681e-01, 1.353473e-03, 5.677587e-04, -6.770705e-02)),
    ('R_02', (
        9.999758e-01, -5.267463e-03, -4.552439e-03, 5.251945e-03, 9.999804e-01, -3.413835e-03,
        4.570332e-03, 3.389843e-03, 9.999838e-01,
    )),
    ('T_02', (5.956621e-02, 2.900141e-04, 2.577209e-03)),
    ('S_rect_02', (1.242000e+03, 3.750000e+02)),
    ('R_rect_02', (
        9.998817e-01, 1.511453e-02, -2.841595e-03, -1.511724e-02, 9.998853e-01, -9.338510e-04,
        2.827154e-03, 9.766976e-04, 9.999955e-01,
    )),
    ('P_rect_02', (
        7.215377e+02, 0.000000e+00, 6.095593e+02, 4.485728e+01, 0.000000e+00, 7.215377e+02,
        1.728540e+02, 2.163791e-01, 0.000000e+00, 0.000000e+00, 1.000000e+00, 2.745884e-03,
    )),
    ('S_03', (1.392000e+03, 5.120000e+02)),
    ('K_03', (
        9.037596e+02, 0.000000e+00, 6.957519e+02, 0.000000e+00, 9.019653e+02, 2.242509e+02,
        0.000000e+00, 0.000000e+00, 1.000000e+00,
    )),
    ('D_03', (-3.639558e-01, 1.788651e-01, 6.029694e-04, -3.922424e-04, -5.382460e-02)),
    ('R_03', (
        9.995599e-01, 1.699522e-02, -2.431313e-02, -1.704422e-02, 9.998531e-01, -1.809756e-03,
        2.427880e-02, 2.223358e-03, 9.997028e-01,
    )),
    ('T_03', (-4.731050e-01, 5.551470e-03, -5.250882e-03)),
    ('S_rect_03', (1.242000e+03, 3.750000e+02)),
    ('R_rect_03', (
        9.998321e-01, -7.193136e-03, 1.685599e-02, 7.232804e-03, 9.999712e-01, -2.293585e-03,
        -1.683901e-02, 2.415116e-03, 9.998553e-01,
    )),
    ('P_rect_03', (
        7.215377e+02, 0.000000e+00, 6.095593e+02, -3.395242e+02, 0.000000e+00, 7.215377e+02,
        1.728540e+02, 2.199936e+00, 0.000000e+00, 0.000000e+00, 1.000000e+00, 2.729905e-03,
    )),
)

_REFERENCE_VELO_TO_CAM: tuple[tuple[str, str | tuple[float, ...]], ...] = (
    ('calib_time', '15-Mar-2012 11:37:16'),
    ('R', (
        7.533745e-03, -9.999714e-01, -6.166020e-04, 1.480249e-02, 7.280733e-04, -9.998902e-01,
        9.998621e-01, 7.523790e-03, 1.480755e-02,
    )),
    ('T', (-4.069766e-03, -7.631618e-02, -2.717806e-01)),
    ('delta_f', (0.000000e+00, 0.000000e+00)),
    ('delta_c', (0.000000e+00, 0.000000e+00)),
)

_REFERENCE_IMU_TO_VELO: tuple[tuple[str, str | tuple[float, ...]], ...] = (
    ('calib_time', '25-May-2012 16:47:16'),
    ('R', (
        9.999976e-01, 7.553071e-04, -2.035826e-03, -7.854027e-04, 9.998898e-01, -1.482298e-02,
        2.024406e-03, 1.482454e-02, 9.998881e-01,
    )),
    ('T', (-8.086759e-01, 3.195559e-01, -7.997231e-01)),
)

#: Image size of the reference calibration's rectified cameras.
REFERENCE_SIZE = (1242, 375)

#: Elevation angles of the Velodyne HDL-64E's 64 lasers (degrees, +2 to -24.9, as specified).
HDL64_ELEVATIONS_DEG = tuple(float(e) for e in np.linspace(2.0, -24.9, 64))


def reference_calibration_entries(width: int = REFERENCE_SIZE[0],
                                  height: int = REFERENCE_SIZE[1]) -> dict[str, list]:
    """
    Entries of the three 2011-09-26 calibration files for images of ``width`` x ``height``.

    Returns file name -> list of ``(key, value)``. At the reference size the values are the
    real ones; otherwise the rectified sizes and projection matrices are those of the resized
    images (``P' = A P``, ``A`` the resize's pixel map, as ``KittiCalibration.resized``).
    """
    sx = width / REFERENCE_SIZE[0]
    sy = height / REFERENCE_SIZE[1]
    a = PixelMap.resize(sx, sy).matrix()
    cam = []
    for key, value in _REFERENCE_CAM_TO_CAM:
        # The unrectified entries (S_0i, K_0i, D_0i ...) describe the raw sensor and keep their
        # real values; the rectified images are the ones that change size.
        if (sx, sy) != (1.0, 1.0) and key.startswith('S_rect_'):
            cam.append((key, (float(width), float(height))))
        elif (sx, sy) != (1.0, 1.0) and key.startswith('P_rect_'):
            cam.append((key, tuple((a @ np.reshape(value, (3, 4))).reshape(-1))))
        else:
            cam.append((key, value))
    return {'calib_cam_to_cam.txt': cam,
            'calib_velo_to_cam.txt': list(_REFERENCE_VELO_TO_CAM),
            'calib_imu_to_velo.txt': list(_REFERENCE_IMU_TO_VELO)}


def write_raw_calibration(date_dir: str | os.PathLike, width: int = REFERENCE_SIZE[0],
                          height: int = REFERENCE_SIZE[1]) -> KittiCalibration:
    """Write the three calibration files into ``date_dir`` and return them as read back."""
    date_dir = Path(date_dir)
    for name, entries in reference_calibration_entries(width, height).items():
        write_text(date_dir / name, format_calib_entries(entries))
    return KittiCalibration.from_raw_dir(date_dir)


def reference_calibration(width: int = REFERENCE_SIZE[0],
                          height: int = REFERENCE_SIZE[1]) -> KittiCalibration:
    """Return the 2011-09-26 calibration for ``width`` x ``height`` images, without files."""
    files = reference_calibration_entries(width, height)

    def values(name: str) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=np.float64) for k, v in files[name]
                if not isinstance(v, str)}
    return KittiCalibration.from_raw_values(values('calib_cam_to_cam.txt'),
                                            values('calib_velo_to_cam.txt'),
                                            values('calib_imu_to_velo.txt'))


# -- sensors --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RigPose:
    """Where rectified camera 0 is: ``z_m`` metres along the street, ``height_m`` above it."""

    z_m: float
    height_m: float = KITTI_CAMERA_HEIGHT_M


def _render_at(layout: RoadLayout, intrinsics: Intrinsics, pose: RigPose,
               centre_rect0: np.ndarray) -> SyntheticFrame:
    # A sensor whose centre is at ``centre_rect0`` in rectified camera 0 coordinates (x right,
    # y down, z forward) stands at street x = c_x, height - c_y, z + c_z.
    return render(layout, intrinsics,
                  camera_z_m=pose.z_m + float(centre_rect0[2]),
                  camera_height_m=pose.height_m - float(centre_rect0[1]),
                  camera_x_m=float(centre_rect0[0]))


def render_camera(layout: RoadLayout, calibration: KittiCalibration, camera: int,
                  pose: RigPose) -> SyntheticFrame:
    """Render rectified camera ``camera`` of the rig at ``pose``."""
    return _render_at(layout, calibration.intrinsics(camera), pose,
                      -calibration.rect_offset(camera))


def simulate_velodyne(layout: RoadLayout, calibration: KittiCalibration, pose: RigPose,
                      azimuth_range_deg: tuple[float, float] = (-55.0, 55.0),
                      azimuth_step_deg: float = 0.18,
                      elevations_deg: Sequence[float] = HDL64_ELEVATIONS_DEG,
                      max_range_m: float = 120.0) -> np.ndarray:
    """
    Simulate a scan of the street from the rig's Velodyne, in the Velodyne frame.

    Each laser direction (elevation x azimuth, in the Velodyne frame: x forward, y left, z up)
    is looked up in a depth image rendered from the Velodyne's centre, and the point is the
    exact surface point on that image pixel's ray, so every point lies on the scene's surfaces.
    Only the forward sector ``azimuth_range_deg`` is simulated (the renderer is a forward
    pinhole camera); it covers the colour cameras' field of view.

    Returns ``N x 4`` float32: x, y, z in metres and a reflectance in [0, 1] (the surface's
    rendered brightness).
    """
    t_rect0_velo = calibration.T_rect0_velo()
    rotation = t_rect0_velo[:3, :3]
    origin = t_rect0_velo[:3, 3]
    el = np.radians(np.asarray(elevations_deg, dtype=np.float64))[:, None]
    az = np.radians(np.arange(azimuth_range_deg[0], azimuth_range_deg[1] + 1e-9,
                              azimuth_step_deg))[None, :]
    # Azimuth is counter-clockwise seen from above (towards +y, the left).
    d_velo = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az),
                       np.sin(el) * np.ones_like(az)], axis=-1).reshape(-1, 3)
    d = d_velo @ rotation.T
    d = d[d[:, 2] > 0.1]
    x, y = d[:, 0] / d[:, 2], d[:, 1] / d[:, 2]
    focal = 1.0 / math.tan(math.radians(azimuth_step_deg))
    cx, cy = 1.0 - focal * x.min(), 1.0 - focal * y.min()
    width = int(math.ceil(focal * x.max() + cx)) + 2
    height = int(math.ceil(focal * y.max() + cy)) + 2
    virtual = Intrinsics(focal, focal, cx, cy, width, height)
    frame = _render_at(layout, virtual, pose, origin)
    u = np.rint(focal * x + cx).astype(np.int64)
    v = np.rint(focal * y + cy).astype(np.int64)
    # Two lasers that land on one pixel would give one point twice.
    _, first = np.unique(v * width + u, return_index=True)
    u, v = u[np.sort(first)], v[np.sort(first)]
    z = frame.depth_m[v, u].astype(np.float64)
    ok = np.isfinite(z)
    u, v, z = u[ok], v[ok], z[ok]
    points_rect0 = np.stack([(u - cx) / focal * z, (v - cy) / focal * z, z], axis=-1) + origin
    points_velo = (points_rect0 - origin) @ rotation  # inverse of the rigid transform
    keep = np.linalg.norm(points_velo, axis=1) <= max_range_m
    reflectance = frame.image[v, u].mean(axis=1) / 255.0
    out = np.empty((int(keep.sum()), 4), dtype=np.float32)
    out[:, :3] = points_velo[keep]
    out[:, 3] = reflectance[keep]
    return out


# -- drives -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SyntheticDriveConfig:
    """
    What ``write_synthetic_drive`` writes.

    Attributes
    ----------
    date:
        Recording day folder, ``YYYY_MM_DD``.
    drive:
        Drive number (the folder is ``DATE_drive_NNNN_sync``).
    frames:
        Number of frames.
    seed:
        Street seed (``RoadLayout.random``).
    width, height:
        Image size of the colour cameras (the calibration is scaled to it).
    speed_mps, frame_rate_hz:
        The rig moves ``speed_mps / frame_rate_hz`` metres forward per frame.
    start_time_s:
        Time of the first frame, in seconds after midnight of ``date``.
    cameras:
        Colour cameras to render (2: ``image_02``, 3: ``image_03``).
    velodyne:
        Write ``velodyne_points``.
    oxts:
        Write ``oxts`` (GPS/IMU packets of the straight drive).

    """

    date: str = '2011_09_26'
    drive: int = 1
    frames: int = 10
    seed: int = 0
    width: int = REFERENCE_SIZE[0]
    height: int = REFERENCE_SIZE[1]
    speed_mps: float = 8.0
    frame_rate_hz: float = 10.0
    start_time_s: float = 13 * 3600 + 2 * 60 + 25.961661696
    cameras: tuple[int, ...] = (2, 3)
    velodyne: bool = True
    oxts: bool = True

    @property
    def drive_name(self) -> str:
        """``DATE_drive_NNNN_sync``."""
        return f'{self.date}_drive_{self.drive:04d}_sync'

    @property
    def step_m(self) -> float:
        """Metres driven between frames."""
        return self.speed_mps / self.frame_rate_hz


@dataclass(frozen=True)
class SyntheticDrive:
    """
    A written drive: where it is and what it holds.

    ``root``: the folder holding ``DATE/``; ``drive_dir``: the drive folder;
    ``calibration``: the calibration as read back from the written files; ``layout``: the
    street; ``poses``: the rig's pose at each frame; ``timestamps_s``: each frame's time
    (seconds after midnight); ``benchmark_dir``: the depth-benchmark drive folder, if written.
    """

    config: SyntheticDriveConfig
    root: Path
    drive_dir: Path
    calibration: KittiCalibration
    layout: RoadLayout
    poses: tuple[RigPose, ...]
    timestamps_s: tuple[float, ...]
    benchmark_dir: Path | None

    def entries(self, side: str = 'l') -> list[SplitEntry]:
        """Split entries of every frame for one camera (``l``: image_02, ``r``: image_03)."""
        return [SplitEntry(self.config.date, self.config.drive_name, i, side)
                for i in range(self.config.frames)]


def write_synthetic_drive(root: str | os.PathLike,
                          config: SyntheticDriveConfig = SyntheticDriveConfig(),
                          benchmark_root: str | os.PathLike | None = None,
                          progress: Callable[[Iterable[int]], Iterable[int]] | None = None
                          ) -> SyntheticDrive:
    """
    Write a synthetic drive in the KITTI raw layout under ``root``.

    Parameters
    ----------
    root:
        Folder of the raw data set (the drive goes to ``root/DATE/DATE_drive_NNNN_sync``).
    config:
        What to write.
    benchmark_root:
        When given, also write the depth benchmark's layout for the drive:
        ``benchmark_root/DRIVE/proj_depth/groundtruth/image_0C/FRAME.png`` (the exact rendered
        depth, sky and beyond 255 m left 0) and ``proj_depth/velodyne_raw/...`` (the simulated
        scan projected into the camera).
    progress:
        Wraps the frame range (``tqdm`` for a bar).

    Returns
    -------
    A ``SyntheticDrive`` describing what was written.

    """
    if config.frames < 1:
        raise ValueError(f'a drive needs at least one frame, got {config.frames}')
    for camera in config.cameras:
        if camera not in (2, 3):
            raise ValueError(f'synthetic drives render the colour cameras 2 and 3, not {camera}')
    root = Path(root)
    date_dir = root / config.date
    calibration = write_raw_calibration(date_dir, config.width, config.height)
    drive_dir = date_dir / config.drive_name
    length_m = config.step_m * (config.frames - 1)
    layout = RoadLayout.random(config.seed, length_m=length_m)
    poses = tuple(RigPose(z_m=i * config.step_m) for i in range(config.frames))
    times = tuple(config.start_time_s + i / config.frame_rate_hz for i in range(config.frames))
    bench_dir = Path(benchmark_root) / config.drive_name if benchmark_root is not None else None

    frames: Iterable[int] = range(config.frames)
    if progress is not None:
        frames = progress(frames)
    for i in frames:
        name = f'{i:010d}'
        scan = None
        if config.velodyne or bench_dir is not None:
            scan = simulate_velodyne(layout, calibration, poses[i])
        if config.velodyne:
            write_velodyne_points(drive_dir / 'velodyne_points' / 'data' / f'{name}.bin', scan)
        for camera in config.cameras:
            frame = render_camera(layout, calibration, camera, poses[i])
            write_png(drive_dir / f'image_0{camera}' / 'data' / f'{name}.png', frame.image)
            if bench_dir is not None:
                write_benchmark_depth(benchmark_depth_path(bench_dir.parent, config.drive_name,
                                                           camera, i, 'groundtruth'),
                                      frame.depth_m)
                write_benchmark_depth(benchmark_depth_path(bench_dir.parent, config.drive_name,
                                                           camera, i, 'velodyne_raw'),
                                      lidar_depth_image(scan, calibration, camera))
        if config.oxts:
            write_text(drive_dir / 'oxts' / 'data' / f'{name}.txt',
                       _oxts_line(poses[i].z_m, config.speed_mps) + '\n')

    stamps = ''.join(timestamp_line(t, config.date) + '\n' for t in times)
    for camera in config.cameras:
        write_text(drive_dir / f'image_0{camera}' / 'timestamps.txt', stamps)
    if config.velodyne:
        half_turn = 0.5 / config.frame_rate_hz
        write_text(drive_dir / 'velodyne_points' / 'timestamps.txt', stamps)
        write_text(drive_dir / 'velodyne_points' / 'timestamps_start.txt',
                   ''.join(timestamp_line(t - half_turn, config.date) + '\n' for t in times))
        write_text(drive_dir / 'velodyne_points' / 'timestamps_end.txt',
                   ''.join(timestamp_line(t + half_turn, config.date) + '\n' for t in times))
    if config.oxts:
        write_text(drive_dir / 'oxts' / 'timestamps.txt', stamps)
        write_text(drive_dir / 'oxts' / 'dataformat.txt', _OXTS_FORMAT)
    return SyntheticDrive(config=config, root=root, drive_dir=drive_dir,
                          calibration=calibration, layout=layout, poses=poses,
                          timestamps_s=times, benchmark_dir=bench_dir)


# -- OXTS -------------------------------------------------------------------------------------

#: Start of every synthetic drive (Karlsruhe, where KITTI was recorded), heading east.
_OXTS_ORIGIN_LAT_DEG = 49.011212804408
_OXTS_ORIGIN_LON_DEG = 8.4228850417969
_OXTS_ORIGIN_ALT_M = 112.83492279053
_EARTH_RADIUS_M = 6378137.0
_GRAVITY_MPS2 = 9.81

_OXTS_FIELDS = (
    'lat', 'lon', 'alt', 'roll', 'pitch', 'yaw', 'vn', 've', 'vf', 'vl', 'vu', 'ax', 'ay',
    'az', 'af', 'al', 'au', 'wx', 'wy', 'wz', 'wf', 'wl', 'wu', 'pos_accuracy',
    'vel_accuracy', 'navstat', 'numsats', 'posmode', 'velmode', 'orimode')
_OXTS_FORMAT = ''.join(f'{name}:\n' for name in _OXTS_FIELDS)


def _oxts_line(distance_m: float, speed_mps: float) -> str:
    """Format the OXTS packet of a level car ``distance_m`` east of the origin."""
    lat = _OXTS_ORIGIN_LAT_DEG
    lon = _OXTS_ORIGIN_LON_DEG + math.degrees(
        distance_m / (_EARTH_RADIUS_M * math.cos(math.radians(lat))))
    # Level, heading east (yaw 0), constant velocity: the accelerometers read gravity only.
    values = [lat, lon, _OXTS_ORIGIN_ALT_M, 0.0, 0.0, 0.0,
              0.0, speed_mps, speed_mps, 0.0, 0.0,
              0.0, 0.0, _GRAVITY_MPS2, 0.0, 0.0, _GRAVITY_MPS2,
              0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
              0.05, 0.02]
    statuses = [4, 10, 4, 4, 6]
    return ' '.join(repr(float(v)) for v in values) + ' ' + ' '.join(map(str, statuses))
