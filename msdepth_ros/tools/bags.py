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
rosbag2 files for the offline bag tools, through the ``rosbags`` package (no rclpy).

- Messages of the ``ROS2_JAZZY`` typestore built from numpy: headers, ``sensor_msgs/Image``,
  ``CameraInfo``, ``PointCloud2`` and ``tf2_msgs/TFMessage``; and the colour image of an
  ``Image`` read back.
- The QoS profiles stored in a bag's metadata (what ``msdepth-replay`` and ``ros2 bag play``
  offer on replay: ``/tf_static`` transient-local, so that it is latched).
- ``BagOutput``: a bag written under a temporary name beside its final one and renamed only
  when complete, so an interrupted or failed run leaves nothing under the final name.
"""

from __future__ import annotations

from functools import lru_cache
import os
from pathlib import Path
import shutil
import sys
from types import TracebackType
from typing import Any, Callable, Sequence

from msdepth_ros.msgs.images import (ENCODINGS, image_to_rgb, NATIVE_BIG_ENDIAN,
                                     organized_cloud)
import numpy as np

#: Storage plugins by command-line name.
STORAGES = ('mcap', 'sqlite3')

#: History depth of the topics the tools write (``ros2 bag play`` offers it on replay).
DEFAULT_QOS_DEPTH = 10


class BagError(RuntimeError):
    """A bag that cannot be read or written; the message starts with the path and says why."""


@lru_cache(maxsize=1)
def typestore() -> Any:
    """Return the ``rosbags`` typestore of ROS 2 Jazzy (it has ``tf2_msgs``)."""
    from rosbags.typesys import get_typestore, Stores
    return get_typestore(Stores.ROS2_JAZZY)


def message_type(name: str) -> Any:
    """Return the message class ``pkg/msg/Name`` of the typestore."""
    return typestore().types[name]


def serialize(msg: Any) -> bytes:
    """CDR bytes of a typestore message, as rosbag2 stores them."""
    return typestore().serialize_cdr(msg, msg.__msgtype__)


def bag_qos(reliable: bool = True, transient_local: bool = False,
            depth: int = DEFAULT_QOS_DEPTH) -> Any:
    """
    Return a publisher QoS profile as the bag metadata stores it (``offered_qos_profiles``).

    Keep-last ``depth``; ``transient_local`` makes a replay latch the topic for late
    subscribers (``/tf_static``).
    """
    from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness, QosReliability,
                                    QosTime)
    zero = QosTime(0, 0)
    return Qos(history=QosHistory.KEEP_LAST, depth=depth,
               reliability=QosReliability.RELIABLE if reliable else QosReliability.BEST_EFFORT,
               durability=(QosDurability.TRANSIENT_LOCAL if transient_local
                           else QosDurability.VOLATILE),
               deadline=zero, lifespan=zero, liveliness=QosLiveliness.AUTOMATIC,
               liveliness_lease_duration=zero, avoid_ros_namespace_conventions=False)


# -- messages -------------------------------------------------------------------------------------

def header(stamp_ns: int, frame_id: str) -> Any:
    """``std_msgs/Header`` of a Unix time in nanoseconds and a frame id."""
    time_type = message_type('builtin_interfaces/msg/Time')
    stamp_ns = int(stamp_ns)
    return message_type('std_msgs/msg/Header')(
        stamp=time_type(sec=stamp_ns // 10**9, nanosec=stamp_ns % 10**9), frame_id=frame_id)


def stamp_ns(msg_header: Any) -> int:
    """Return a header's stamp in nanoseconds."""
    return int(msg_header.stamp.sec) * 10**9 + int(msg_header.stamp.nanosec)


#: Encodings ``image_message`` writes (little-endian): element type, channels.
_ENCODINGS = {name: ('<' + ENCODINGS[name].dtype, ENCODINGS[name].channels)
              for name in ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', '32FC1')}


def image_message(pixels: np.ndarray, encoding: str, msg_header: Any) -> Any:
    """
    ``sensor_msgs/Image`` of an array, rows unpadded, little-endian.

    Parameters
    ----------
    pixels:
        ``H x W x 3`` uint8 (``rgb8``, ``bgr8``), ``H x W x 4`` uint8 (``rgba8``, ``bgra8``),
        ``H x W`` uint8 (``mono8``) or ``H x W`` float32 metres (``32FC1``).
    encoding:
        The image encoding.
    msg_header:
        Stamp and frame id (``header``).

    """
    if encoding not in _ENCODINGS:
        raise ValueError(f'cannot write {encoding!r} images; writable: {", ".join(_ENCODINGS)}')
    dtype, channels = _ENCODINGS[encoding]
    pixels = np.asarray(pixels)
    if (pixels.shape[2:] != ((channels,) if channels > 1 else ()) or pixels.ndim < 2
            or (pixels.dtype.kind, pixels.dtype.itemsize) != (np.dtype(dtype).kind,
                                                              np.dtype(dtype).itemsize)):
        raise ValueError(f'a {encoding} image needs {channels} channel(s) of '
                         f'{np.dtype(dtype).name}, got {pixels.dtype} of shape {pixels.shape}')
    pixels = np.ascontiguousarray(pixels, dtype=dtype)
    height, width = pixels.shape[:2]
    return message_type('sensor_msgs/msg/Image')(
        header=msg_header, height=height, width=width, encoding=encoding, is_bigendian=0,
        step=width * channels * pixels.dtype.itemsize, data=pixels.reshape(-1).view(np.uint8))


def image_rgb(msg: Any) -> np.ndarray:
    """
    ``H x W x 3`` uint8 RGB (contiguous) of a colour or grey ``sensor_msgs/Image``.

    The node's reader (``msgs.images.image_to_rgb``: ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8``,
    ``mono8``, row padding, every field checked); ``ConversionError`` (a ``ValueError``)
    names what is wrong.
    """
    return np.ascontiguousarray(image_to_rgb(msg))


def camera_info_message(msg_header: Any, width: int, height: int, k: np.ndarray,
                        p: np.ndarray) -> Any:
    """
    ``sensor_msgs/CameraInfo`` of a rectified image: K, P as given, R identity.

    ``plumb_bob`` with five zero distortion coefficients, no binning, no region of interest.
    ``k`` is 3x3, ``p`` 3x4 (any shape with 9 and 12 values).
    """
    roi = message_type('sensor_msgs/msg/RegionOfInterest')(
        x_offset=0, y_offset=0, height=0, width=0, do_rectify=False)
    return message_type('sensor_msgs/msg/CameraInfo')(
        header=msg_header, height=int(height), width=int(width), distortion_model='plumb_bob',
        d=np.zeros(5), k=np.asarray(k, dtype=np.float64).reshape(9),
        r=np.eye(3).reshape(9), p=np.asarray(p, dtype=np.float64).reshape(12),
        binning_x=0, binning_y=0, roi=roi)


def pointcloud_message(msg_header: Any, values: np.ndarray, names: Sequence[str],
                       point_step: int = 16, is_dense: bool | None = None) -> Any:
    """
    ``sensor_msgs/PointCloud2`` of float32 fields, one point per ``values`` row or pixel.

    Parameters
    ----------
    msg_header:
        Stamp and frame id.
    values:
        ``N x K`` (unorganized: height 1) or ``H x W x K`` (organized) float32, one column per
        name, NaN for invalid points.
    names:
        The ``K`` field names (``x``, ``y``, ``z``, ``intensity`` ...), at offsets 0, 4, 8 ...
    point_step:
        Bytes per point (at least ``4 K``; padding is zero): 16 as PCL's ``PointXYZ``.
    is_dense:
        The flag to set; None: whether every value is finite.

    Returns
    -------
    Little-endian, ``row_step = point_step * W``.

    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim == 2:
        values = values[None]
    if values.ndim != 3 or values.shape[2] != len(names) or point_step < 4 * len(names) \
            or point_step % 4:
        raise ValueError(f'{len(names)} float32 fields in {point_step}-byte points cannot hold '
                         f'values of shape {values.shape}')
    height, width = values.shape[:2]
    cloud = np.zeros((height, width, point_step // 4), dtype='<f4')
    cloud[..., :len(names)] = values
    return _pointcloud(msg_header, cloud, [(name, 4 * i) for i, name in enumerate(names)],
                       point_step, bool(np.isfinite(values).all()) if is_dense is None
                       else is_dense)


def organized_pointcloud_message(msg_header: Any, points: np.ndarray,
                                 rgb: np.ndarray | None = None) -> Any:
    """
    Build the depth node's organized cloud of ``H x W x 3`` points (NaN invalid) for a bag.

    The node's layout (``msgs.images.organized_cloud``): x, y, z float32 at 0, 4, 8,
    point_step 16; with ``rgb`` (``H x W x 3`` uint8) also ``rgb`` at 16, point_step 32;
    ``is_dense`` false.
    """
    cloud, fields, point_step = organized_cloud(points, rgb)
    return _pointcloud(msg_header, cloud, fields, point_step, is_dense=False)


def _pointcloud(msg_header: Any, cloud: np.ndarray, fields: Sequence[tuple[str, int]],
                point_step: int, is_dense: bool) -> Any:
    """PointCloud2 of an ``H x W x point_step / 4`` float32 buffer with float32 ``fields``."""
    height, width = cloud.shape[:2]
    field_type = message_type('sensor_msgs/msg/PointField')
    return message_type('sensor_msgs/msg/PointCloud2')(
        header=msg_header, height=height, width=width,
        fields=[field_type(name=name, offset=offset, datatype=field_type.FLOAT32, count=1)
                for name, offset in fields],
        is_bigendian=NATIVE_BIG_ENDIAN and cloud.dtype.byteorder == '=', point_step=point_step,
        row_step=point_step * width, data=np.ascontiguousarray(cloud).reshape(-1).view(np.uint8),
        is_dense=is_dense)


def tf_message(stamp: int, transforms: Sequence[tuple[str, str, np.ndarray]]) -> Any:
    """
    ``tf2_msgs/TFMessage`` of ``(parent, child, T_parent_child)`` 4x4 rigid transforms.

    Every transform is stamped ``stamp`` (Unix nanoseconds); rotations become unit
    quaternions (``core.transforms.matrix_to_quaternion``).
    """
    from msdepth_ros.core.transforms import matrix_to_quaternion

    vector3 = message_type('geometry_msgs/msg/Vector3')
    quaternion = message_type('geometry_msgs/msg/Quaternion')
    transform = message_type('geometry_msgs/msg/Transform')
    stamped = message_type('geometry_msgs/msg/TransformStamped')
    out = []
    for parent, child, matrix in transforms:
        x, y, z, w = matrix_to_quaternion(matrix[:3, :3])
        tx, ty, tz = (float(v) for v in matrix[:3, 3])
        out.append(stamped(header=header(stamp, parent), child_frame_id=child,
                           transform=transform(translation=vector3(x=tx, y=ty, z=tz),
                                               rotation=quaternion(x=x, y=y, z=z, w=w))))
    return message_type('tf2_msgs/msg/TFMessage')(transforms=out)


# -- writing a bag atomically ---------------------------------------------------------------------

class BagOutput:
    """
    A rosbag2 written under ``FINAL.partial/`` and moved to ``FINAL`` when complete.

    Use as a context manager: on a clean exit the bag is closed and renamed (replacing an
    existing ``FINAL`` only with ``overwrite``); on an exception (an error, Ctrl-C) the
    partial bag is deleted and nothing appears under ``FINAL``. The bag's storage file is
    named after ``FINAL`` (``FINAL/FINAL.mcap``) as ``ros2 bag record`` names it.

    Parameters
    ----------
    final:
        The bag folder to create.
    storage:
        ``mcap`` or ``sqlite3``.
    overwrite:
        Replace an existing ``final`` (only once the new bag is complete).

    """

    def __init__(self, final: str | os.PathLike, storage: str = 'mcap',
                 overwrite: bool = False) -> None:
        if storage not in STORAGES:
            raise BagError(f'storage must be one of {STORAGES}, got {storage!r}')
        self.final = Path(final)
        self.storage = storage
        self.overwrite = overwrite
        self.staging = self.final.with_name(self.final.name + '.partial')
        self.writer: Any = None
        self._copies: dict[tuple[str, str, str], Any] = {}

    def check(self) -> None:
        """Raise ``BagError`` when the bag cannot be written where asked (before any work)."""
        if self.final.exists() and not self.overwrite:
            raise BagError(f'{self.final}: exists already; choose another name or pass '
                           '--overwrite')
        if not self.final.parent.is_dir():
            raise BagError(f'{self.final.parent}: no such folder for the output bag')
        if not self.final.name:
            raise BagError(f'{self.final}: not a bag folder name')

    def __enter__(self) -> BagOutput:
        from rosbags.rosbag2 import StoragePlugin, Writer
        self.check()
        if self.staging.exists():
            shutil.rmtree(self.staging)
        self.staging.mkdir()
        plugin = StoragePlugin.MCAP if self.storage == 'mcap' else StoragePlugin.SQLITE3
        try:
            self.writer = Writer(self.staging / self.final.name, version=9,
                                 storage_plugin=plugin)
            self.writer.open()
        except BaseException:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise
        return self

    def add_connection(self, topic: str, msgtype: str, qos: Any) -> Any:
        """Add a topic of a typestore type, offered with ``qos`` (a ``bag_qos`` profile)."""
        return self.writer.add_connection(topic, msgtype, typestore=typestore(),
                                          offered_qos_profiles=[qos])

    def copy_connection(self, connection: Any) -> Any:
        """
        Add a connection of another bag as it is: type definition, serialization, QoS.

        A bag without the type's definition (rosbag2 before Iron) gets the typestore's. A
        second connection equal to one already copied maps onto it.
        """
        ext = connection.ext
        key = (connection.topic, connection.msgtype, repr(ext))
        if key not in self._copies:
            source = ({'msgdef': connection.msgdef.data, 'rihs01': connection.digest}
                      if connection.msgdef.data and connection.digest
                      else {'typestore': typestore()})
            self._copies[key] = self.writer.add_connection(
                connection.topic, connection.msgtype,
                serialization_format=ext.serialization_format,
                offered_qos_profiles=ext.offered_qos_profiles, **source)
        return self._copies[key]

    def write(self, connection: Any, log_time_ns: int, data: Any) -> None:
        """Write a message (a typestore message, or its serialized bytes) at ``log_time_ns``."""
        if not isinstance(data, (bytes, bytearray, memoryview, np.ndarray)):
            data = serialize(data)
        self.writer.write(connection, int(log_time_ns), data)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        writer, self.writer = self.writer, None
        if exc_type is not None:
            try:
                writer.abort()
            finally:
                shutil.rmtree(self.staging, ignore_errors=True)
            return
        try:
            writer.close()
            if self.final.exists():
                if self.final.is_dir() and not self.final.is_symlink():
                    shutil.rmtree(self.final)
                else:
                    self.final.unlink()
            os.replace(self.staging / self.final.name, self.final)
        finally:
            shutil.rmtree(self.staging, ignore_errors=True)


# -- command lines --------------------------------------------------------------------------------

def run_reporting_errors(prog: str, run: Callable[[], int],
                         errors: tuple[type[BaseException], ...], out_path: Path) -> int:
    """
    Run a bag tool's work; turn the errors users cause into one line on stderr and exit 1.

    ``errors`` (each message starts with the file at fault), ``OSError`` (its file, else
    ``out_path``) and Ctrl-C (exit 130) are reported as ``PROG: FILE: cause``, without a
    traceback.
    """
    try:
        return run()
    except errors as exc:
        print(f'{prog}: {exc}', file=sys.stderr)
        return 1
    except OSError as exc:
        print(f'{prog}: {exc.filename or out_path}: {exc.strerror or exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f'{prog}: interrupted; no bag written', file=sys.stderr)
        return 130


# -- reading --------------------------------------------------------------------------------------

def open_reader(path: str | os.PathLike) -> Any:
    """
    Open a rosbag2 (MCAP or sqlite3) with ``rosbags.highlevel.AnyReader``.

    Types the bag does not define are taken from the ROS 2 Jazzy typestore. The caller closes
    the reader. Raises ``BagError`` for a missing or unreadable bag.
    """
    from rosbags.highlevel import AnyReader
    path = Path(path)
    if not path.exists():
        raise BagError(f'{path}: no such bag')
    try:
        reader = AnyReader([path], default_typestore=typestore())
        reader.open()
    except Exception as exc:  # noqa: B902 - any failure to open is about the bag
        raise BagError(f'{path}: not a readable rosbag2: {exc}') from None
    return reader
