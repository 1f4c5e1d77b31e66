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
The depth node's QoS in one place, and input subscriptions that match their publishers.

Why the input reliability follows the publishers (``input_reliability: auto``): a best-effort
subscription matches every publisher, but Fast DDS, on its default settings, loses most large
fragmented samples (a 1242x375 rgb8 frame is 1.4 MB) sent to a best-effort reader, even by a
reliable writer (measured: 34 to 37 of 60 frames at 5 Hz; docs/transport.md). A reliable
subscription gets every frame a reliable publisher sends but does not match a best-effort one.
So, as ``ros2 bag record`` does, ``auto`` subscribes only once a publisher is seen, reliable when
every publisher found is reliable and best effort otherwise, and re-subscribes when the set of
publishers calls for the other policy.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from msdepth_ros.ros.config import RELIABILITY_CHOICES
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

_POLICIES = {'reliable': ReliabilityPolicy.RELIABLE,
             'best_effort': ReliabilityPolicy.BEST_EFFORT}


def input_qos(reliability: ReliabilityPolicy, depth: int) -> QoSProfile:
    """Return the inputs' QoS: keep last ``depth``, volatile (the newest frame only)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth, reliability=reliability,
                      durability=DurabilityPolicy.VOLATILE)


def output_qos(reliable: bool, depth: int) -> QoSProfile:
    """Return the outputs' QoS: reliable by default (matches every subscriber)."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=(ReliabilityPolicy.RELIABLE if reliable
                                   else ReliabilityPolicy.BEST_EFFORT),
                      durability=DurabilityPolicy.VOLATILE)


def lidar_qos(depth: int) -> QoSProfile:
    """Return the LIDAR QoS: best effort matches every LIDAR publisher; newest kept."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=depth,
                      reliability=ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.VOLATILE)


def tf_qos(static: bool) -> QoSProfile:
    """Return tf2 listeners' QoS: reliable, transient local for the latched static ones."""
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100,
                      reliability=ReliabilityPolicy.RELIABLE,
                      durability=(DurabilityPolicy.TRANSIENT_LOCAL if static
                                  else DurabilityPolicy.VOLATILE))


def reliability_for_publishers(publishers: Iterable[Any]) -> ReliabilityPolicy | None:
    """
    Return the reliability that matches every publisher, None when there is none.

    ``publishers`` are ``rclpy.topic_endpoint_info.TopicEndpointInfo`` (anything with
    ``qos_profile.reliability``). Reliable when all of them are reliable: a reliable reader gets
    every sample of a reliable writer whatever their size; best effort as soon as one is best
    effort, since a reliable reader does not match a best-effort writer.
    """
    policies = [info.qos_profile.reliability for info in publishers]
    if not policies:
        return None
    if all(policy == ReliabilityPolicy.RELIABLE for policy in policies):
        return ReliabilityPolicy.RELIABLE
    return ReliabilityPolicy.BEST_EFFORT


def policy_name(policy: ReliabilityPolicy | None) -> str:
    """``reliable``, ``best_effort`` or ``none`` (not subscribed yet)."""
    if policy is None:
        return 'none'
    return 'reliable' if policy == ReliabilityPolicy.RELIABLE else 'best_effort'


class MatchedSubscription:
    """
    A subscription whose reliability is fixed or follows the publishers found (``auto``).

    Parameters
    ----------
    node:
        The node that owns the subscription.
    msg_type, topic, callback:
        As ``Node.create_subscription``; ``topic`` is resolved (namespace, remapping) once.
    depth:
        History depth.
    reliability:
        One of ``RELIABILITY_CHOICES``. A fixed policy subscribes at once; ``auto`` subscribes
        when ``update`` first finds a publisher, and re-subscribes when the publishers call for
        the other policy (``update`` is called from a timer of the node).
    on_change:
        Called with a log line each time the subscription is (re)created under ``auto``.
    raw:
        Hand the callback the serialized bytes instead of a message (``msgs.cdr`` reads them).

    """

    def __init__(self, node: Node, msg_type: type, topic: str, callback: Callable[..., None],
                 depth: int, reliability: str,
                 on_change: Callable[[str], None] | None = None, raw: bool = False) -> None:
        if reliability not in RELIABILITY_CHOICES:
            raise ValueError(f'reliability must be one of {RELIABILITY_CHOICES}, got '
                             f'{reliability!r}')
        self._node = node
        self._msg_type = msg_type
        self._callback = callback
        self._depth = depth
        self._raw = raw
        self._auto = reliability == 'auto'
        self._on_change = on_change
        self.topic_name = node.resolve_topic_name(topic)
        self.subscription: Any = None
        self.policy: ReliabilityPolicy | None = None
        if not self._auto:
            self._subscribe(_POLICIES[reliability])

    @property
    def mode(self) -> str:
        """``auto`` or the fixed policy's name."""
        return 'auto' if self._auto else policy_name(self.policy)

    @property
    def policy_name(self) -> str:
        """``reliable``, ``best_effort`` or ``none`` (no publisher yet): the current policy."""
        return policy_name(self.policy)

    def update(self) -> None:
        """Under ``auto``: (re)subscribe with the reliability the current publishers call for."""
        if not self._auto:
            return
        wanted = reliability_for_publishers(
            self._node.get_publishers_info_by_topic(self.topic_name))
        if wanted is None or wanted == self.policy:
            return  # no publisher (keep what there is) or already matching
        previous = self.policy
        self._subscribe(wanted)
        if self._on_change is not None:
            self._on_change(f'{self.topic_name}: subscribed {policy_name(wanted)} to match its '
                            f'publishers' + (f' (was {policy_name(previous)})' if previous
                                             is not None else ''))

    def publisher_count(self) -> int:
        """Return the publishers matched by the subscription (0 while not subscribed)."""
        return 0 if self.subscription is None else self.subscription.get_publisher_count()

    def close(self) -> None:
        """Destroy the subscription."""
        if self.subscription is not None:
            self._node.destroy_subscription(self.subscription)
            self.subscription = None

    def _subscribe(self, policy: ReliabilityPolicy) -> None:
        self.close()
        self.subscription = self._node.create_subscription(
            self._msg_type, self.topic_name, self._callback, input_qos(policy, self._depth),
            raw=self._raw)
        self.policy = policy
