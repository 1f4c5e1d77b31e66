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
One camera frame through the network into the depth node's output messages, for any transport.

``depth.DepthPipeline`` runs the depth node's frames and ``msdepth-bag-infer``'s alike: it
builds its messages with the writers of ``msdepth_ros.msgs.writers`` through the
``MessageTypes`` it is given (rclpy's in the node, a rosbags typestore's for bags). Imports
core, msgs and inference only; no rclpy, no message package.
"""
