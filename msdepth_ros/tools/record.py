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
``msdepth-record``: record ROS 2 topics into a rosbag2, for machines without ``ros2 bag``.

The counterpart of ``msdepth-replay``: messages are stored as the serialized bytes that arrive
(no decode and re-encode), stamped with their receive time as ``ros2 bag record`` does. Each
topic is subscribed as soon as a publisher of it appears, with the publishers' reliability and
durability (as ``ros2 bag record`` adapts its QoS), so latched topics such as ``/tf_static``
are recorded too and keep their durability in the bag's QoS metadata. The bag is written
under ``OUT_BAG.partial`` and renamed when recording stops (Ctrl-C, SIGTERM or
``--duration``), so an interrupted run leaves no half bag under the final name. On Ctrl-C and
SIGTERM the messages that have arrived but not been written yet are written before the bag
closes: a publisher that saw its messages acknowledged finds all of them in the bag.
"""

from __future__ import annotations

import argparse
from pathlib import Path
import shutil
import signal
import sys
import time
from typing import Any, Sequence

from msdepth_ros.bags.files import bag_qos
from msdepth_ros.tools.replay import message_class, ReplayError

#: Messages kept per topic while the writer is busy (reliable readers: none lost below this).
QUEUE_DEPTH = 100


class RecordError(RuntimeError):
    """A recording that cannot be made (bad output path, type not installed)."""


class Recorder:
    """Subscribe topics as they appear and write what arrives into an open rosbags writer."""

    def __init__(self, node: Any, writer: Any, topics: Sequence[str]) -> None:
        from rosbags.typesys import get_typestore, Stores
        self.node = node
        self.writer = writer
        self.wanted = [t if t.startswith('/') else '/' + t for t in topics]
        self.typestore = get_typestore(Stores.ROS2_JAZZY)
        self.connections: dict[str, Any] = {}
        self.subscriptions: dict[str, Any] = {}
        self.counts = dict.fromkeys(self.wanted, 0)

    def discover(self) -> list[str]:
        """Subscribe every wanted topic that has a publisher now; return the new ones."""
        from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

        types = dict(self.node.get_topic_names_and_types())
        new = []
        for topic in self.wanted:
            if topic in self.subscriptions or topic not in types:
                continue
            infos = self.node.get_publishers_info_by_topic(topic)
            if not infos:
                continue
            msgtype = types[topic][0]
            transient = all(i.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL
                            for i in infos)
            reliable = all(i.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                           for i in infos)
            try:
                cls = message_class(msgtype)
            except ReplayError as exc:
                raise RecordError(str(exc)) from None
            qos = QoSProfile(
                history=HistoryPolicy.KEEP_LAST, depth=QUEUE_DEPTH,
                reliability=(ReliabilityPolicy.RELIABLE if reliable
                             else ReliabilityPolicy.BEST_EFFORT),
                durability=(DurabilityPolicy.TRANSIENT_LOCAL if transient
                            else DurabilityPolicy.VOLATILE))
            self.connections[topic] = self.writer.add_connection(
                topic, msgtype, typestore=self.typestore,
                offered_qos_profiles=[bag_qos(reliable, transient, QUEUE_DEPTH)])
            self.subscriptions[topic] = self.node.create_subscription(
                cls, topic, lambda data, topic=topic: self._write(topic, data), qos, raw=True)
            new.append(topic)
        return new

    def _write(self, topic: str, data: bytes) -> None:
        self.writer.write(self.connections[topic], time.time_ns(), data)
        self.counts[topic] += 1

    def drain(self, spin_once: Any, timeout_s: float = 5.0) -> None:
        """Write the messages already received: spin until a wait brings none (``timeout_s``)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            before = sum(self.counts.values())
            spin_once(self.node, timeout_sec=0.2)
            if sum(self.counts.values()) == before:
                return


def main(argv: Sequence[str] | None = None) -> int:
    """Record until Ctrl-C, SIGTERM or ``--duration``; exit 0 with a bag, 1 on an error."""
    parser = argparse.ArgumentParser(
        prog='msdepth-record', description=__doc__.split('\n\n')[0].strip('`'),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('bag', type=Path, help='rosbag2 folder to write (must not exist)')
    parser.add_argument('--topics', nargs='+', required=True, help='topics to record')
    parser.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap',
                        help='storage format')
    parser.add_argument('--duration', type=float, default=None,
                        help='stop after this many seconds')
    args = parser.parse_args(argv)
    try:
        return _record(args)
    except RecordError as exc:
        print(f'msdepth-record: {exc}', file=sys.stderr)
        return 1


def _record(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.executors import ExternalShutdownException
    from rclpy.signals import SignalHandlerOptions
    from rosbags.rosbag2 import StoragePlugin, Writer

    final = args.bag
    partial = final.with_name(final.name + '.partial')
    if final.exists():
        raise RecordError(f'{final}: exists already; choose a new bag name')
    if not final.parent.is_dir():
        raise RecordError(f'{final.parent}: no such folder')
    if partial.exists():
        shutil.rmtree(partial)
    plugin = StoragePlugin.MCAP if args.storage == 'mcap' else StoragePlugin.SQLITE3
    writer = Writer(partial, version=9, storage_plugin=plugin)
    stop = []
    # Ctrl-C and SIGTERM end the loop below (rclpy's own handler would shut the context down
    # at once, before the messages already received are written).
    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    signal.signal(signal.SIGTERM, lambda *_: stop.append('SIGTERM'))
    signal.signal(signal.SIGINT, lambda *_: stop.append('SIGINT'))
    node = rclpy.create_node('msdepth_record')
    recorder = Recorder(node, writer, args.topics)
    finished = False
    try:
        writer.open()
        print(f'msdepth-record: waiting for {", ".join(recorder.wanted)}', flush=True)
        deadline = None if args.duration is None else time.monotonic() + args.duration
        next_discovery = 0.0
        try:
            while not stop and (deadline is None or time.monotonic() < deadline):
                if time.monotonic() >= next_discovery:
                    for topic in recorder.discover():
                        print(f'msdepth-record: recording {topic}', flush=True)
                    next_discovery = time.monotonic() + 0.2
                rclpy.spin_once(node, timeout_sec=0.05)
            recorder.drain(rclpy.spin_once)
        except (KeyboardInterrupt, ExternalShutdownException):
            pass
        finished = True
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        if finished:
            writer.close()
            partial.rename(final)
        else:
            shutil.rmtree(partial, ignore_errors=True)
    counts = ', '.join(f'{topic} {n}' for topic, n in recorder.counts.items())
    print(f'msdepth-record: wrote {final}: {counts}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
