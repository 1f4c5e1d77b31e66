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
The package's default topic names, in one place: the nodes, the launch files, the tools, tests.

The nodes' topics are relative, so that a namespace (or a remapping) gives one node per camera;
``/diagnostics`` and TF are global. The KITTI names are those of the bags ``msdepth-kitti2bag``
writes, which ``kitti_replay.launch.py``, ``msdepth-bag-infer`` and ``msdepth-demo`` read.
"""

# -- the depth node -------------------------------------------------------------------------------

IMAGE = 'image'
#: image_transport's ``compressed`` transport of ``image``.
IMAGE_COMPRESSED = 'image/compressed'
CAMERA_INFO = 'camera_info'
#: 32FC1 metres, NaN invalid, and the camera info that matches it exactly.
DEPTH = 'depth/image'
DEPTH_INFO = 'depth/camera_info'
#: Organized PointCloud2 in the camera's optical frame.
POINTS = 'points'
#: sensor_msgs/LaserScan of the rows around the optical centre (``publish_scan``).
SCAN = 'scan'
#: Colourised preview of the depth (rgb8).
COLORIZED = 'depth/colorized'

# -- the LIDAR evaluation node --------------------------------------------------------------------

#: The LIDAR cloud the depth is scored against.
LIDAR = 'lidar_points'
#: Per-frame metrics (std_msgs/Float64MultiArray).
METRICS = 'depth_eval/metrics'

# -- global ---------------------------------------------------------------------------------------

DIAGNOSTICS = '/diagnostics'
TF = '/tf'
TF_STATIC = '/tf_static'

# -- KITTI bags (msdepth-kitti2bag) ---------------------------------------------------------------

KITTI_NAMESPACE = '/kitti'
#: A KITTI camera's raw image, relative to the camera's namespace (its camera info is
#: ``CAMERA_INFO`` there).
KITTI_IMAGE = 'image_raw'
#: Namespace of the left colour camera, the one the depth node runs on by default.
KITTI_LEFT_COLOUR = f'{KITTI_NAMESPACE}/camera_color_left'
KITTI_VELODYNE = f'{KITTI_NAMESPACE}/velodyne_points'
