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
Numeric arrays from MATLAB ``.mat`` files without SciPy.

NYU Depth v2 ships its labeled set as a MATLAB 7.3 file (HDF5, read with h5py) and its
official split as ``splits.mat``, a MATLAB 5 file; ``read_mat_arrays`` reads numeric matrices
from either, with MATLAB's dimension order in both cases.
"""

from __future__ import annotations

import os
from pathlib import Path
import struct
from typing import Sequence
import zlib

from msdepth_ros.data.base import DatasetError
import numpy as np

# Data types of MATLAB 5 data elements (MAT-File Format, table 1-1).
_MI_DTYPES = {1: 'i1', 2: 'u1', 3: 'i2', 4: 'u2', 5: 'i4', 6: 'u4', 7: 'f4', 9: 'f8',
              12: 'i8', 13: 'u8'}
_MI_MATRIX = 14
_MI_COMPRESSED = 15
# Array classes of numeric matrices -> numpy dtype (MATLAB may store a double matrix with a
# smaller data type, such as uint8, to save space: the class says what it is).
_MX_CLASSES = {6: 'f8', 7: 'f4', 8: 'i1', 9: 'u1', 10: 'i2', 11: 'u2', 12: 'i4', 13: 'u4',
               14: 'i8', 15: 'u8'}


def is_hdf5(path: str | os.PathLike) -> bool:
    """Whether ``path`` starts with the HDF5 signature (a MATLAB 7.3 file is HDF5)."""
    with open(path, 'rb') as f:
        head = f.read(1024)
    # The signature sits at offset 0, or at 512 in MATLAB 7.3 files (after a user block).
    return b'\x89HDF\r\n\x1a\n' in (head[:8], head[512:520])


def read_mat_arrays(path: str | os.PathLike, names: Sequence[str]) -> dict[str, np.ndarray]:
    """
    Read the named numeric matrices of a ``.mat`` file (MATLAB 5 or 7.3/HDF5).

    Returns name -> array with MATLAB's dimensions (a 795x1 column stays 795x1 in both
    formats). A missing name or a non-numeric variable raises ``DatasetError``.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such .mat file')
    if is_hdf5(path):
        return _read_hdf5(path, names)
    arrays = _read_mat5(path)
    missing = [n for n in names if n not in arrays]
    if missing:
        raise DatasetError(f'{path}: no numeric variable {missing} (has {sorted(arrays)})')
    return {n: arrays[n] for n in names}


def _read_hdf5(path: Path, names: Sequence[str]) -> dict[str, np.ndarray]:
    import h5py
    out = {}
    with h5py.File(path, 'r') as f:
        for name in names:
            if name not in f or not isinstance(f[name], h5py.Dataset):
                raise DatasetError(f'{path}: no variable {name!r} (has {sorted(f.keys())})')
            # HDF5 stores MATLAB's column-major arrays with the dimensions reversed.
            out[name] = np.asarray(f[name]).T
    return out


def _read_mat5(path: Path) -> dict[str, np.ndarray]:
    data = path.read_bytes()
    if len(data) < 128:
        raise DatasetError(f'{path}: too short for a MATLAB file')
    indicator = data[126:128]
    if indicator == b'IM':
        endian = '<'
    elif indicator == b'MI':
        endian = '>'
    else:
        raise DatasetError(f'{path}: neither a MATLAB 5 nor an HDF5 (7.3) .mat file')
    arrays: dict[str, np.ndarray] = {}
    pos = 128
    while pos + 8 <= len(data):
        dtype, nbytes, body, pos = _element(data, pos, endian, path)
        if dtype == _MI_COMPRESSED:
            try:
                inner = zlib.decompress(body)
            except zlib.error as exc:
                raise DatasetError(f'{path}: corrupt compressed variable: {exc}') from None
            dtype, nbytes, body, _ = _element(inner, 0, endian, path)
        if dtype == _MI_MATRIX:
            parsed = _matrix(body, endian, path)
            if parsed is not None:
                arrays[parsed[0]] = parsed[1]
    return arrays


def _element(data: bytes, pos: int, endian: str, path: Path) -> tuple[int, int, bytes, int]:
    """One data element at ``pos``: (type, byte count, payload, position of the next)."""
    if pos + 8 > len(data):
        raise DatasetError(f'{path}: truncated MATLAB data element')
    dtype, nbytes = struct.unpack(endian + 'II', data[pos:pos + 8])
    if dtype >> 16:  # small data element: type and size share 4 bytes, data in the next 4
        nbytes, dtype = dtype >> 16, dtype & 0xFFFF
        return dtype, nbytes, data[pos + 4:pos + 4 + nbytes], pos + 8
    end = pos + 8 + nbytes
    if end > len(data):
        raise DatasetError(f'{path}: truncated MATLAB data element')
    # Elements are padded to 8 bytes, except compressed ones.
    next_pos = end if dtype == _MI_COMPRESSED else pos + 8 + ((nbytes + 7) // 8) * 8
    return dtype, nbytes, data[pos + 8:end], next_pos


def _matrix(body: bytes, endian: str, path: Path) -> tuple[str, np.ndarray] | None:
    """Name and value of a numeric miMATRIX; None for other classes (cells, structs, text)."""
    pos = 0
    _t, _n, flags, pos = _element(body, pos, endian, path)
    mx_class = struct.unpack(endian + 'I', flags[:4])[0] & 0xFF
    complex_flag = struct.unpack(endian + 'I', flags[:4])[0] & 0x800
    _t, _n, dims_raw, pos = _element(body, pos, endian, path)
    dims = tuple(int(d) for d in np.frombuffer(dims_raw, dtype=endian + 'i4'))
    _t, _n, name_raw, pos = _element(body, pos, endian, path)
    name = name_raw.decode('ascii', errors='replace')
    if mx_class not in _MX_CLASSES or complex_flag:
        return None
    dtype, _n, real, pos = _element(body, pos, endian, path)
    if dtype not in _MI_DTYPES:
        raise DatasetError(f'{path}: variable {name!r} has unsupported data type {dtype}')
    values = np.frombuffer(real, dtype=endian + _MI_DTYPES[dtype])
    if values.size != int(np.prod(dims)):
        raise DatasetError(f'{path}: variable {name!r} has {values.size} values for '
                           f'dimensions {dims}')
    array = values.astype(_MX_CLASSES[mx_class]).reshape(dims, order='F')
    return name, array
