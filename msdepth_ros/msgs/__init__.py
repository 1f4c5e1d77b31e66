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
Readers and writers of ROS messages that work on any message implementation, and topic names.

The readers (``images``, ``compressed``, ``readers``, ``cdr``) read fields by name only; the
writers (``writers``) build messages through a ``MessageTypes`` namespace of rclpy's classes, a
rosbags typestore's, or the records of ``cdr_messages`` that serialize themselves (what the
depth node publishes). Nothing here imports a message package, so the same code serves the
node (``msdepth_ros/ros/``) and the ``rosbags`` package's messages in the bag tools: one
implementation of each conversion, every transport. ``topics`` holds the default topic names
of the nodes, the launch files and the tools.
"""
