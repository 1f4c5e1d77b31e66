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
Run the depth node as its own process and talk to it over real DDS from the test process.

The message builders and readers here are written independently of
``msdepth_ros.ros.conversions`` (plain numpy on the message fields), so that the node's
conversions are checked against a second implementation, not against themselves.
"""

from __future__ import annotations

import array
import gc
import os
from pathlib import Path
import signal
import subprocess
import threading
import time
from typing import Any, Callable, Iterable

from conftest import console_script
import numpy as np
from rcl_interfaces.msg import Parameter, ParameterType, ParameterValue
from rcl_interfaces.srv import SetParameters
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image, PointCloud2

#: Output topics of the node, relative to its namespace, with their types.
OUTPUTS = {'depth/image': Image, 'depth/camera_info': CameraInfo, 'points': PointCloud2}


def make_checkpoint(path: Path, preset: str = 'kitti') -> Path:
    """Write a small random-weight checkpoint (coarse layer 6 only 32 wide)."""
    from msdepth_ros.model.checkpoint import save_checkpoint
    from msdepth_ros.model.network import build_model, ModelConfig
    import torch
    torch.manual_seed(0)
    return save_checkpoint(path, build_model(ModelConfig.for_preset(preset, coarse_fc_width=32)))


# -- the node process -----------------------------------------------------------------------------

class NodeProcess:
    """
    ``depth_node`` started through its console script, in namespace ``namespace``.

    Its log (stdout and stderr) goes to ``log_path``; ``env`` adds environment variables;
    ``command`` starts another node instead (its command line before ``--ros-args``).
    """

    def __init__(self, namespace: str, args: Iterable[str], log_path: Path,
                 env: dict[str, str] | None = None,
                 command: list[str] | None = None) -> None:
        self.namespace = namespace
        self.log_path = log_path
        env = dict(os.environ, RCUTILS_COLORIZED_OUTPUT='0', PYTHONUNBUFFERED='1',
                   RCUTILS_LOGGING_BUFFERED_STREAM='0', ROS_LOG_DIR=str(log_path.parent / 'ros'),
                   **(env or {}))
        self._log_file = open(log_path, 'w')
        self.proc = subprocess.Popen(
            [*(command or [console_script('depth_node')]), '--ros-args', '-r',
             f'__ns:={namespace}', *args],
            stdout=self._log_file, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        """Return everything the node has logged so far."""
        return self.log_path.read_text(encoding='utf-8', errors='replace')

    def log_lines_with(self, text: str) -> list[str]:
        """Return the log lines that contain ``text``."""
        return [line for line in self.log().splitlines() if text in line]

    def rss_mib(self) -> float:
        """Resident memory of the node process, MiB."""
        for line in Path(f'/proc/{self.proc.pid}/status').read_text().splitlines():
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024.0
        raise RuntimeError('no VmRSS in /proc status')

    def wait_ready(self, timeout_s: float = 120.0) -> str:
        """
        Wait for the node's ``ready:`` log line (backend loaded, topics set up); return it.

        Fails at once, with the log, when the process exits first.
        """
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            lines = self.log_lines_with(']: ready: ')
            if lines:
                return lines[0]
            if not self.alive():
                raise AssertionError(f'depth_node exited ({self.proc.returncode}) before it was '
                                     f'ready:\n{self.log()}')
            time.sleep(0.05)
        raise AssertionError(f'depth_node not ready after {timeout_s} s:\n{self.log()}')

    def alive(self) -> bool:
        """Return True while the process runs."""
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 30.0) -> int:
        """Stop with SIGINT (Ctrl-C) and return the exit status (kill after ``timeout_s``)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()
        return self.proc.returncode


# -- the test side --------------------------------------------------------------------------------

def stamp_key(msg: Any) -> tuple[int, int]:
    """Return a message's header stamp as (sec, nanosec)."""
    return msg.header.stamp.sec, msg.header.stamp.nanosec


class Client:
    """
    A node in the test process, spinning in a background thread, that feeds and watches nodes.

    Every message received on a watched topic is kept; ``wait_for`` polls a predicate.
    """

    def __init__(self, name: str = 'depth_test_client') -> None:
        self.context = Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(name, context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._lock = threading.Lock()
        self._received: dict[str, list[tuple[float, Any]]] = {}
        self._publishers: dict[str, Any] = {}
        self._subscriptions: dict[str, Any] = {}
        self._stamp = 1000
        self._thread = threading.Thread(target=self._spin, daemon=True)
        self._thread.start()

    def _spin(self) -> None:
        while self.context.ok():
            try:
                self.executor.spin_once(timeout_sec=0.05)
            except Exception:  # noqa: B902 - shutting down under the executor
                if self.context.ok():
                    raise

    def close(self) -> None:
        """Destroy the client's node and shut its context down."""
        rclpy.shutdown(context=self.context)
        self._thread.join(5.0)
        # Destroy every handle now: rclpy objects left for the garbage collector would be
        # collected in processes forked later in this test run (flake8's workers) and crash.
        self.executor.shutdown()
        self.node.destroy_node()
        with self._lock:
            self._received.clear()
        self._publishers.clear()
        self._subscriptions.clear()
        gc.collect()

    # -- subscriptions -------------------------------------------------------------------------

    def watch(self, topic: str, msg_type: type, reliable: bool = True) -> None:
        """Keep every message of ``topic``."""
        def keep(msg: Any) -> None:
            with self._lock:
                self._received.setdefault(topic, []).append((time.monotonic(), msg))

        qos = QoSProfile(depth=50, reliability=(ReliabilityPolicy.RELIABLE if reliable
                                                else ReliabilityPolicy.BEST_EFFORT))
        with self._lock:
            self._received.setdefault(topic, [])
        self._subscriptions[topic] = self.node.create_subscription(msg_type, topic, keep, qos)

    def unwatch(self, topic: str) -> None:
        """Stop watching ``topic``."""
        self.node.destroy_subscription(self._subscriptions.pop(topic))

    def messages(self, topic: str) -> list[Any]:
        """Return the messages received on ``topic`` so far."""
        with self._lock:
            return [msg for _, msg in self._received.get(topic, [])]

    def arrivals(self, topic: str) -> list[tuple[float, Any]]:
        """Return (monotonic arrival time, message) of ``topic``."""
        with self._lock:
            return list(self._received.get(topic, []))

    def wait_for(self, predicate: Callable[[], Any], timeout_s: float, what: str) -> Any:
        """Poll ``predicate`` until it returns something truthy; fail after ``timeout_s``."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            value = predicate()
            if value:
                return value
            time.sleep(0.02)
        raise AssertionError(f'timed out after {timeout_s} s waiting for {what}')

    def outputs(self, namespace: str, stamp: tuple[int, int],
                topics: Iterable[str] = tuple(OUTPUTS)) -> dict[str, Any]:
        """Return the outputs of one frame found so far, by topic."""
        found = {}
        for topic in topics:
            for msg in self.messages(f'{namespace}/{topic}'):
                if stamp_key(msg) == stamp:
                    found[topic] = msg
        return found

    def wait_outputs(self, namespace: str, stamp: tuple[int, int],
                     topics: Iterable[str] = tuple(OUTPUTS),
                     timeout_s: float = 60.0) -> dict[str, Any]:
        """Wait until every topic in ``topics`` has the output of the frame ``stamp``."""
        topics = tuple(topics)
        return self.wait_for(
            lambda: (lambda f: f if len(f) == len(topics) else None)(
                self.outputs(namespace, stamp, topics)),
            timeout_s, f'outputs {topics} of frame {stamp} from {namespace}')

    # -- diagnostics ---------------------------------------------------------------------------

    def diagnostics(self, namespace: str, after_s: float | None = None,
                    status: str = 'depth_node: depth') -> dict[str, str] | None:
        """
        Latest status of the node in ``namespace`` as a dict (``level``, ``message``, values).

        With ``after_s`` (``time.time()``), only statuses stamped at or after it count;
        ``status``: the status name after the namespace (another node's).
        """
        name = f'{namespace}/{status}'
        for msg in reversed(self.messages('/diagnostics')):
            stamp_s = msg.header.stamp.sec + 1e-9 * msg.header.stamp.nanosec
            if after_s is not None and stamp_s < after_s:
                return None
            for entry in msg.status:
                if entry.name == name:
                    values = {kv.key: kv.value for kv in entry.values}
                    values['level'] = int.from_bytes(entry.level, 'little') \
                        if isinstance(entry.level, bytes) else int(entry.level)
                    values['message'] = entry.message
                    return values
        return None

    def wait_diagnostics(self, namespace: str, after_s: float | None = None,
                         timeout_s: float = 30.0) -> dict[str, str]:
        """Wait for a status of ``namespace`` stamped after ``after_s`` (default: now)."""
        after_s = time.time() if after_s is None else after_s
        return self.wait_for(lambda: self.diagnostics(namespace, after_s), timeout_s,
                             f'diagnostics of {namespace}')

    # -- publishing ----------------------------------------------------------------------------

    def advertise(self, topics: dict[str, type], timeout_s: float = 60.0) -> None:
        """
        Create reliable publishers and wait until the node's subscriptions match them.

        The node subscribes once it sees a publisher, with its reliability (``input_reliability``
        auto): a reliable reader. Once this (reliable, depth 10) publisher has matched it, every
        message published is delivered, repaired if the node's side of the match completes a
        moment later; no delivery here relies on best effort.
        """
        qos = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        for topic, msg_type in topics.items():
            publisher = self.node.create_publisher(msg_type, topic, qos)
            self.wait_for(lambda: publisher.get_subscription_count() >= 1, timeout_s,
                          f'a subscription matching the publisher of {topic}')
            self._publishers[topic] = publisher

    def send_camera_info(self, namespace: str, info: Any, timeout_s: float = 60.0) -> None:
        """
        Publish ``info`` to ``<namespace>/camera_info`` until the node says it has that camera.

        A volatile reader that matches a moment after the writer misses what was sent before
        (a camera keeps sending; a test sends once), so the camera info goes out again until
        the node's status (``/diagnostics``, watched by this client) shows its size.
        """
        size = f'{info.width}x{info.height}'

        def taken() -> bool:
            self.publish(f'{namespace}/camera_info', info)
            time.sleep(0.05)  # pacing of the repeats, not a wait for the result
            return (self.diagnostics(namespace) or {}).get('camera size (px)') == size

        self.wait_for(taken, timeout_s, f'{namespace} to take the camera info ({size})')

    def publisher(self, topic: str, msg_type: type) -> Any:
        """Return the publisher of ``topic`` (``advertise`` it first when the node listens)."""
        if topic not in self._publishers:
            self.advertise({topic: msg_type})
        return self._publishers[topic]

    def publish(self, topic: str, msg: Any) -> None:
        """Publish ``msg`` on ``topic``."""
        self.publisher(topic, type(msg)).publish(msg)

    def next_stamp(self) -> tuple[int, int]:
        """Return a stamp no other frame of this client has."""
        self._stamp += 1
        return self._stamp, 500

    def set_parameters(self, namespace: str, timeout_s: float = 10.0,
                       **values: Any) -> list[Any]:
        """Set parameters of ``<namespace>/depth_node`` through its service; return the results."""
        client = self.node.create_client(SetParameters, f'{namespace}/depth_node/set_parameters')
        try:
            if not client.wait_for_service(timeout_sec=timeout_s):
                raise AssertionError(f'no parameter service of {namespace}/depth_node')
            request = SetParameters.Request()
            request.parameters = [_parameter(name, value) for name, value in values.items()]
            future = client.call_async(request)
            self.wait_for(future.done, timeout_s, 'the set_parameters response')
            return list(future.result().results)
        finally:
            self.node.destroy_client(client)


def _parameter(name: str, value: Any) -> Parameter:
    pv = ParameterValue()
    if isinstance(value, bool):
        pv.type, pv.bool_value = ParameterType.PARAMETER_BOOL, value
    elif isinstance(value, int):
        pv.type, pv.integer_value = ParameterType.PARAMETER_INTEGER, value
    elif isinstance(value, float):
        pv.type, pv.double_value = ParameterType.PARAMETER_DOUBLE, value
    else:
        pv.type, pv.string_value = ParameterType.PARAMETER_STRING, str(value)
    return Parameter(name=name, value=pv)


# -- messages, built and read with plain numpy ----------------------------------------------------

def image_msg(rgb: np.ndarray, stamp: tuple[int, int], encoding: str = 'rgb8',
              frame_id: str = 'camera_optical', pad_bytes: int = 0) -> Image:
    """Image message of an ``H x W x 3`` uint8 RGB array in ``encoding`` with row padding."""
    if encoding == 'rgb8':
        pixels = rgb
    elif encoding == 'bgr8':
        pixels = rgb[..., ::-1]
    elif encoding in ('rgba8', 'bgra8'):
        colour = rgb if encoding == 'rgba8' else rgb[..., ::-1]
        pixels = np.concatenate([colour, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    elif encoding == 'mono8':
        pixels = rgb.mean(axis=2).astype(np.uint8)
    else:
        raise ValueError(encoding)
    height, width = rgb.shape[:2]
    rows = np.ascontiguousarray(pixels).reshape(height, -1)
    padded = np.zeros((height, rows.shape[1] + pad_bytes), np.uint8)
    padded[:, :rows.shape[1]] = rows
    msg = Image()
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width, msg.encoding = height, width, encoding
    msg.is_bigendian = 0
    msg.step = padded.shape[1]
    msg.data = array.array('B', padded.tobytes())
    return msg


def raw_image_msg(stamp: tuple[int, int], width: int, height: int, encoding: str, step: int,
                  data: bytes, is_bigendian: int = 0, frame_id: str = 'camera_optical') -> Image:
    """Image message with every field as given (for malformed input)."""
    msg = Image()
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    msg.width, msg.height, msg.encoding, msg.step = width, height, encoding, step
    msg.is_bigendian = is_bigendian
    msg.data = array.array('B', data)
    return msg


def compressed_msg(rgb: np.ndarray, stamp: tuple[int, int], frame_id: str = 'camera_optical',
                   data: bytes | None = None) -> CompressedImage:
    """PNG CompressedImage of an RGB array (or with ``data`` as given)."""
    import cv2
    if data is None:
        ok, encoded = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
        assert ok
        data = encoded.tobytes()
    msg = CompressedImage()
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    msg.format = 'rgb8; png compressed bgr8'
    msg.data = array.array('B', data)
    return msg


def camera_info_msg(fx: float, fy: float, cx: float, cy: float, width: int, height: int,
                    stamp: tuple[int, int] = (0, 0), frame_id: str = 'camera_optical',
                    k: list[float] | None = None, p: list[float] | None = None) -> CameraInfo:
    """Build a CameraInfo with K and P of a pinhole camera (or K and P as given)."""
    msg = CameraInfo()
    msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
    msg.header.frame_id = frame_id
    msg.width, msg.height = width, height
    msg.distortion_model = 'plumb_bob'
    msg.d = [0.0] * 5
    msg.k = np.array(k if k is not None else [fx, 0.0, cx, 0.0, fy, cy, 0.0, 0.0, 1.0], float)
    msg.r = np.eye(3).reshape(-1)
    msg.p = np.array(p if p is not None else [fx, 0.0, cx, 0.0, 0.0, fy, cy, 0.0,
                                              0.0, 0.0, 1.0, 0.0], float)
    return msg


def depth_array(msg: Image) -> np.ndarray:
    """``H x W`` float32 of a 32FC1 image message, read with numpy."""
    assert msg.encoding == '32FC1', msg.encoding
    dtype = np.dtype('>f4' if msg.is_bigendian else '<f4')
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)
    return rows[:, :msg.width * 4].copy().view(dtype).astype(np.float32).reshape(
        msg.height, msg.width)


def cloud_array(msg: PointCloud2) -> np.ndarray:
    """``H x W`` structured array of a cloud (x, y, z float32; rgb uint32 if present)."""
    order = '>' if msg.is_bigendian else '<'
    names, formats, offsets = [], [], []
    for field in msg.fields:
        names.append(field.name)
        formats.append(order + ('u4' if field.name == 'rgb' else 'f4'))
        offsets.append(field.offset)
    dtype = np.dtype({'names': names, 'formats': formats, 'offsets': offsets,
                      'itemsize': msg.point_step})
    rows = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.row_step)
    return rows[:, :msg.width * msg.point_step].copy().view(dtype).reshape(msg.height, msg.width)


def k_of(msg: CameraInfo) -> tuple[float, float, float, float]:
    """Return (fx, fy, cx, cy) read from a CameraInfo's K."""
    k = np.asarray(msg.k, float).reshape(3, 3)
    return k[0, 0], k[1, 1], k[0, 2], k[1, 2]
