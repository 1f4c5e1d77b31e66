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

"""The input reliability that matches the publishers found (``ros.qos``)."""

from __future__ import annotations

from types import SimpleNamespace

from msdepth_ros.ros.qos import policy_name, reliability_for_publishers
from rclpy.qos import QoSProfile, ReliabilityPolicy

RELIABLE = SimpleNamespace(qos_profile=QoSProfile(depth=10,
                                                  reliability=ReliabilityPolicy.RELIABLE))
BEST_EFFORT = SimpleNamespace(qos_profile=QoSProfile(depth=10,
                                                     reliability=ReliabilityPolicy.BEST_EFFORT))


def test_reliable_only_when_every_publisher_is_reliable():
    assert reliability_for_publishers([]) is None
    assert reliability_for_publishers([RELIABLE]) == ReliabilityPolicy.RELIABLE
    assert reliability_for_publishers([RELIABLE, RELIABLE]) == ReliabilityPolicy.RELIABLE
    # A reliable reader would not match the best-effort one: best effort matches both.
    assert reliability_for_publishers([RELIABLE, BEST_EFFORT]) == ReliabilityPolicy.BEST_EFFORT
    assert reliability_for_publishers([BEST_EFFORT]) == ReliabilityPolicy.BEST_EFFORT


def test_policy_names_are_the_parameter_values():
    assert policy_name(ReliabilityPolicy.RELIABLE) == 'reliable'
    assert policy_name(ReliabilityPolicy.BEST_EFFORT) == 'best_effort'
    assert policy_name(None) == 'none'
