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
The depth node's own cost per frame, beside the inference it wraps.

For each camera size, one frame goes the node's way many times: rclpy's deserialisation of the
Image, the conversion to an RGB view, preprocessing, the network (timed apart), postprocessing,
the organized cloud (with colour), the output messages and rclpy's serialisation of them. The
same code as the node runs (``ros.pipeline.DepthPipeline``); no DDS. Medians in milliseconds
are printed as a Markdown table (docs/benchmarks.md, "Node overhead").

    .venv/bin/python benchmarks/node_overhead.py [--repeats 20] [--onnx model.onnx]

Inference uses the paper-width network (coarse layer 6: 4096) with random weights on the CPU
with PyTorch, and with ONNX Runtime when an ``.onnx`` file of it is given (and this build has
the backend).
"""

from __future__ import annotations

import argparse
import array
from pathlib import Path
import statistics
import sys
import tempfile
import time
from typing import Sequence

#: (width, height, preset, upsample) of the measured configurations.
CONFIGS = ((640, 480, 'nyu', 1), (640, 480, 'nyu', 4), (1242, 375, 'kitti', 1),
           (1242, 375, 'kitti', 4))
OVERHEAD_STAGES = ('deserialize', 'to_rgb', 'preprocess', 'postprocess', 'points', 'messages',
                   'serialize')


def measure(pipeline, width: int, height: int, upsample: int, repeats: int) -> dict[str, float]:
    """Return the median seconds of every stage for ``width`` x ``height`` frames."""
    from msdepth_ros.core.synthetic import road_scene
    from msdepth_ros.ros.conversions import image_to_rgb
    from msdepth_ros.ros.pipeline import OutputRequest, PredictionSettings
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    scene = road_scene(1, width, height)
    msg = Image()
    msg.header.frame_id = 'camera_optical'
    msg.height, msg.width, msg.encoding, msg.step = height, width, 'rgb8', 3 * width
    msg.data = array.array('B', scene.image.tobytes())
    wire = serialize_message(msg)
    preset = pipeline.preset
    settings = PredictionSettings(upsample=upsample, metric_scaling=True,
                                  min_depth_m=preset.min_depth_m, max_depth_m=preset.max_depth_m)
    request = OutputRequest(points_rgb=True, colorized=True)
    samples: dict[str, list[float]] = {}
    for i in range(repeats + 3):  # the first frames build the caches
        t0 = time.perf_counter()
        received = deserialize_message(wire, Image)
        t1 = time.perf_counter()
        rgb = image_to_rgb(received)
        t2 = time.perf_counter()
        out = pipeline.process(rgb, scene.intrinsics, received.header, settings, request)
        t3 = time.perf_counter()
        for message in (out.depth_image, out.camera_info, out.points, out.colorized):
            serialize_message(message)
        t4 = time.perf_counter()
        if i < 3:
            continue
        stage_s = dict(out.timings_s, deserialize=t1 - t0, to_rgb=t2 - t1, serialize=t4 - t3)
        for name, seconds in stage_s.items():
            samples.setdefault(name, []).append(seconds)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    medians['overhead'] = sum(medians[name] for name in OVERHEAD_STAGES)
    medians['depth_size'] = out.depth_m.shape[::-1]
    return medians


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every configuration and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--repeats', type=int, default=20, help='timed frames per configuration')
    parser.add_argument('--onnx', type=Path, default=None,
                        help='ONNX export of the paper-width model (one per preset: use '
                             '{preset} in the name) to time ONNX Runtime too')
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error('--repeats must be positive')

    from msdepth_ros.inference.backend import BackendError, load_backend
    from msdepth_ros.model.checkpoint import save_checkpoint
    from msdepth_ros.model.network import build_model, ModelConfig
    from msdepth_ros.ros.pipeline import DepthPipeline
    import torch
    from tqdm import tqdm

    torch.manual_seed(0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        backends = {}
        for preset in sorted({c[2] for c in CONFIGS}):
            path = Path(tmp) / f'{preset}.pt'
            save_checkpoint(path, build_model(ModelConfig.for_preset(preset)))
            backends[preset] = [('torch', load_backend(path, 'torch'))]
            if args.onnx is not None:
                onnx_path = Path(str(args.onnx).format(preset=preset))
                try:
                    backends[preset].append(('onnxruntime',
                                             load_backend(onnx_path, 'onnxruntime')))
                except BackendError as exc:
                    print(f'onnxruntime not timed for {preset}: {exc}', file=sys.stderr)
        for width, height, preset, upsample in tqdm(CONFIGS, desc='configurations'):
            for name, backend in backends[preset]:
                result = measure(DepthPipeline(backend), width, height, upsample, args.repeats)
                rows.append((width, height, preset, upsample, name, backend.info.device, result))

    print(f'\nMedian of {args.repeats} frames, milliseconds; torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads.\n')
    print('| input | preset | upsample | depth image | deserialize | to RGB | preprocess | '
          'postprocess | cloud (xyz+rgb) | messages | serialize | **node overhead** | '
          'backend | **inference** | overhead / inference |')
    print('|' + ' --- |' * 15)
    for width, height, preset, upsample, name, device, r in rows:
        ms = {k: 1e3 * v for k, v in r.items() if k != 'depth_size'}
        print(f'| {width}x{height} | {preset} | {upsample} | {r["depth_size"][0]}x'
              f'{r["depth_size"][1]} | {ms["deserialize"]:.2f} | {ms["to_rgb"]:.3f} | '
              f'{ms["preprocess"]:.2f} | {ms["postprocess"]:.2f} | {ms["points"]:.2f} | '
              f'{ms["messages"]:.2f} | {ms["serialize"]:.2f} | **{ms["overhead"]:.2f}** | '
              f'{name} ({device}) | **{ms["inference"]:.1f}** | '
              f'{100.0 * ms["overhead"] / ms["inference"]:.1f}% |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
