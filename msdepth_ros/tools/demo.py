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
``msdepth-demo``: the whole system on an embedded default, as it runs on a robot.

1. A synthetic drive is written in the KITTI raw layout (a street never seen in training, with
   its exact depth as ground truth) and converted to a rosbag2 with ``msdepth-kitti2bag``.
2. The demo model (``models/demo_kitti_synthetic.pt``) is exported to ONNX with
   ``msdepth-export`` (parity-checked against PyTorch).
3. ``depth_node`` runs as its own process on ONNX Runtime in ``/kitti/camera_color_left``;
   ``msdepth-record`` records its outputs; ``msdepth-replay`` replays the bag over DDS.
4. The recording is read back: depth against the truth (the paper's metrics, beside the
   mean-depth baseline), a PNG grid, one frame's point cloud as PLY, metrics as JSON, and a
   summary (frames in and out, latency).

Every step is a separate process talking over ROS 2 exactly as on a robot; nothing is faked.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
import hashlib
import json
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Sequence

from msdepth_ros.core.affine import AxisMap, PixelMap
from msdepth_ros.core.intrinsics import Intrinsics
from msdepth_ros.core.metrics import format_table
from msdepth_ros.data.base import SubsetDataset
from msdepth_ros.data.kitti import KittiRawDataset
from msdepth_ros.data.kitti_writer import SyntheticDriveConfig, write_synthetic_drive
from msdepth_ros.evaluation.evaluate import (ConstantSource, depth_image_prediction, EvalProtocol,
                                             evaluate, PredictedDepth)
from msdepth_ros.msgs import topics
from msdepth_ros.msgs.readers import pointcloud2_fields
from msdepth_ros.msgs.writers import stamp_ns
from msdepth_ros.tools.demo_plots import plot_grid, real_kitti_frame, shared_data_dir
import numpy as np

NAMESPACE = topics.KITTI_LEFT_COLOUR
IMAGE_TOPIC = f'{NAMESPACE}/{topics.KITTI_IMAGE}'
DEPTH_TOPIC = f'{NAMESPACE}/{topics.DEPTH}'
DEPTH_INFO_TOPIC = f'{NAMESPACE}/{topics.DEPTH_INFO}'
POINTS_TOPIC = f'{NAMESPACE}/{topics.POINTS}'
RECORDED_TOPICS = (IMAGE_TOPIC, DEPTH_TOPIC, DEPTH_INFO_TOPIC, POINTS_TOPIC, topics.DIAGNOSTICS)
#: Street seed of the demo drive: the demo model's training and evaluation seeds are below
#: 100000 (models/README.md), so this street is new to it.
DEMO_SEED = 424242
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


class DemoError(RuntimeError):
    """A step of the demo that failed; the message says which and why."""


def share_file(relative: str) -> Path:
    """Find a file of the package's share folder (source tree first, then the ament index)."""
    candidate = PACKAGE_ROOT / relative
    if candidate.exists():
        return candidate
    try:
        from ament_index_python.packages import get_package_share_directory
        candidate = Path(get_package_share_directory('msdepth_ros')) / relative
    except (ImportError, LookupError):
        pass
    if not candidate.exists():
        raise DemoError(f'{relative}: not found in the source tree or the installed package')
    return candidate


def pipeline_environment() -> dict[str, str]:
    """
    Return the environment of the demo's processes: the large-frame Fast DDS profile.

    KITTI-size images (1.4 MB) do not fit Fast DDS's default 512 KiB shared-memory segment and
    are mostly lost by best-effort readers such as the node's input; every process of the
    pipeline gets ``config/fastdds_large_frames.xml`` unless the user chose a profile already.
    """
    env = dict(os.environ)
    if not env.get('FASTRTPS_DEFAULT_PROFILES_FILE') and not env.get(
            'FASTDDS_DEFAULT_PROFILES_FILE'):
        profile = str(share_file('config/fastdds_large_frames.xml'))
        env['FASTRTPS_DEFAULT_PROFILES_FILE'] = profile
        env['FASTDDS_DEFAULT_PROFILES_FILE'] = profile
    return env


def _module_command(module: str, *args: str) -> list[str]:
    return [sys.executable, '-m', module, *args]


def _run_step(title: str, command: list[str], log: Path, timeout_s: float) -> None:
    print(f'[demo] {title}', flush=True)
    with open(log, 'w', encoding='utf-8') as out:
        try:
            proc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                  timeout=timeout_s, env=pipeline_environment())
        except subprocess.TimeoutExpired:
            raise DemoError(f'{title}: no result within {timeout_s:.0f} s (log: {log})') from None
    if proc.returncode != 0:
        tail = log.read_text(encoding='utf-8', errors='replace').strip().splitlines()[-5:]
        raise DemoError(f'{title} failed (exit {proc.returncode}, log: {log}):\n  '
                        + '\n  '.join(tail))


class _Process:
    """A background process whose output goes to a log file and is watched for lines."""

    def __init__(self, name: str, command: list[str], log: Path) -> None:
        self.name = name
        self.log = log
        self.lines: list[str] = []
        self._file = open(log, 'w', encoding='utf-8')
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, bufsize=1, env=pipeline_environment())
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            self._file.write(line)
            self._file.flush()

    def wait_for(self, text: str, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                self._thread.join(timeout=2)
                tail = ''.join(self.lines[-5:]).strip()
                raise DemoError(f'{self.name} stopped (exit {self.proc.returncode}, log: '
                                f'{self.log}):\n  {tail}')
            time.sleep(0.1)
        raise DemoError(f'{self.name}: {text!r} not seen within {timeout_s:.0f} s '
                        f'(log: {self.log})')

    def stop(self, timeout_s: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._thread.join(timeout=5)
        self._file.close()
        return self.proc.returncode


# -- reading the recording ---------------------------------------------------------------------

@dataclass
class Recording:
    """What ``msdepth-record`` captured, decoded."""

    images: dict[int, tuple[int, bytes]]          # stamp -> (receive ns, sha1 of pixels)
    depths: dict[int, tuple[int, np.ndarray]]     # stamp -> (receive ns, H x W metres)
    depth_infos: dict[int, Intrinsics]            # stamp -> depth image intrinsics
    clouds: dict[int, Any]                        # stamp -> PointCloud2 (rosbags message)
    diagnostics: list[dict[str, str]]             # key-values of the depth status, in order


def _image_array(msg: Any, dtype: str) -> np.ndarray:
    """Rows of a ``sensor_msgs/Image`` as an array (padding in ``step`` dropped)."""
    order = '>' if msg.is_bigendian else '<'
    item = np.dtype(dtype).newbyteorder(order)
    channels = {'32FC1': 1, 'rgb8': 3}[msg.encoding]
    data = np.asarray(msg.data, dtype=np.uint8)
    rows = data[:msg.step * msg.height].reshape(msg.height, msg.step)
    row_bytes = msg.width * channels * item.itemsize
    pixels = np.ascontiguousarray(rows[:, :row_bytes]).view(item)
    return pixels.reshape(msg.height, msg.width, channels).squeeze(-1) if channels == 1 \
        else pixels.reshape(msg.height, msg.width, channels)


def read_recording(bag: Path) -> Recording:
    """Decode the recorded bag."""
    from rosbags.highlevel import AnyReader
    from rosbags.typesys import get_typestore, Stores

    store = get_typestore(Stores.ROS2_JAZZY)
    rec = Recording({}, {}, {}, {}, [])
    with AnyReader([bag], default_typestore=store) as reader:
        for conn, received_ns, data in reader.messages():
            msg = reader.deserialize(data, conn.msgtype)
            if conn.topic == IMAGE_TOPIC:
                pixels = _image_array(msg, 'u1')
                rec.images[stamp_ns(msg.header)] = (received_ns,
                                                    hashlib.sha1(pixels.tobytes()).digest())
            elif conn.topic == DEPTH_TOPIC:
                rec.depths[stamp_ns(msg.header)] = (received_ns,
                                                    _image_array(msg, 'f4').astype(np.float32))
            elif conn.topic == DEPTH_INFO_TOPIC:
                rec.depth_infos[stamp_ns(msg.header)] = Intrinsics.from_camera_info(
                    msg.k, msg.p, int(msg.width), int(msg.height))
            elif conn.topic == POINTS_TOPIC:
                rec.clouds[stamp_ns(msg.header)] = msg
            elif conn.topic == topics.DIAGNOSTICS:
                for status in msg.status:
                    if status.name.endswith(': depth'):
                        rec.diagnostics.append({kv.key: kv.value for kv in status.values})
    return rec


def camera_to_depth_map(camera: Intrinsics, depth: Intrinsics) -> PixelMap:
    """Map camera pixels to depth-image pixels of the same camera (both pinhole, no skew)."""
    sx = depth.fx_px / camera.fx_px
    sy = depth.fy_px / camera.fy_px
    return PixelMap(AxisMap(sx, depth.cx_px - sx * camera.cx_px),
                    AxisMap(sy, depth.cy_px - sy * camera.cy_px))


class RecordedSource:
    """The node's recorded depth images as a ``DepthSource``, found by the input's pixels."""

    label = 'depth_node'

    def __init__(self, rec: Recording) -> None:
        by_hash = {digest: stamp for stamp, (_, digest) in rec.images.items()}
        self._rec = rec
        self._by_hash = by_hash

    def stamp_of(self, image_rgb: np.ndarray) -> int | None:
        """Stamp of the recorded input with exactly these pixels, if it was recorded."""
        return self._by_hash.get(hashlib.sha1(np.ascontiguousarray(image_rgb).tobytes()).digest())

    def predict(self, image_rgb: np.ndarray, intrinsics: Intrinsics) -> PredictedDepth:
        """Return the node's depth image of this input."""
        stamp = self.stamp_of(image_rgb)
        if stamp is None or stamp not in self._rec.depths or stamp not in self._rec.depth_infos:
            raise DemoError('a frame of the drive has no recorded depth image')
        depth = self._rec.depths[stamp][1]
        return depth_image_prediction(depth, camera_to_depth_map(
            intrinsics, self._rec.depth_infos[stamp]))


# -- outputs ------------------------------------------------------------------------------------

def write_ply(path: Path, cloud_msg: Any) -> int:
    """Write the valid points of a PointCloud2 (x y z, and colour when it has ``rgb``) as PLY."""
    names = [f.name for f in cloud_msg.fields]
    has_rgb = 'rgb' in names
    xyz = pointcloud2_fields(cloud_msg, ('x', 'y', 'z')).astype(np.float32)
    keep = np.isfinite(xyz).all(axis=1)
    vertex = [('x', '<f4'), ('y', '<f4'), ('z', '<f4')]
    if has_rgb:
        vertex += [('red', 'u1'), ('green', 'u1'), ('blue', 'u1')]
    out = np.zeros(int(keep.sum()), dtype=vertex)
    out['x'], out['y'], out['z'] = xyz[keep].T
    header = ['ply', 'format binary_little_endian 1.0',
              f'comment msdepth_ros depth_node points, frame {cloud_msg.header.frame_id}',
              f'element vertex {len(out)}',
              'property float x', 'property float y', 'property float z']
    if has_rgb:
        # rgb is a float32 field holding 0x00RRGGBB (PCL's convention): read its bits.
        packed = pointcloud2_fields(cloud_msg, ('rgb',))[:, 0].astype(np.float32).view(np.uint32)
        packed = packed[keep]
        out['red'], out['green'], out['blue'] = (packed >> 16) & 255, (packed >> 8) & 255, \
            packed & 255
        header += ['property uchar red', 'property uchar green', 'property uchar blue']
    header.append('end_header')
    with open(path, 'wb') as f:
        f.write(('\n'.join(header) + '\n').encode('ascii'))
        f.write(out.tobytes())
    return len(out)


# -- the run ------------------------------------------------------------------------------------

def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; exit 0 with the outputs written, 1 when a step fails."""
    parser = argparse.ArgumentParser(
        prog='msdepth-demo', description=__doc__.split('\n\n')[0].strip('`'),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--model', type=Path,
                        default=PACKAGE_ROOT / 'models' / 'demo_kitti_synthetic.pt',
                        help='checkpoint to run (exported to ONNX for the node)')
    parser.add_argument('--output-dir', type=Path, default=Path('demo_output'),
                        help='where the results go (replaced)')
    parser.add_argument('--frames', type=int, default=20, help='frames of the synthetic drive')
    parser.add_argument('--rate', type=float, default=0.5,
                        help='replay rate factor (the drive is 10 Hz; 0.5 replays at 5 Hz)')
    parser.add_argument('--backend', default='onnxruntime',
                        choices=('onnxruntime', 'torch', 'auto'), help="the node's backend")
    args = parser.parse_args(argv)
    if args.frames < 2:
        parser.error('--frames must be at least 2')
    if args.rate <= 0:
        parser.error('--rate must be positive')
    try:
        return _demo(args)
    except DemoError as exc:
        print(f'msdepth-demo: {exc}', file=sys.stderr)
        return 1


def _demo(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    if not args.model.is_file():
        raise DemoError(f'{args.model}: no such model file')
    out = args.output_dir
    if out.exists():
        shutil.rmtree(out)
    work = out / 'work'
    logs = out / 'logs'
    work.mkdir(parents=True)
    logs.mkdir()
    started = time.monotonic()

    print(f'[demo] writing a synthetic {args.frames}-frame drive (KITTI raw layout, street '
          f'seed {DEMO_SEED})', flush=True)
    drive = write_synthetic_drive(
        work / 'kitti_raw', SyntheticDriveConfig(frames=args.frames, seed=DEMO_SEED, cameras=(2,)),
        benchmark_root=work / 'kitti_depth', progress=lambda r: tqdm(r, unit='frame'))
    drive_bag = work / 'drive_bag'
    _run_step('converting the drive to a rosbag2 (msdepth-kitti2bag)',
              _module_command('msdepth_ros.tools.kitti2bag', str(drive.drive_dir),
                              str(drive_bag)), logs / 'kitti2bag.log', 300)
    onnx = work / 'demo_model.onnx'
    _run_step('exporting the model to ONNX with a parity check (msdepth-export)',
              _module_command('msdepth_ros.tools.export', str(args.model), '-o', str(onnx),
                              '--scenes', '2'), logs / 'export.log', 300)

    recorded = work / 'output_bag'
    env_note = f"ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID', '0')}"
    print(f'[demo] starting depth_node ({args.backend}) and the recorder ({env_note})',
          flush=True)
    recorder = _Process('msdepth-record', _module_command(
        'msdepth_ros.tools.record', str(recorded), '--topics', *RECORDED_TOPICS),
        logs / 'record.log')
    node = _Process('depth_node', _module_command(
        'msdepth_ros.ros.depth_node', '--ros-args',
        '-r', f'__ns:={NAMESPACE}', '-r', 'image:=image_raw',
        '--params-file', str(share_file('config/kitti.yaml')),
        '-p', f'model:={onnx}', '-p', f'backend:={args.backend}'), logs / 'depth_node.log')
    try:
        recorder.wait_for('waiting for', 60)
        recorder.wait_for(f'recording {DEPTH_TOPIC}', 120)
        recorder.wait_for(f'recording {POINTS_TOPIC}', 30)
        _run_step(f'replaying the bag into the node at {args.rate:g}x (msdepth-replay)',
                  _module_command('msdepth_ros.tools.replay', str(drive_bag), '--rate',
                                  str(args.rate), '--delay', '0.5', '--linger', '3', '-q',
                                  # every frame must reach the node and the recorder
                                  '--wait-for-subscribers', f'{IMAGE_TOPIC}:2',
                                  f'{NAMESPACE}/camera_info:1'),
                  logs / 'replay.log', 60 + 2 * args.frames / (10 * args.rate))
    finally:
        node_rc = node.stop()
        recorder_rc = recorder.stop()
    if recorder_rc != 0:
        raise DemoError(f'msdepth-record exited {recorder_rc} (log: {recorder.log})')
    if node_rc not in (0, -signal.SIGINT):
        raise DemoError(f'depth_node exited {node_rc} (log: {node.log})')
    return _report(args, drive, recorded, out, time.monotonic() - started)


def _report(args: argparse.Namespace, drive: Any, recorded: Path, out: Path,
            elapsed_s: float) -> int:
    rec = read_recording(recorded)
    if not rec.depths:
        raise DemoError(f'the node published no depth image (logs: {out / "logs"})')
    source = RecordedSource(rec)
    dataset = KittiRawDataset(drive.root, drive.entries('l'), ground_truth='benchmark',
                              benchmark_root=drive.benchmark_dir.parent)
    answered = [i for i in range(len(dataset))
                if source.stamp_of(dataset[i].image) in rec.depths]
    evaluated = SubsetDataset(dataset, answered)
    protocol = EvalProtocol.for_preset('kitti')
    report = evaluate(source, evaluated, protocol, keep_examples=len(answered))
    # The baseline's constant is the mean true depth of the drive itself: generous to it.
    truths = [dataset[i].depth_m for i in range(len(dataset))]
    mean_depth = float(np.mean(np.concatenate([
        gt[(gt > protocol.min_depth_m) & (gt < protocol.max_depth_m)] for gt in truths])))
    baseline = evaluate(ConstantSource(mean_depth, 'mean depth'), evaluated, protocol,
                        keep_examples=0)

    # The same model on a real KITTI frame, where the sample data is at hand.
    real = real_kitti_frame(out / 'work' / 'demo_model.onnx', shared_data_dir(PACKAGE_ROOT))
    real_note = ('real KITTI frame: no sample data (kitti_raw_mini under ../shared/data or '
                 '$MSDEPTH_SHARED_DATA), its row is left out')
    step = max(1, len(report.examples) // 4)
    plot_grid(out / 'depth_grid.png', report.examples[::step][:4], real, real_note)
    middle = sorted(rec.clouds)[len(rec.clouds) // 2]
    points = write_ply(out / 'points.ply', rec.clouds[middle])

    latencies_ms = sorted((rec.depths[s][0] - rec.images[s][0]) / 1e6
                          for s in rec.depths if s in rec.images)
    last = rec.diagnostics[-1] if rec.diagnostics else {}
    busy = [float(d['inference mean (ms)']) for d in rec.diagnostics
            if float(d.get('output rate (Hz)', 0)) > 0 and 'inference mean (ms)' in d]
    inference_ms = float(np.median(busy)) if busy else None
    summary = {
        'frames_replayed': len(dataset),
        'frames_received_by_recorder': len(rec.images),
        'depth_images_out': len(rec.depths),
        'point_clouds_out': len(rec.clouds),
        'frames_evaluated': len(answered),
        'latency_image_to_depth_ms': {
            'median': float(np.median(latencies_ms)) if latencies_ms else None,
            'max': float(max(latencies_ms)) if latencies_ms else None,
            'what': 'receive time of the depth image minus receive time of its input image, '
                    'both at the recorder (DDS transport both ways + the node)'},
        'node_inference_ms': inference_ms,
        'node_diagnostics_last': last,
        'protocol': protocol.describe(),
        'ground_truth': 'exact rendered depth of the synthetic street (sky has none)',
        'metrics': report.metrics,
        'mean_depth_baseline': baseline.metrics,
        'per_frame': report.per_image,
        'real_kitti_frame': None if real is None else {
            'source': real.source, 'name': real.example[0], 'metrics': real.metrics,
            'what': 'the synthetic-trained model on a real KITTI image against its Velodyne '
                    'depth (KITTI protocol, exact pixels)'},
        'ply_frame_stamp_ns': middle,
        'ply_points': points,
        'elapsed_s': elapsed_s,
    }
    (out / 'metrics.json').write_text(json.dumps(summary, indent=2, default=float) + '\n',
                                      encoding='utf-8')
    median = summary['latency_image_to_depth_ms']['median']
    print()
    print(f'frames: {len(dataset)} replayed, {len(rec.images)} seen by the recorder, '
          f"{len(rec.depths)} depth images out (node: {last.get('frames dropped', '?')} "
          'dropped while busy or lost)')
    print(f'latency, input image to depth image at a subscriber: median {_ms(median)} '
          f"(the node's own inference: {_ms(inference_ms)} on {last.get('backend', '?')}, "
          f"{last.get('device', '?')})")
    title = f'depth against the truth on {len(answered)} frames ({protocol.describe()})'
    print(format_table({'depth_node': report.metrics, 'mean depth': baseline.metrics},
                       title=title))
    if real is None:
        print(real_note)
    else:
        print(f'the same model on a real KITTI frame ({real.example[0]}), against its Velodyne '
              f"depth: delta < 1.25 {real.metrics['delta1']:.3f}, abs rel "
              f"{real.metrics['abs_rel']:.3f} (a synthetic-trained model on a real image; its "
              'row is in depth_grid.png)')
    print()
    print(f'outputs in {out}/: depth_grid.png (input | predicted | true | error), points.ply '
          f'({points} points), metrics.json; logs in {out}/logs/ ({elapsed_s:.0f} s)')
    return 0


def _ms(value: float | None) -> str:
    return 'n/a' if value is None else f'{value:.0f} ms'


if __name__ == '__main__':
    sys.exit(main())
