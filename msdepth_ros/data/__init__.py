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
Data sets of (RGB image, metric depth, intrinsics): NYU Depth v2, KITTI, synthetic road scenes.

Every data set yields ``DepthSample(image, depth_m, intrinsics)``: an ``H x W x 3`` uint8 RGB
image, ``H x W`` float32 depth in metres with NaN where there is no ground truth, and the
image's rectified ``Intrinsics``. This layer imports only ``core`` (numpy, OpenCV, h5py).
"""

from msdepth_ros.data.base import DatasetError, DepthDataset, DepthSample

__all__ = ['DatasetError', 'DepthDataset', 'DepthSample']
