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
Camera images read straight from their serialized (CDR) bytes, with the pixels left in place.

The depth node subscribes to its camera with ``raw=True``: rclpy then hands over the
message's serialized bytes, one copy of what DDS received, instead of deserializing it into a
C struct and copying the pixels again into a Python ``array``. ``read_image`` and
``read_compressed_image`` read the few fields around the pixels and return the pixels as a
read-only numpy view on those bytes. The objects they return have the message's field names
(``header.stamp.sec``, ``encoding``, ``data`` ...), so everything that reads an
``Image``/``CompressedImage`` by its fields reads them too.

The layout is ROS 2's: a 4-byte encapsulation header (``00 01``: little-endian CDR, ``00 00``:
big-endian; XCDR1 or XCDR2 plain; parameter-list and delimited encodings are refused), then
the fields in order, each aligned to its own size counted from the end of the encapsulation
header; a string is a uint32 length that counts its
terminating NUL, then its bytes; a sequence is a uint32 count, then its elements.
"""

from __future__ import annotations

from dataclasses import dataclass
import struct

from msdepth_ros.msgs.cdr_messages import Header, Time
from msdepth_ros.msgs.images import ConversionError
import numpy as np

#: ``ConversionError.kind`` of bytes that are not a serialized message of the expected type.
KIND_SERIALIZED = 'serialized'
#: Encapsulation identifiers (first two bytes) by byte order: plain CDR and plain CDR2 (OMG
#: DDS-XTypes 7.6.3.1.2), the layouts of ROS 2's final structs. The parameter-list and delimited
#: ones (PL_CDR, PL_CDR2, D_CDR2) put headers between the fields and are refused, not misread.
_LITTLE = {b'\x00\x01', b'\x00\x07'}
_BIG = {b'\x00\x00', b'\x00\x06'}


class CdrError(ConversionError):
    """The bytes are not a serialized message of the expected type (``KIND_SERIALIZED``)."""

    def __init__(self, message: str) -> None:
        super().__init__(KIND_SERIALIZED, message)


@dataclass(frozen=True)
class RawImage:
    """``sensor_msgs/Image`` with ``data`` a read-only uint8 view on the serialized bytes."""

    header: Header
    height: int
    width: int
    encoding: str
    is_bigendian: int
    step: int
    data: np.ndarray


@dataclass(frozen=True)
class RawCompressedImage:
    """``sensor_msgs/CompressedImage`` with ``data`` a read-only uint8 view on the bytes."""

    header: Header
    format: str  # noqa: A003 - the message field's name
    data: np.ndarray


class _Reader:
    """Sequential reads of CDR primitives with alignment and bounds checks."""

    def __init__(self, buffer: bytes | bytearray | memoryview, what: str) -> None:
        self.buffer = buffer
        self.size = len(buffer)
        self.what = what
        if self.size < 4:
            raise CdrError(f'{what}: {self.size} bytes, shorter than the encapsulation header')
        kind = bytes(buffer[0:2])
        if kind in _LITTLE:
            self.order = '<'
        elif kind in _BIG:
            self.order = '>'
        else:
            raise CdrError(f'{what}: unknown encapsulation {kind.hex()}')
        self.offset = 4

    def _take(self, size: int, align: int) -> int:
        start = 4 + ((self.offset - 4 + align - 1) & -align)
        end = start + size
        if end > self.size:
            raise CdrError(f'{self.what}: truncated at byte {start} of {self.size} (needs '
                           f'{size} more)')
        self.offset = end
        return start

    def uint32(self) -> int:
        return struct.unpack_from(self.order + 'I', self.buffer, self._take(4, 4))[0]

    def int32(self) -> int:
        return struct.unpack_from(self.order + 'i', self.buffer, self._take(4, 4))[0]

    def uint8(self) -> int:
        return self.buffer[self._take(1, 1)]

    def string(self) -> str:
        length = self.uint32()
        start = self._take(length, 1)
        if length == 0:  # some writers send no terminator for an empty string
            return ''
        if self.buffer[start + length - 1] != 0:
            raise CdrError(f'{self.what}: string at byte {start} is not NUL-terminated')
        try:
            return bytes(self.buffer[start:start + length - 1]).decode('utf-8')
        except UnicodeDecodeError as exc:
            raise CdrError(f'{self.what}: string at byte {start} is not UTF-8: {exc}') from None

    def octets(self) -> np.ndarray:
        count = self.uint32()
        start = self._take(count, 1)
        view = np.frombuffer(self.buffer, dtype=np.uint8, count=count, offset=start)
        view.flags.writeable = False
        return view

    def header(self) -> Header:
        sec = self.int32()
        nanosec = self.uint32()
        return Header(stamp=Time(sec=sec, nanosec=nanosec), frame_id=self.string())


def read_image(buffer: bytes | bytearray | memoryview) -> RawImage:
    """
    Read a serialized ``sensor_msgs/Image``.

    ``data`` is a read-only view on ``buffer`` (``step * height`` bytes for a well-formed
    image; the sizes are checked where the pixels are read, as for a deserialized message).
    Raises ``CdrError`` when the bytes end early or are not CDR.
    """
    reader = _Reader(buffer, 'sensor_msgs/Image')
    header = reader.header()
    height = reader.uint32()
    width = reader.uint32()
    encoding = reader.string()
    is_bigendian = reader.uint8()
    step = reader.uint32()
    return RawImage(header, height, width, encoding, is_bigendian, step, reader.octets())


def read_compressed_image(buffer: bytes | bytearray | memoryview) -> RawCompressedImage:
    """Read a serialized ``sensor_msgs/CompressedImage`` (``data`` a read-only view)."""
    reader = _Reader(buffer, 'sensor_msgs/CompressedImage')
    header = reader.header()
    return RawCompressedImage(header, reader.string(), reader.octets())
