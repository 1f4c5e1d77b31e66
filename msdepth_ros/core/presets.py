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
Geometry presets of the network: the data that differs between NYU Depth v2 and KITTI.

Sizes are width x height, as in the paper's Fig. 1. A preset is data, not a code branch: the
network, preprocessing, metric scale and evaluation all read these fields, and a checkpoint or
ONNX file carries the preset it was trained with (``to_dict``/``from_dict``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

#: Output pixel ``k`` of the fine network is centred on pixel ``4 * k + 5`` of its input crop:
#: a 9x9 convolution with stride 2 (centre ``2 * j + 4``) followed by a 2x2 pool with stride 2
#: (centre ``2 * k + 0.5`` of the convolution's grid).
OUTPUT_STRIDE = 4
OUTPUT_FIRST_CENTRE = 5

#: ImageNet statistics of RGB in [0, 1]: the coarse convolutions were ImageNet-pretrained.
IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)

CROP_MODES = ('center', 'bottom')


class PresetError(ValueError):
    """Raised for an unknown preset name or inconsistent preset data."""


def fine_output_length(input_length: int) -> int:
    """Output length of the fine network's 9x9/2 convolution and 2x2/2 pool (no padding)."""
    return ((input_length - 9) // 2 + 1) // 2


@dataclass(frozen=True)
class Preset:
    """
    One data set's network geometry.

    Attributes
    ----------
    input_width, input_height:
        Network input in pixels (the camera image resized and cropped).
    output_width, output_height:
        Size of the predicted log-depth map (coarse output and fine output).
    fine_crop_top:
        First network-input row that the fine network sees; it sees rows
        ``fine_crop_top .. input_height - 1`` and every column. KITTI's fine network sees only
        the bottom rows, where the Velodyne gives ground truth.
    resize_width, resize_height:
        The image size the training images had before the crop (the data set's images
        downsampled by 2). Preprocessing resizes any camera image so that it covers this size,
        keeping the aspect ratio, then crops the input from it.
    crop:
        ``center`` (NYU) or ``bottom`` (KITTI: horizontally centred, bottom-aligned).
    train_focal_px:
        Focal length of the training data in network-input pixels; sets metric scale.
    min_depth_m, max_depth_m:
        Valid depth range of the data set (evaluation caps, and the node's default range).
    mean_rgb, std_rgb:
        Input normalisation of RGB in [0, 1].

    """

    name: str
    input_width: int
    input_height: int
    output_width: int
    output_height: int
    fine_crop_top: int
    resize_width: float
    resize_height: float
    crop: str
    train_focal_px: float
    min_depth_m: float
    max_depth_m: float
    mean_rgb: tuple[float, float, float] = IMAGENET_MEAN_RGB
    std_rgb: tuple[float, float, float] = IMAGENET_STD_RGB

    def __post_init__(self) -> None:
        object.__setattr__(self, 'mean_rgb', tuple(float(v) for v in self.mean_rgb))
        object.__setattr__(self, 'std_rgb', tuple(float(v) for v in self.std_rgb))
        self.validate()

    def validate(self) -> None:
        """Check that the sizes agree with the fine network's arithmetic."""
        if self.crop not in CROP_MODES:
            raise PresetError(f'preset {self.name!r}: crop must be one of {CROP_MODES}, '
                              f'got {self.crop!r}')
        if not 0 <= self.fine_crop_top < self.input_height:
            raise PresetError(f'preset {self.name!r}: fine_crop_top {self.fine_crop_top} is '
                              f'outside the input height {self.input_height}')
        if self.resize_width < self.input_width or self.resize_height < self.input_height:
            raise PresetError(f'preset {self.name!r}: resize size {self.resize_width}x'
                              f'{self.resize_height} does not cover the input')
        fine_w = fine_output_length(self.input_width)
        fine_h = fine_output_length(self.fine_input_height)
        if (fine_w, fine_h) != (self.output_width, self.output_height):
            raise PresetError(
                f'preset {self.name!r}: the fine network maps a {self.input_width}x'
                f'{self.fine_input_height} crop to {fine_w}x{fine_h}, not to the output size '
                f'{self.output_width}x{self.output_height}')
        if not 0.0 < self.min_depth_m < self.max_depth_m:
            raise PresetError(f'preset {self.name!r}: need 0 < min_depth_m < max_depth_m')
        if self.train_focal_px <= 0.0:
            raise PresetError(f'preset {self.name!r}: train_focal_px must be positive')
        if len(self.mean_rgb) != 3 or len(self.std_rgb) != 3 or min(self.std_rgb) <= 0.0:
            raise PresetError(f'preset {self.name!r}: mean_rgb and std_rgb need 3 values, '
                              'std_rgb positive')

    @property
    def input_size(self) -> tuple[int, int]:
        """Network input as (width, height)."""
        return self.input_width, self.input_height

    @property
    def output_size(self) -> tuple[int, int]:
        """Predicted map as (width, height)."""
        return self.output_width, self.output_height

    @property
    def fine_input_height(self) -> int:
        """Rows of the network input that the fine network sees."""
        return self.input_height - self.fine_crop_top

    def depth_range_m(self, min_depth_m: float = 0.0,
                      max_depth_m: float = 0.0) -> tuple[float, float]:
        """
        Return a valid depth range in metres, zeros replaced by this preset's limits.

        Raises ``ValueError`` saying why when the range is empty (``need min < max ...``).
        """
        min_m = min_depth_m or self.min_depth_m
        max_m = max_depth_m or self.max_depth_m
        if not min_m < max_m:
            raise ValueError(f'need min < max, got {min_m} and {max_m} (0 stands for the '
                             f"{self.name} preset's {self.min_depth_m} / {self.max_depth_m})")
        return min_m, max_m

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for checkpoints and ONNX metadata."""
        data = asdict(self)
        data['mean_rgb'] = list(self.mean_rgb)
        data['std_rgb'] = list(self.std_rgb)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Preset:
        """Inverse of ``to_dict``; unknown keys are an error, not silently dropped."""
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise PresetError(f'unknown preset fields: {sorted(unknown)}')
        missing = {f.name for f in fields(cls) if f.name not in data
                   and f.name not in ('mean_rgb', 'std_rgb')}
        if missing:
            raise PresetError(f'preset is missing fields: {sorted(missing)}')
        return cls(**dict(data))


#: NYU Depth v2: 640x480 Kinect images downsampled by 2 to 320x240, centre crop 304x228.
#: Focal length 518.86 px at 640x480 (the data set's toolbox), so 259.43 px at the input.
NYU = Preset(
    name='nyu', input_width=304, input_height=228, output_width=74, output_height=55,
    fine_crop_top=0, resize_width=320.0, resize_height=240.0, crop='center',
    train_focal_px=518.86 / 2.0, min_depth_m=1e-3, max_depth_m=10.0)

#: KITTI raw: 1242x375 images downsampled by 2 to 621x187.5, crop 576x172 horizontally centred
#: and bottom-aligned. The fine network sees the bottom 4 * 27 + 7 = 115 rows (rows 57..171):
#: the smallest crop that its convolution and pool map onto 27 output rows. Focal length 721.54 px
#: (2011-09-26 calibration, P_rect_02), so 360.77 px at the input.
KITTI = Preset(
    name='kitti', input_width=576, input_height=172, output_width=142, output_height=27,
    fine_crop_top=57, resize_width=621.0, resize_height=187.5, crop='bottom',
    train_focal_px=721.54 / 2.0, min_depth_m=1e-3, max_depth_m=80.0)

PRESETS: dict[str, Preset] = {p.name: p for p in (NYU, KITTI)}


def get_preset(name: str) -> Preset:
    """Return the named preset (``nyu`` or ``kitti``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise PresetError(f'unknown preset {name!r}; choose one of {sorted(PRESETS)}') from None
