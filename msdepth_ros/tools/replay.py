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
``msdepth-replay``: publish a rosbag2's topics over ROS 2 with the recorded timing.

For machines without ``ros2 bag`` (pip installs, CI); on a full ROS install ``ros2 bag play``
works the same with the depth node. Messages go out as the serialized bytes stored in the bag
(no decode and re-encode), on publishers whose QoS is the one recorded in the bag's metadata, so
that ``/tf_static`` (recorded transient-local) is latched for late subscribers. Options follow
``ros2 bag play``: ``--rate``, ``--start-offset``, ``--loop``, ``--topics``, ``--clock``,
``--qos-profile-overrides-path``, ``--remap``.

Delivery on default DDS settings: every publisher is reliable unless the bag recorded it best
effort (``/clock`` too: it matches reliable and best-effort readers alike). With
``--wait-for-subscribers`` (``/clock`` included) no message goes out before its readers have
matched, and at the end the replay waits until the readers have acknowledged every reliable
message before it lingers and exits, so a recorder or a node sees the last frames too.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import importlib
from pathlib import Path
import sys
import time
from typing import Any, Iterator, Sequence

#: rosbag2 QoS enum values (rmw_qos_*_policy_e), as stored in the bag's metadata.
_DURABILITY = {'transient_local': 1, 'volatile': 2}
_RELIABILITY = {'reliable': 1, 'best_effort': 2}
_HISTORY = {'keep_last': 1, 'keep_all': 2}


class ReplayError(RuntimeError):
    """A bag or option that cannot be replayed; the message says which and why."""


@dataclass(frozen=True)
class TopicPlan:
    """How one recorded topic is published: name, type, and the QoS to offer."""

    topic: str
    out_topic: str
    msgtype: str
    reliable: bool
    transient_local: bool
    depth: int
    count: int


def plan_topics(connections: Sequence[Any], topics: Sequence[str] | None,
                overrides: dict[str, dict[str, Any]], remaps: dict[str, str]) -> list[TopicPlan]:
    """
    Decide each topic's publisher from the bag's connections.

    A topic recorded from several publishers is offered with the strictest QoS any of them
    offered (transient-local and reliable if one was), which is what ``ros2 bag play`` does.
    """
    by_topic: dict[str, list[Any]] = {}
    for conn in connections:
        by_topic.setdefault(conn.topic, []).append(conn)
    if topics:
        missing = sorted(set(topics) - set(by_topic))
        if missing:
            raise ReplayError(f'topics not in the bag: {missing}; it has {sorted(by_topic)}')
    plans = []
    for topic, conns in sorted(by_topic.items()):
        if topics and topic not in topics:
            continue
        profiles = [q for c in conns for q in (getattr(c.ext, 'offered_qos_profiles', None)
                                               or [])]
        transient = any(q.durability.value == _DURABILITY['transient_local'] for q in profiles)
        reliable = (not profiles) or any(
            q.reliability.value == _RELIABILITY['reliable'] for q in profiles)
        depth = max([q.depth for q in profiles if q.history.value == _HISTORY['keep_last']]
                    or [10])
        ov = overrides.get(topic, {})
        if 'durability' in ov:
            transient = ov['durability'] == 'transient_local'
        if 'reliability' in ov:
            reliable = ov['reliability'] == 'reliable'
        if ov.get('history') == 'keep_all':
            depth = max(depth, sum(c.msgcount for c in conns))
        if 'depth' in ov:
            depth = int(ov['depth'])
        plans.append(TopicPlan(topic=topic, out_topic=remaps.get(topic, topic),
                               msgtype=conns[0].msgtype, reliable=reliable,
                               transient_local=transient, depth=max(1, depth),
                               count=sum(c.msgcount for c in conns)))
    return plans


def read_overrides(path: Path | None) -> dict[str, dict[str, Any]]:
    """Read a ``ros2 bag play --qos-profile-overrides-path`` YAML file."""
    if path is None:
        return {}
    import yaml
    try:
        data = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ReplayError(f'{path}: cannot read QoS overrides: {exc}') from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ReplayError(f'{path}: QoS overrides must map topic names to QoS settings')
    allowed = {'durability': set(_DURABILITY), 'reliability': set(_RELIABILITY),
               'history': set(_HISTORY)}
    for topic, settings in data.items():
        for key, value in settings.items():
            if key in allowed and value not in allowed[key]:
                raise ReplayError(f'{path}: {topic}: {key} must be one of '
                                  f'{sorted(allowed[key])}, got {value!r}')
    return data


def message_class(msgtype: str) -> type:
    """Import the rclpy message class of ``pkg/msg/Name``."""
    pkg, kind, name = msgtype.split('/')
    try:
        return getattr(importlib.import_module(f'{pkg}.{kind}'), name)
    except (ImportError, AttributeError):
        raise ReplayError(f'message type {msgtype} is not installed (python package '
                          f'{pkg!r})') from None


def _schedule(reader: Any, connections: Sequence[Any], start_ns: int,
              offset_ns: int) -> Iterator[tuple[Any, int, bytes]]:
    for conn, stamp, data in reader.messages(connections=connections):
        if stamp - start_ns >= offset_ns:
            yield conn, stamp, data


def main(argv: Sequence[str] | None = None) -> int:
    """Replay a bag; exit 0 at its end, 1 on a bag that cannot be replayed, 2 on bad usage."""
    parser = argparse.ArgumentParser(
        prog='msdepth-replay', description=__doc__.split('\n\n')[0].strip('`'),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('bag', type=Path, help='rosbag2 folder (sqlite3 or MCAP)')
    parser.add_argument('--rate', '-r', type=float, default=1.0, help='playback rate factor')
    parser.add_argument('--start-offset', type=float, default=0.0,
                        help='seconds into the bag to start from')
    parser.add_argument('--loop', '-l', action='store_true', help='replay again at the end')
    parser.add_argument('--topics', nargs='+', help='replay only these topics')
    parser.add_argument('--clock', nargs='?', type=float, const=100.0, default=None,
                        metavar='HZ', help='publish /clock with the bag time at HZ (for nodes '
                        'with use_sim_time)')
    parser.add_argument('--qos-profile-overrides-path', type=Path, default=None,
                        help='YAML of per-topic QoS overrides, as ros2 bag play reads')
    parser.add_argument('--remap', nargs='+', default=[], metavar='FROM:=TO',
                        help='publish a topic under another name')
    parser.add_argument('--delay', type=float, default=0.5,
                        help='seconds between creating the publishers and the first message, '
                        'for subscribers to be discovered')
    parser.add_argument('--wait-for-subscribers', nargs='+', default=[], metavar='TOPIC[:N]',
                        help='before the first message, wait until the publisher of each TOPIC '
                        '(a replayed topic, or /clock with --clock) has matched N subscriptions '
                        '(default 1): no frame is sent before the readers that must see every '
                        'frame exist')
    parser.add_argument('--wait-timeout', type=float, default=60.0,
                        help='seconds to wait for --wait-for-subscribers before giving up')
    parser.add_argument('--ack-timeout', type=float, default=10.0,
                        help='after the last message, wait at most this many seconds for the '
                        'readers to acknowledge every reliable message')
    parser.add_argument('--linger', type=float, default=1.0,
                        help='seconds to keep publishers alive after the last message has been '
                        'acknowledged (for late subscribers of latched topics)')
    parser.add_argument('--quiet', '-q', action='store_true', help='no progress bar')
    args = parser.parse_args(argv)
    if args.rate <= 0:
        parser.error('--rate must be positive')
    if args.clock is not None and args.clock <= 0:
        parser.error('--clock rate must be positive')
    remaps = {}
    for item in args.remap:
        if ':=' not in item:
            parser.error(f'--remap needs FROM:=TO, got {item!r}')
        src, dst = item.split(':=', 1)
        remaps[src] = dst
    args.wait = {}
    for item in args.wait_for_subscribers:
        topic, _, count = item.partition(':')
        if not count.isdigit() and count:
            parser.error(f'--wait-for-subscribers needs TOPIC or TOPIC:N, got {item!r}')
        args.wait['/' + topic.lstrip('/')] = int(count or 1)
    try:
        return _replay(args, remaps)
    except ReplayError as exc:
        print(f'msdepth-replay: {exc}', file=sys.stderr)
        return 1


def _replay(args: argparse.Namespace, remaps: dict[str, str]) -> int:
    from rosbags.highlevel import AnyReader

    if not args.bag.exists():
        raise ReplayError(f'{args.bag}: no such bag')
    overrides = read_overrides(args.qos_profile_overrides_path)
    try:
        reader = AnyReader([args.bag])
        reader.open()
    except Exception as exc:  # noqa: B902 - any failure to open is about the bag
        raise ReplayError(f'{args.bag}: not a readable rosbag2: {exc}') from None
    try:
        plans = plan_topics(reader.connections, args.topics, overrides, remaps)
        classes = {p.topic: message_class(p.msgtype) for p in plans}
        return _publish(args, reader, plans, classes)
    finally:
        reader.close()


def _publish(args: argparse.Namespace, reader: Any, plans: list[TopicPlan],
             classes: dict[str, type]) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
    from rosgraph_msgs.msg import Clock
    from tqdm import tqdm

    rclpy.init()
    node = rclpy.create_node('msdepth_replay')
    try:
        publishers = {}
        for plan in plans:
            qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=plan.depth,
                reliability=(ReliabilityPolicy.RELIABLE if plan.reliable
                             else ReliabilityPolicy.BEST_EFFORT),
                durability=(DurabilityPolicy.TRANSIENT_LOCAL if plan.transient_local
                            else DurabilityPolicy.VOLATILE))
            publishers[plan.topic] = node.create_publisher(classes[plan.topic], plan.out_topic,
                                                           qos)
            node.get_logger().info(
                f'{plan.topic} -> {plan.out_topic} [{plan.msgtype}] {plan.count} messages, '
                f"{'reliable' if plan.reliable else 'best effort'}"
                f"{', transient local' if plan.transient_local else ''}")
        clock_pub = node.create_publisher(Clock, '/clock', 10) if args.clock else None
        connections = [c for c in reader.connections if c.topic in publishers]
        start_ns = reader.start_time
        offset_ns = int(args.start_offset * 1e9)
        total = sum(p.count for p in plans)
        time.sleep(max(0.0, args.delay))
        by_out = {plan.out_topic: publishers[plan.topic] for plan in plans}
        if clock_pub is not None:
            by_out.setdefault('/clock', clock_pub)
        _wait_for_subscribers(by_out, args.wait, args.wait_timeout)
        while True:
            _play_once(args, reader, connections, publishers, clock_pub, start_ns, offset_ns,
                       total, tqdm)
            if not args.loop or not rclpy.ok():
                break
        _wait_for_acks(node, list(by_out.items()), args.ack_timeout)
        # Linger for late readers (latched /tf_static) until the time is up or Ctrl-C, which
        # shuts rclpy's context down (its handler runs in whatever call is waiting).
        linger_end = time.monotonic() + max(0.0, args.linger)
        while rclpy.ok() and time.monotonic() < linger_end:
            time.sleep(0.05)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _wait_for_subscribers(by_out: dict[str, Any], wanted: dict[str, int],
                          timeout_s: float) -> None:
    """Wait until each publisher (by output topic) in ``wanted`` has matched N readers."""
    missing = sorted(set(wanted) - set(by_out))
    if missing:
        raise ReplayError(f'--wait-for-subscribers names topics that are not replayed: '
                          f'{", ".join(missing)}')
    end = time.monotonic() + timeout_s
    while True:
        short = {t: (by_out[t].get_subscription_count(), n) for t, n in wanted.items()
                 if by_out[t].get_subscription_count() < n}
        if not short:
            return
        if time.monotonic() > end:
            detail = ', '.join(f'{t} {have} of {n}' for t, (have, n) in sorted(short.items()))
            raise ReplayError(f'subscribers did not appear within {timeout_s:g} s: {detail}')
        time.sleep(0.05)


def _wait_for_acks(node: Any, publishers: list[tuple[str, Any]], timeout_s: float) -> None:
    """
    Wait until the matched reliable readers have acknowledged every message (``timeout_s``).

    Without this, the process could exit while the last samples are still being sent or
    repaired, and a reader would miss them. Best-effort publishers return at once.
    """
    from rclpy.duration import Duration

    end = time.monotonic() + max(0.0, timeout_s)
    late = []
    for topic, publisher in publishers:
        left_s = max(0.0, end - time.monotonic())
        try:
            acked = publisher.wait_for_all_acked(Duration(nanoseconds=int(left_s * 1e9)))
        except Exception:  # noqa: B902 - rclpy raises RCLError once Ctrl-C shut it down
            if not node.context.ok():
                return  # interrupted: nothing left to wait for
            raise
        if not acked:
            late.append(topic)
    if late:
        node.get_logger().warning(
            f'readers did not acknowledge every message within {timeout_s:g} s: '
            f'{", ".join(late)}')


def _play_once(args: argparse.Namespace, reader: Any, connections: list, publishers: dict,
               clock_pub: Any, start_ns: int, offset_ns: int, total: int, tqdm: Any) -> None:
    from builtin_interfaces.msg import Time
    from rosgraph_msgs.msg import Clock

    def publish_clock(bag_ns: int) -> None:
        if clock_pub is not None:
            clock_pub.publish(Clock(clock=Time(sec=bag_ns // 10**9, nanosec=bag_ns % 10**9)))

    first_ns = start_ns + offset_ns
    wall0 = time.monotonic()
    clock_period = 1.0 / args.clock if args.clock else None
    bar = tqdm(total=total, unit='msg', disable=args.quiet, desc='replay')
    try:
        for conn, stamp, data in _schedule(reader, connections, start_ns, offset_ns):
            due = wall0 + (stamp - first_ns) / 1e9 / args.rate
            while True:
                now = time.monotonic()
                if now >= due:
                    break
                if clock_period is None:
                    time.sleep(due - now)
                else:
                    publish_clock(first_ns + int((now - wall0) * args.rate * 1e9))
                    time.sleep(min(clock_period, due - now))
            publish_clock(stamp)
            publishers[conn.topic].publish(bytes(data))
            bar.update(1)
    finally:
        bar.close()


if __name__ == '__main__':
    sys.exit(main())
