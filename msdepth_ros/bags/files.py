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

- The ``ROS2_JAZZY`` typestore's message classes for the shared writers (``bag_types`` for
  ``msgs.writers``: headers, ``sensor_msgs/Image``, ``CameraInfo``, ``PointCloud2``, the same
  code the depth node publishes with), ``tf2_msgs/TFMessage``, and the colour image of an
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

from msdepth_ros.msgs import writers
from msdepth_ros.msgs.images import image_to_rgb
from msdepth_ros.msgs.writers import MessageTypes
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

@lru_cache(maxsize=1)
def bag_types() -> MessageTypes:
    """Return the typestore's message classes for the shared writers (``msgs.writers``)."""
    return MessageTypes.rosbags(typestore())


def image_rgb(msg: Any) -> np.ndarray:
    """
    ``H x W x 3`` uint8 RGB (contiguous) of a colour or grey ``sensor_msgs/Image``.

    The node's reader (``msgs.images.image_to_rgb``: ``rgb8``, ``bgr8``, ``rgba8``, ``bgra8``,
    ``mono8``, row padding, every field checked); ``ConversionError`` (a ``ValueError``)
    names what is wrong.
    """
    return np.ascontiguousarray(image_to_rgb(msg))


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
        out.append(stamped(header=writers.header(bag_types(), stamp, parent),
                           child_frame_id=child,
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
