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

"""Depth previews."""

from msdepth_ros.core.colormap import colorize_depth, colormap_lut, COLORMAPS
import numpy as np
import pytest


@pytest.mark.parametrize('name', COLORMAPS)
def test_every_map_colours_valid_depth_and_blacks_out_invalid(name):
    depth = np.array([[1.0, 10.0, np.nan], [80.0, 0.0, 500.0]], dtype=np.float32)
    rgb = colorize_depth(depth, 1.0, 80.0, colormap=name)
    assert rgb.shape == (2, 3, 3) and rgb.dtype == np.uint8
    np.testing.assert_array_equal(rgb[0, 2], 0)
    np.testing.assert_array_equal(rgb[1, 1], 0)
    lut = colormap_lut(name)
    np.testing.assert_array_equal(rgb[0, 0], lut[0])     # min depth -> first entry
    np.testing.assert_array_equal(rgb[1, 0], lut[255])   # max depth -> last entry
    np.testing.assert_array_equal(rgb[1, 2], lut[255])   # clamped


def test_spacing_and_errors():
    depth = np.array([[np.sqrt(80.0)]], dtype=np.float32)
    lut = colormap_lut('gray')
    np.testing.assert_array_equal(colorize_depth(depth, 1.0, 80.0, 'gray')[0, 0], lut[128])
    with pytest.raises(ValueError, match='unknown colour map'):
        colorize_depth(depth, 1.0, 80.0, 'rainbow')
    with pytest.raises(ValueError):
        colorize_depth(depth, 5.0, 1.0)
