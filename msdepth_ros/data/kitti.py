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
KITTI: calibration, Velodyne ground truth, split files, the raw and benchmark layouts.

Frames (all right-handed, metres):

- Velodyne: x forward, y left, z up.
- Camera 0 (unrectified): ``T_cam0_velo`` from ``calib_velo_to_cam.txt`` (object layout:
  ``Tr_velo_to_cam``).
- Rectified camera 0: ``R_rect_00`` rotates camera 0 into the common rectified orientation
  (object layout: ``R0_rect``).
- Rectified camera i (optical frame, x right, y down, z forward): rectified camera 0 shifted by
  the translation that ``P_rect_0i``'s fourth column encodes, ``t_i = K_i^-1 P_rect_0i[:, 3]``:
  a point's coordinates in camera i are its rectified camera 0 coordinates plus ``t_i``
  (2011-09-26: ``t_2`` is about +0.06 m and ``t_3`` about -0.47 m in x, the stereo baseline).

So a Velodyne point ``X`` is ``T_cam_velo(i) @ X`` in camera i's optical frame, and
``P_rect_0i @ R_rect_00 @ T_cam0_velo @ X`` is its (homogeneous) pixel, the projection of the
KITTI development kit. ``KittiCalibration`` reads the raw layout (``calib_cam_to_cam.txt``,
``calib_velo_to_cam.txt``, ``calib_imu_to_velo.txt``) and the object-benchmark layout (``P0``
.. ``P3``, ``R0_rect``, ``Tr_velo_to_cam``, ``Tr_imu_to_velo``) into the same object.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
import math
import os
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from msdepth_ros.core.affine import PixelMap
from msdepth_ros.core.camera import depth_image_from_points
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.transforms import invert
from msdepth_ros.data.base import (DatasetError, depth_from_uint16, depth_to_uint16, DepthDataset,
                                   DepthSample, read_image_rgb, read_png_unchanged,
                                   write_atomically, write_png, write_text)
import numpy as np

#: The depth benchmark stores depth as uint16 PNG: value / 256 = metres, 0 = no ground truth.
BENCHMARK_UNITS_PER_METRE = 256.0

#: Camera index of the split files' sides: ``l`` = image_02, ``r`` = image_03.
SIDE_TO_CAMERA = {'l': 2, 'r': 3}
CAMERA_TO_SIDE = {v: k for k, v in SIDE_TO_CAMERA.items()}


# -- calibration files ----------------------------------------------------------------------

def read_calib_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """
    Read a KITTI calibration file of ``key: v1 v2 ...`` lines.

    Returns key -> float64 array of the values. Lines whose values are not numbers (such as
    ``calib_time: 09-Jan-2012 13:57:47``) and blank lines are skipped.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such calibration file')
    values: dict[str, np.ndarray] = {}
    try:
        text = path.read_text(encoding='utf-8')
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f'{path}: unreadable calibration file: {exc}') from None
    for line in text.splitlines():
        key, sep, rest = line.partition(':')
        if not sep:
            continue
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            continue
    return values


def format_calib_entries(entries: Iterable[tuple[str, str | Sequence[float]]]) -> str:
    """Text of a calibration file in KITTI's format (``key: %e %e ...``, one per line)."""
    lines = []
    for key, value in entries:
        if isinstance(value, str):
            lines.append(f'{key}: {value}')
        else:
            lines.append(f'{key}: ' + ' '.join(f'{float(v):e}' for v in value))
    return '\n'.join(lines) + '\n'


def _entry(values: Mapping[str, np.ndarray], key: str, size: int, path: Path) -> np.ndarray:
    if key not in values:
        raise DatasetError(f'{path}: calibration has no {key!r} entry')
    value = values[key]
    if value.size != size:
        raise DatasetError(f'{path}: {key!r} must have {size} values, got {value.size}')
    return value


def _rigid(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    t = np.eye(4)
    t[:3, :3] = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
    t[:3, 3] = np.asarray(translation, dtype=np.float64).reshape(3)
    return t


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.array(array, dtype=np.float64)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class KittiCalibration:
    """
    The calibration of one KITTI recording day (or of one object-benchmark frame).

    Attributes
    ----------
    p_rect:
        ``P_rect_00`` .. ``P_rect_03``: 3x4 projection matrices of the rectified cameras, in
        rectified camera 0 coordinates.
    r_rect_00:
        3x3 rectifying rotation of camera 0.
    image_sizes:
        ``(width, height)`` of each rectified camera's images (``S_rect_0i``).
    T_cam0_velo:
        4x4 transform from the Velodyne frame to (unrectified) camera 0.
    T_velo_imu:
        4x4 transform from the IMU (OXTS) frame to the Velodyne frame, when known.

    """

    p_rect: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
    r_rect_00: np.ndarray
    image_sizes: tuple[tuple[int, int], ...]
    T_cam0_velo: np.ndarray
    T_velo_imu: np.ndarray | None = None

    def __post_init__(self) -> None:
        if len(self.p_rect) != 4 or len(self.image_sizes) != 4:
            raise DatasetError('KITTI calibration needs four cameras (P_rect_00 .. P_rect_03)')
        object.__setattr__(self, 'p_rect', tuple(_frozen(np.reshape(p, (3, 4)))
                                                 for p in self.p_rect))
        object.__setattr__(self, 'r_rect_00', _frozen(np.reshape(self.r_rect_00, (3, 3))))
        object.__setattr__(self, 'T_cam0_velo', _frozen(np.reshape(self.T_cam0_velo, (4, 4))))
        if self.T_velo_imu is not None:
            object.__setattr__(self, 'T_velo_imu', _frozen(np.reshape(self.T_velo_imu, (4, 4))))
        object.__setattr__(self, 'image_sizes', tuple((int(w), int(h))
                                                      for w, h in self.image_sizes))

    # -- reading ----------------------------------------------------------------------------

    @classmethod
    def from_raw_files(cls, cam_to_cam: str | os.PathLike, velo_to_cam: str | os.PathLike,
                       imu_to_velo: str | os.PathLike | None = None) -> KittiCalibration:
        """Read the raw layout's cam-to-cam, velo-to-cam (and imu-to-velo) files."""
        return cls.from_raw_values(
            read_calib_file(cam_to_cam), read_calib_file(velo_to_cam),
            read_calib_file(imu_to_velo) if imu_to_velo is not None else None,
            sources=(str(cam_to_cam), str(velo_to_cam), str(imu_to_velo)))

    @classmethod
    def from_raw_values(cls, cam_to_cam: Mapping[str, np.ndarray],
                        velo_to_cam: Mapping[str, np.ndarray],
                        imu_to_velo: Mapping[str, np.ndarray] | None = None,
                        sources: tuple[str, str, str] = ('calib_cam_to_cam',
                                                         'calib_velo_to_cam',
                                                         'calib_imu_to_velo')
                        ) -> KittiCalibration:
        """
        Build from the raw files' parsed entries (``read_calib_file`` of each).

        ``sources`` names the three files in error messages.
        """
        c2c_path, v2c_path, i2v_path = (Path(s) for s in sources)
        c2c, v2c = cam_to_cam, velo_to_cam
        p_rect = tuple(_entry(c2c, f'P_rect_0{i}', 12, c2c_path) for i in range(4))
        sizes = tuple(tuple(_entry(c2c, f'S_rect_0{i}', 2, c2c_path)) for i in range(4))
        r_rect = _entry(c2c, 'R_rect_00', 9, c2c_path)
        t_cam0_velo = _rigid(_entry(v2c, 'R', 9, v2c_path), _entry(v2c, 'T', 3, v2c_path))
        t_velo_imu = None
        if imu_to_velo is not None:
            t_velo_imu = _rigid(_entry(imu_to_velo, 'R', 9, i2v_path),
                                _entry(imu_to_velo, 'T', 3, i2v_path))
        for (w, h), i in zip(sizes, range(4)):
            if w != int(w) or h != int(h) or w <= 0 or h <= 0:
                raise DatasetError(f'{c2c_path}: S_rect_0{i} is not an image size: {w} {h}')
        return cls(p_rect=p_rect, r_rect_00=r_rect, image_sizes=sizes,
                   T_cam0_velo=t_cam0_velo, T_velo_imu=t_velo_imu)

    @classmethod
    def from_raw_dir(cls, date_dir: str | os.PathLike) -> KittiCalibration:
        """Read the calibration files of a raw recording day folder (``.../2011_09_26``)."""
        date_dir = Path(date_dir)
        imu = date_dir / 'calib_imu_to_velo.txt'
        return cls.from_raw_files(date_dir / 'calib_cam_to_cam.txt',
                                  date_dir / 'calib_velo_to_cam.txt',
                                  imu if imu.is_file() else None)

    @classmethod
    def from_object_file(cls, path: str | os.PathLike,
                         image_size: tuple[int, int]) -> KittiCalibration:
        """
        Read an object-benchmark calibration file (``calib/000000.txt``).

        Parameters
        ----------
        path:
            The file, with ``P0`` .. ``P3``, ``R0_rect``, ``Tr_velo_to_cam`` and
            ``Tr_imu_to_velo`` entries.
        image_size:
            ``(width, height)`` of the frame's images; the object layout does not record it.

        """
        path = Path(path)
        values = read_calib_file(path)
        p_rect = tuple(_entry(values, f'P{i}', 12, path) for i in range(4))
        r_rect = _entry(values, 'R0_rect', 9, path)
        tr = _entry(values, 'Tr_velo_to_cam', 12, path).reshape(3, 4)
        t_velo_imu = None
        if 'Tr_imu_to_velo' in values:
            ti = _entry(values, 'Tr_imu_to_velo', 12, path).reshape(3, 4)
            t_velo_imu = _rigid(ti[:, :3], ti[:, 3])
        return cls(p_rect=p_rect, r_rect_00=r_rect, image_sizes=(tuple(image_size),) * 4,
                   T_cam0_velo=_rigid(tr[:, :3], tr[:, 3]), T_velo_imu=t_velo_imu)

    # -- transforms -------------------------------------------------------------------------

    def _check_camera(self, camera: int) -> int:
        if camera not in (0, 1, 2, 3):
            raise ValueError(f'KITTI camera must be 0, 1, 2 or 3, got {camera!r}')
        return int(camera)

    def intrinsics(self, camera: int) -> Intrinsics:
        """Rectified intrinsics of camera ``camera`` (0, 1: grey; 2, 3: colour)."""
        camera = self._check_camera(camera)
        w, h = self.image_sizes[camera]
        return Intrinsics.from_p(self.p_rect[camera], w, h)

    def rect_offset(self, camera: int) -> np.ndarray:
        """
        Return the translation from rectified camera 0 to rectified camera ``camera``.

        ``t = K^-1 P_rect_0i[:, 3]`` (3,) in metres: a point's coordinates in camera i are its
        rectified camera 0 coordinates plus ``t``, so camera i's centre is at ``-t``.
        """
        p = self.p_rect[self._check_camera(camera)]
        return np.linalg.solve(p[:, :3], p[:, 3])

    def T_cam_rect0(self, camera: int) -> np.ndarray:
        """4x4 transform from rectified camera 0 to rectified camera ``camera``."""
        t = np.eye(4)
        t[:3, 3] = self.rect_offset(camera)
        return t

    def T_rect0_velo(self) -> np.ndarray:
        """4x4 transform from the Velodyne frame to rectified camera 0."""
        r = np.eye(4)
        r[:3, :3] = self.r_rect_00
        return r @ self.T_cam0_velo

    def T_cam_velo(self, camera: int) -> np.ndarray:
        """
        4x4 transform from the Velodyne frame to rectified camera ``camera``'s optical frame.

        Rectification (``R_rect_00``) and the camera's offset (``rect_offset``) are included.
        """
        return self.T_cam_rect0(camera) @ self.T_rect0_velo()

    def T_cam_imu(self, camera: int) -> np.ndarray:
        """4x4 transform from the IMU frame to rectified camera ``camera``."""
        if self.T_velo_imu is None:
            raise DatasetError('this calibration has no IMU-to-Velodyne transform')
        return self.T_cam_velo(camera) @ self.T_velo_imu

    def baseline_m(self, camera_a: int = 2, camera_b: int = 3) -> float:
        """Distance in metres between the centres of two rectified cameras."""
        return float(np.linalg.norm(self.rect_offset(camera_a) - self.rect_offset(camera_b)))

    def resized(self, width: int, height: int) -> KittiCalibration:
        """
        Calibration of every camera's images resized to ``width`` x ``height``.

        ``P' = A P`` with ``A`` the pixel map of the resize (``core.affine.PixelMap.resize``),
        so the extrinsics and each camera's offset ``t`` stay the same.
        """
        p_new = []
        for p, (w, h) in zip(self.p_rect, self.image_sizes):
            p_new.append(pixel_map_matrix(PixelMap.resize(width / w, height / h)) @ p)
        return KittiCalibration(p_rect=tuple(p_new), r_rect_00=self.r_rect_00,
                                image_sizes=((width, height),) * 4,
                                T_cam0_velo=self.T_cam0_velo, T_velo_imu=self.T_velo_imu)


def pixel_map_matrix(pixel_map: PixelMap) -> np.ndarray:
    """3x3 matrix of a pixel map on homogeneous pixels: ``P' = A P`` for projection matrices."""
    return np.array([[pixel_map.x.scale, 0.0, pixel_map.x.offset],
                     [0.0, pixel_map.y.scale, pixel_map.y.offset], [0.0, 0.0, 1.0]])


def transform_points(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 rigid transform to ``N x 3`` (or the first 3 columns of ``N x K``) points."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] < 3:
        raise ValueError(f'points must be N x 3 (or more columns), got {points.shape}')
    xyz = points[:, :3].astype(np.float64)
    return xyz @ transform[:3, :3].T + transform[:3, 3]


# -- Velodyne scans ---------------------------------------------------------------------------

def read_velodyne_points(path: str | os.PathLike) -> np.ndarray:
    """Read a Velodyne scan (``.bin``: float32 x, y, z, reflectance) as ``N x 4`` float32."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such Velodyne scan')
    data = np.fromfile(path, dtype='<f4')
    if data.size % 4:
        raise DatasetError(f'{path}: {data.size * 4} bytes is not a whole number of 16-byte '
                           'points (truncated file?)')
    return data.reshape(-1, 4)


def write_velodyne_points(path: str | os.PathLike, points: np.ndarray) -> Path:
    """Write ``N x 4`` points (x, y, z, reflectance) as a KITTI ``.bin`` scan."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] != 4:
        raise ValueError(f'points must be N x 4, got {points.shape}')
    data = np.ascontiguousarray(points, dtype='<f4')
    return write_atomically(path, lambda tmp: data.tofile(tmp))


#: Pixel conventions of Velodyne ground truth. ``exact``: a point lands on the pixel whose
#: centre is nearest to its projection (pixel centres at 0-based integers). ``eigen``: the
#: convention of the published KITTI tables (Eigen's MATLAB code, monodepth2's
#: ``generate_depth_map``): the rounded projection minus 1 in x and y, so every point sits one
#: pixel up and left of ``exact``.
GT_PIXEL_CONVENTIONS = ('exact', 'eigen')


def lidar_depth_image(points_velo: np.ndarray, calibration: KittiCalibration,
                      camera: int, pixel_convention: str = 'exact') -> np.ndarray:
    """
    Ground-truth depth of camera ``camera`` from a Velodyne scan.

    ``exact``: the points are moved into the rectified camera's optical frame
    (``T_cam_velo``) and projected with its intrinsics; the nearest point wins a pixel and
    points behind the camera are dropped (``core.camera.depth_image_from_points``).
    ``eigen``: ``eigen_lidar_depth_image``. Returns ``H x W`` float32 metres, NaN where no
    point landed.
    """
    if pixel_convention == 'eigen':
        return eigen_lidar_depth_image(points_velo, calibration, camera)
    if pixel_convention != 'exact':
        raise ValueError(f'pixel_convention must be one of {GT_PIXEL_CONVENTIONS}, got '
                         f'{pixel_convention!r}')
    points_cam = transform_points(calibration.T_cam_velo(camera), points_velo)
    return depth_image_from_points(points_cam, calibration.intrinsics(camera))


def eigen_lidar_depth_image(points_velo: np.ndarray, calibration: KittiCalibration,
                            camera: int) -> np.ndarray:
    """
    Ground truth as the published KITTI tables compute it (Eigen split evaluation).

    The chain of monodepth2's ``generate_depth_map`` (after Eigen's MATLAB code): points with
    Velodyne ``x >= 0`` are projected with ``P_rect_0i @ R_rect_00 @ T_cam0_velo``; the pixel
    is ``round(u) - 1, round(v) - 1`` (a 1-based MATLAB index used as a 0-based one), kept
    inside the image; the nearest point wins a pixel, and a pixel whose nearest value is not
    positive (a point beside the camera) has no ground truth. Returns ``H x W`` float32
    metres, NaN where no point landed.
    """
    points = np.asarray(points_velo)
    if points.ndim != 2 or points.shape[1] < 3:
        raise ValueError(f'points must be N x 3 (or more columns), got {points.shape}')
    xyz = points[points[:, 0] >= 0, :3].astype(np.float64)
    matrix = calibration.p_rect[calibration._check_camera(camera)] @ calibration.T_rect0_velo()
    hom = xyz @ matrix[:, :3].T + matrix[:, 3]
    width, height = calibration.image_sizes[camera]
    with np.errstate(divide='ignore', invalid='ignore'):
        u = np.round(hom[:, 0] / hom[:, 2]) - 1
        v = np.round(hom[:, 1] / hom[:, 2]) - 1
    keep = (u >= 0) & (v >= 0) & (u < width) & (v < height)
    u, v, z = u[keep].astype(np.int64), v[keep].astype(np.int64), hom[keep, 2]
    depth = np.full(width * height, np.inf)
    np.minimum.at(depth, v * width + u, z)
    depth[~(depth > 0) | np.isinf(depth)] = np.nan
    return depth.reshape(height, width).astype(np.float32)


# -- split files ------------------------------------------------------------------------------

@dataclass(frozen=True)
class SplitEntry:
    """
    One line of a split file: ``DATE/DATE_drive_NNNN_sync FRAME SIDE``.

    ``side`` is ``l`` (camera 2, ``image_02``) or ``r`` (camera 3, ``image_03``).
    """

    date: str
    drive: str
    frame: int
    side: str

    @property
    def camera(self) -> int:
        """Return the camera index (2 or 3)."""
        return SIDE_TO_CAMERA[self.side]

    @property
    def folder(self) -> str:
        """``DATE/DRIVE`` as the split files write it."""
        return f'{self.date}/{self.drive}'

    @property
    def name(self) -> str:
        """Return the entry's unique name: its split line with a zero-padded frame."""
        return self.line()

    def line(self, zero_pad: bool = True) -> str:
        """Format the entry as split files write it (frame zero-padded to 10 digits, or not)."""
        frame = f'{self.frame:010d}' if zero_pad else str(self.frame)
        return f'{self.folder} {frame} {self.side}'


def parse_split_line(line: str, where: str = 'split line') -> SplitEntry:
    """Parse ``DATE/DRIVE FRAME l|r``; ``where`` names the line in error messages."""
    parts = line.split()
    if len(parts) != 3:
        raise DatasetError(f'{where}: expected "DATE/DRIVE_sync FRAME l|r", got {line!r}')
    folder, frame, side = parts
    date, sep, drive = folder.partition('/')
    if not sep or not date or not drive or '/' in drive:
        raise DatasetError(f'{where}: expected DATE/DRIVE before the frame, got {folder!r}')
    if not frame.isdigit():
        raise DatasetError(f'{where}: frame must be a non-negative integer, got {frame!r}')
    if side not in SIDE_TO_CAMERA:
        raise DatasetError(f"{where}: side must be 'l' or 'r', got {side!r}")
    return SplitEntry(date=date, drive=drive, frame=int(frame), side=side)


def read_split_file(path: str | os.PathLike) -> list[SplitEntry]:
    """Read a split file (Eigen test split, training lists); blank lines are skipped."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such split file')
    entries = []
    for lineno, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        if line.strip():
            entries.append(parse_split_line(line, f'{path}:{lineno}'))
    if not entries:
        raise DatasetError(f'{path}: split file lists no frames')
    return entries


def write_split_file(path: str | os.PathLike, entries: Iterable[SplitEntry],
                     zero_pad: bool = True) -> Path:
    """Write split-file lines atomically."""
    return write_text(path, ''.join(e.line(zero_pad) + '\n' for e in entries))


# -- the raw layout -----------------------------------------------------------------------------

def raw_drive_dir(root: str | os.PathLike, entry: SplitEntry) -> Path:
    """``ROOT/DATE/DRIVE``."""
    return Path(root) / entry.date / entry.drive


def raw_image_path(root: str | os.PathLike, entry: SplitEntry) -> Path:
    """``ROOT/DATE/DRIVE/image_0C/data/FRAME.png`` (``.jpg`` where only a JPEG exists)."""
    base = raw_drive_dir(root, entry) / f'image_0{entry.camera}' / 'data' / f'{entry.frame:010d}'
    png = base.with_suffix('.png')
    if not png.is_file() and base.with_suffix('.jpg').is_file():
        return base.with_suffix('.jpg')
    return png


def raw_velodyne_path(root: str | os.PathLike, entry: SplitEntry) -> Path:
    """``ROOT/DATE/DRIVE/velodyne_points/data/FRAME.bin``."""
    return (raw_drive_dir(root, entry) / 'velodyne_points' / 'data'
            / f'{entry.frame:010d}.bin')


# -- the depth-benchmark layout ---------------------------------------------------------------

def benchmark_depth_path(root: str | os.PathLike, drive: str, camera: int, frame: int,
                         kind: str = 'groundtruth') -> Path:
    """``ROOT/DRIVE/proj_depth/KIND/image_0C/FRAME.png`` (``KIND``: groundtruth, velodyne_raw)."""
    return (Path(root) / drive / 'proj_depth' / kind / f'image_0{camera}'
            / f'{frame:010d}.png')


def find_benchmark_depth(root: str | os.PathLike, entry: SplitEntry,
                         kind: str = 'groundtruth') -> Path:
    """
    Find the benchmark depth PNG of a split entry.

    The benchmark splits its drives into ``train/`` and ``val/``; ``root`` may be either of
    them or the folder above them.
    """
    root = Path(root)
    candidates = [benchmark_depth_path(base, entry.drive, entry.camera, entry.frame, kind)
                  for base in (root, root / 'train', root / 'val')]
    for path in candidates:
        if path.is_file():
            return path
    raise DatasetError(f'no benchmark depth for {entry.name}: looked for {candidates[0]} '
                       '(and under train/ and val/)')


def read_benchmark_depth(path: str | os.PathLike) -> np.ndarray:
    """Read a benchmark depth PNG (uint16, value / 256 = metres, 0 = none) as float32 metres."""
    raw = read_png_unchanged(path)
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise DatasetError(f'{path}: a benchmark depth PNG is single-channel uint16, got '
                           f'{raw.dtype} with shape {raw.shape}')
    return depth_from_uint16(raw, 1.0 / BENCHMARK_UNITS_PER_METRE)


def write_benchmark_depth(path: str | os.PathLike, depth_m: np.ndarray) -> Path:
    """Write metric depth as a benchmark PNG (NaN and depth beyond 255.99 m become 0)."""
    return write_png(path, depth_to_uint16(depth_m, BENCHMARK_UNITS_PER_METRE))


# -- data sets ----------------------------------------------------------------------------------

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


# -- precomputed ground truth ------------------------------------------------------------------

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


def entries_of_drive(date: str, drive: str, frames: Iterable[int],
                     side: str = 'l') -> list[SplitEntry]:
    """Split entries of ``frames`` of one drive (for lists made by code rather than files)."""
    return [SplitEntry(date=date, drive=drive, frame=int(f), side=side) for f in frames]


def timestamp_line(seconds: float, date: str) -> str:
    """
    One line of a KITTI ``timestamps.txt``: ``YYYY-MM-DD HH:MM:SS.nnnnnnnnn``.

    ``seconds`` counts from midnight of ``date`` (``YYYY_MM_DD``).
    """
    whole = int(math.floor(seconds))
    nanos = int(round((seconds - whole) * 1e9))
    if nanos >= 1_000_000_000:
        whole, nanos = whole + 1, nanos - 1_000_000_000
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{date.replace('_', '-')} {hours:02d}:{minutes:02d}:{secs:02d}.{nanos:09d}"


def parse_timestamp_line(line: str) -> float:
    """Seconds since midnight of a ``timestamps.txt`` line (the date is ignored)."""
    try:
        _date, clock = line.split()
        h, m, s = clock.split(':')
        return int(h) * 3600 + int(m) * 60 + float(s)
    except ValueError:
        raise DatasetError(f'not a KITTI timestamp: {line!r}') from None


def timestamp_ns(line: str, utc_offset_s: float = 0.0) -> int:
    """
    Unix time in nanoseconds of a ``timestamps.txt`` line.

    The line's date and clock are read as a clock that runs ``utc_offset_s`` seconds ahead of
    UTC (KITTI's files give the local time of Karlsruhe: ``7200.0``, CEST, on every recording
    day of 2011; ``0.0`` reads them as UTC). Exact to the nanosecond for the files' nine
    decimals.
    """
    seconds = parse_timestamp_line(line)
    try:
        day = date.fromisoformat(line.split()[0])
    except ValueError:
        raise DatasetError(f'not a KITTI timestamp: {line!r}') from None
    whole = math.floor(seconds)
    midnight_s = calendar.timegm(day.timetuple())
    return ((midnight_s + whole) * 10**9 + round((seconds - whole) * 1e9)
            - round(utc_offset_s * 1e9))


def read_timestamps_ns(path: str | os.PathLike, utc_offset_s: float = 0.0) -> np.ndarray:
    """Read a ``timestamps.txt`` as int64 Unix nanoseconds (``timestamp_ns`` of each line)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such timestamps file')
    stamps = []
    for lineno, line in enumerate(path.read_text(encoding='utf-8').splitlines(), 1):
        if not line.strip():
            continue
        try:
            stamps.append(timestamp_ns(line, utc_offset_s))
        except DatasetError as exc:
            raise DatasetError(f'{path}:{lineno}: {exc}') from None
    return np.array(stamps, dtype=np.int64)


# -- OXTS (GPS/IMU) -----------------------------------------------------------------------------

#: Values of one OXTS packet (``oxts/data/*.txt``): lat, lon, alt, roll, pitch, yaw, ...
OXTS_VALUES = 30

#: Earth radius of the development kit's Mercator projection (``latlonToMercator``), metres.
OXTS_EARTH_RADIUS_M = 6378137.0


def read_oxts_packet(path: str | os.PathLike) -> np.ndarray:
    """
    Read one OXTS packet: the 30 values of ``oxts/dataformat.txt`` as float64.

    The first six are latitude and longitude (degrees), altitude (metres), roll, pitch and
    yaw (radians).
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such OXTS file')
    try:
        values = np.array([float(v) for v in path.read_text(encoding='utf-8').split()])
    except (UnicodeDecodeError, ValueError) as exc:
        raise DatasetError(f'{path}: not an OXTS packet: {exc}') from None
    if values.size != OXTS_VALUES:
        raise DatasetError(f'{path}: an OXTS packet has {OXTS_VALUES} values, got {values.size}')
    if not np.all(np.isfinite(values[:6])):
        raise DatasetError(f'{path}: OXTS position or orientation is not finite')
    return values


def oxts_poses(packets: np.ndarray) -> np.ndarray:
    """
    Poses of the IMU frame from OXTS packets, as the development kit computes them.

    ``convertOxtsToPose``: a Mercator projection whose scale is the cosine of the first
    packet's latitude gives x (east) and y (north), the altitude gives z; the rotation is
    ``Rz(yaw) Ry(pitch) Rx(roll)``; every pose is then expressed relative to the first.

    Parameters
    ----------
    packets:
        ``N x 30`` (or ``N x 6`` and more) OXTS values, in time order.

    Returns
    -------
    ``N x 4 x 4`` float64 ``T_origin_imu``: maps points of the IMU frame at packet ``i`` into
    the IMU frame at the first packet (the identity for ``i = 0``).

    """
    packets = np.atleast_2d(np.asarray(packets, dtype=np.float64))
    if packets.shape[1] < 6 or packets.shape[0] == 0:
        raise ValueError(f'OXTS packets must be N x 6 or more, got {packets.shape}')
    lat, lon, alt = np.radians(packets[:, 0]), np.radians(packets[:, 1]), packets[:, 2]
    scale = math.cos(lat[0])
    poses = np.zeros((len(packets), 4, 4))
    poses[:, 0, 3] = scale * OXTS_EARTH_RADIUS_M * lon
    poses[:, 1, 3] = scale * OXTS_EARTH_RADIUS_M * np.log(np.tan(0.25 * np.pi + 0.5 * lat))
    poses[:, 2, 3] = alt
    poses[:, 3, 3] = 1.0
    for i, (roll, pitch, yaw) in enumerate(packets[:, 3:6]):
        cr, sr, cp, sp, cy, sy = (math.cos(roll), math.sin(roll), math.cos(pitch),
                                  math.sin(pitch), math.cos(yaw), math.sin(yaw))
        rx = np.array([[1.0, 0.0, 0.0], [0.0, cr, -sr], [0.0, sr, cr]])
        ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
        rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
        poses[i, :3, :3] = rz @ ry @ rx
    return invert(poses[0]) @ poses
