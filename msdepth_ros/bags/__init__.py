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
rosbag2 files through the ``rosbags`` package, without rclpy: the library of the bag tools.

``files``: reading and atomically writing bags, the typestore's message classes for the shared
writers, QoS metadata. ``infer``: the depth node's outputs (``pipeline.depth.DepthPipeline``)
for every image of a bag, evaluated against its LIDAR scans; ``occupancy``: its occupancy
scores (the cells a Nav2 obstacle layer would mark) and the options that set them; ``kitti``:
a KITTI raw drive converted into a bag. The command lines in ``msdepth_ros/tools/`` parse
arguments, call these and turn their errors into exit codes.
"""
