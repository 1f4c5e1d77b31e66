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
The depth node's output messages as plain records that serialize themselves to CDR bytes.

``CDR_TYPES`` is a ``MessageTypes`` namespace for the shared writers (``msgs.writers``), beside
rclpy's and rosbags' classes: the writers build the same messages with it, and ``serialize``
turns one into the bytes rclpy's ``serialize_message`` would give for the same message.
The depth node publishes those bytes (``Publisher.publish`` of ``bytes`` publishes them as they
are), so a frame skips building rclpy messages, whose setters check every field in Python, and
their conversion to C structs before serialisation: that was 0.3 to 0.4 ms of every frame
(docs/benchmarks.md, "Node overhead").

The layout is the one ``msgs.cdr`` reads: a 4-byte encapsulation header (``00 01``
little-endian or ``00 00`` big-endian plain CDR, this machine's byte order; options zero), then
the fields in order, each aligned to its own size counted from the end of that header; a
string is a uint32 length that counts its NUL, then its bytes and the NUL; a sequence is a
uint32 count, then its elements; a fixed-size array is its elements. ``test/test_cdr_messages``
checks the bytes against rclpy's and rosbags' serializers.
"""

from __future__ import annotations

import struct
import sys
from typing import Any

from msdepth_ros.msgs.writers import MessageTypes
import numpy as np

#: The encapsulation header of plain CDR in this machine's byte order.
ENCAPSULATION = b'\x00\x01\x00\x00' if sys.byteorder == 'little' else b'\x00\x00\x00\x00'
_ORDER = '<' if sys.byteorder == 'little' else '>'

#: Primitive field kinds: struct format, size (= alignment), numpy dtype of their arrays.
_PRIMITIVES = {
    'bool': ('?', 1, np.bool_), 'uint8': ('B', 1, np.uint8), 'int32': ('i', 4, np.int32),
    'uint32': ('I', 4, np.uint32), 'float32': ('f', 4, np.float32),
    'float64': ('d', 8, np.float64),
}


class CdrMessage:
    """
    A message of one ROS type: its fields as attributes, in the order ``FIELDS`` gives.

    ``FIELDS`` holds ``(name, kind)``: a primitive (``'uint32'``, ``'float64'`` ...),
    ``'string'``, another ``CdrMessage`` class, or a sequence (``('uint8', None)``: any length)
    or fixed array (``('float64', 9)``) of a primitive or message class. Every field must be
    given to the constructor.
    """

    TYPE = ''
    FIELDS: tuple[tuple[str, Any], ...] = ()

    def __init__(self, **fields: Any) -> None:
        names = {name for name, _ in self.FIELDS}
        if set(fields) != names:
            missing, extra = sorted(names - set(fields)), sorted(set(fields) - names)
            raise TypeError(f'{self.TYPE}: missing fields {missing}, unknown fields {extra}')
        self.__dict__.update(fields)

    def __repr__(self) -> str:
        """Name the type and its fields."""
        inner = ', '.join(f'{name}={getattr(self, name)!r}' for name, _ in self.FIELDS)
        return f'{type(self).__name__}({inner})'


class Time(CdrMessage):
    """``builtin_interfaces/Time``."""

    TYPE = 'builtin_interfaces/msg/Time'
    FIELDS = (('sec', 'int32'), ('nanosec', 'uint32'))


class Header(CdrMessage):
    """``std_msgs/Header``."""

    TYPE = 'std_msgs/msg/Header'
    FIELDS = (('stamp', Time), ('frame_id', 'string'))


class Image(CdrMessage):
    """``sensor_msgs/Image``."""

    TYPE = 'sensor_msgs/msg/Image'
    FIELDS = (('header', Header), ('height', 'uint32'), ('width', 'uint32'),
              ('encoding', 'string'), ('is_bigendian', 'uint8'), ('step', 'uint32'),
              ('data', ('uint8', None)))


class RegionOfInterest(CdrMessage):
    """``sensor_msgs/RegionOfInterest``."""

    TYPE = 'sensor_msgs/msg/RegionOfInterest'
    FIELDS = (('x_offset', 'uint32'), ('y_offset', 'uint32'), ('height', 'uint32'),
              ('width', 'uint32'), ('do_rectify', 'bool'))


class CameraInfo(CdrMessage):
    """``sensor_msgs/CameraInfo``."""

    TYPE = 'sensor_msgs/msg/CameraInfo'
    FIELDS = (('header', Header), ('height', 'uint32'), ('width', 'uint32'),
              ('distortion_model', 'string'), ('d', ('float64', None)), ('k', ('float64', 9)),
              ('r', ('float64', 9)), ('p', ('float64', 12)), ('binning_x', 'uint32'),
              ('binning_y', 'uint32'), ('roi', RegionOfInterest))


class PointField(CdrMessage):
    """``sensor_msgs/PointField``, with its datatype constants."""

    TYPE = 'sensor_msgs/msg/PointField'
    FIELDS = (('name', 'string'), ('offset', 'uint32'), ('datatype', 'uint8'),
              ('count', 'uint32'))
    INT8, UINT8, INT16, UINT16, INT32, UINT32, FLOAT32, FLOAT64 = range(1, 9)


class PointCloud2(CdrMessage):
    """``sensor_msgs/PointCloud2``."""

    TYPE = 'sensor_msgs/msg/PointCloud2'
    FIELDS = (('header', Header), ('height', 'uint32'), ('width', 'uint32'),
              ('fields', (PointField, None)), ('is_bigendian', 'bool'),
              ('point_step', 'uint32'), ('row_step', 'uint32'), ('data', ('uint8', None)),
              ('is_dense', 'bool'))


class LaserScan(CdrMessage):
    """``sensor_msgs/LaserScan``."""

    TYPE = 'sensor_msgs/msg/LaserScan'
    FIELDS = (('header', Header), ('angle_min', 'float32'), ('angle_max', 'float32'),
              ('angle_increment', 'float32'), ('time_increment', 'float32'),
              ('scan_time', 'float32'), ('range_min', 'float32'), ('range_max', 'float32'),
              ('ranges', ('float32', None)), ('intensities', ('float32', None)))


def _construct(cls: Any, **fields: Any) -> Any:
    return cls(**fields)


def _as_is(values: np.ndarray) -> np.ndarray:
    return values


#: The writers' namespace for messages that ``serialize`` turns into bytes.
CDR_TYPES = MessageTypes(Header=Header, Time=Time, Image=Image, CameraInfo=CameraInfo,
                         RegionOfInterest=RegionOfInterest, PointCloud2=PointCloud2,
                         PointField=PointField, LaserScan=LaserScan, new=_construct,
                         sequence=_as_is)


class _Writer:
    """Appends CDR fields to a list of byte chunks, keeping the alignment offset."""

    def __init__(self) -> None:
        self.chunks: list[bytes | memoryview] = [ENCAPSULATION]
        self.offset = 0  # counted from the end of the encapsulation header

    def align(self, size: int) -> None:
        pad = -self.offset % size
        if pad:
            self.chunks.append(b'\x00' * pad)
            self.offset += pad

    def primitive(self, kind: str, value: Any) -> None:
        fmt, size, _ = _PRIMITIVES[kind]
        self.align(size)
        self.chunks.append(struct.pack(_ORDER + fmt, value))
        self.offset += size

    def string(self, value: str) -> None:
        encoded = value.encode('utf-8') + b'\x00'
        self.primitive('uint32', len(encoded))
        self.chunks.append(encoded)
        self.offset += len(encoded)

    def array(self, kind: str, values: Any, length: int | None, what: str) -> None:
        _, size, dtype = _PRIMITIVES[kind]
        data = np.ascontiguousarray(values, dtype=np.dtype(dtype).newbyteorder('='))
        if data.ndim != 1:
            raise ValueError(f'{what}: a flat array is needed, got shape {data.shape}')
        if length is None:
            self.primitive('uint32', data.size)
        elif data.size != length:
            raise ValueError(f'{what}: {length} values are needed, got {data.size}')
        if data.size:
            self.align(size)
            self.chunks.append(memoryview(data).cast('B'))
            self.offset += data.nbytes

    def message(self, msg: CdrMessage) -> None:
        for name, kind in msg.FIELDS:
            value = getattr(msg, name)
            if isinstance(kind, str):
                if kind == 'string':
                    self.string(value)
                else:
                    self.primitive(kind, value)
            elif isinstance(kind, tuple):
                element, length = kind
                if isinstance(element, str):
                    self.array(element, value, length, f'{msg.TYPE}.{name}')
                else:
                    if length is None:
                        self.primitive('uint32', len(value))
                    elif len(value) != length:
                        raise ValueError(f'{msg.TYPE}.{name}: {length} messages are needed, '
                                         f'got {len(value)}')
                    for item in value:
                        self.message(item)
            else:
                self.message(value)


def serialize(msg: CdrMessage) -> bytes:
    """
    Return ``msg`` as serialized CDR, the bytes rclpy's ``serialize_message`` gives.

    Raises
    ------
    ValueError
        A fixed-size array of the wrong length, or an array that is not flat.
    struct.error
        A number out of its field's range.

    """
    writer = _Writer()
    writer.message(msg)
    return b''.join(writer.chunks)
