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

For each camera size, one frame goes the node's way many times: the serialized Image's bytes
read in place (the node subscribes raw, ``msgs.cdr``), the conversion to an RGB view,
preprocessing, the network (timed apart), postprocessing,
the organized cloud (with colour), the output messages and their serialisation. The
same code as the node runs (``pipeline.depth.DepthPipeline``); no DDS. Per-stage medians and the
median and p90 of the node's overhead (every stage but the network) and of inference, in
milliseconds, are printed as a Markdown table (docs/benchmarks.md, "Node overhead") and written
with a plot to ``--output-dir``.

Each configuration runs the node's way (``now``: the raw bytes read in place, only the crop
window resampled straight into the network input, ``core.crop_resize``, the outputs built as
``msgs.cdr_messages`` records and serialized by ``cdr_messages.serialize``, whose bytes the node
publishes, and ``'pairs'`` resampling warping an RGBA copy) and, in the same run, the ways it
replaced, each on top of the one before: ``warp3`` (``'pairs'`` warps the three channels as
they are), ``message`` (rclpy's messages in and out: ``deserialize_message`` into an Image, the
outputs built with rclpy's classes and serialized by ``serialize_message``, which is what
publishing an rclpy message does) and ``whole`` (``cv2.resize`` of the whole camera image, then
the crop and the normalisation), frames interleaved so that all see the same machine load.
The input stage times, for the raw bytes, the one copy rclpy's raw take makes (``bytes`` of
the serialized message) and the read; for a message, ``deserialize_message`` from the same
bytes.

    .venv/bin/python benchmarks/node_overhead.py [--repeats 20] [--backends torch onnxruntime]
        [--variants now warp3 message whole]

Inference uses the paper-width network (coarse layer 6: 4096; ``--coarse-fc-width``) with
random weights on the CPU, with PyTorch and with ONNX Runtime on the same weights exported to
ONNX (``inference.export.export_onnx``).
"""

from __future__ import annotations

import argparse
import array
import dataclasses
import os
from pathlib import Path
import platform
import statistics
import sys
import tempfile
import time
from typing import Sequence

from _report import add_output_dir_argument, bar_plot, median_p90_ms, Report, Series

#: (width, height, preset, upsample) of the measured configurations.
CONFIGS = ((640, 480, 'nyu', 1), (640, 480, 'nyu', 4), (1242, 375, 'kitti', 1),
           (1242, 375, 'kitti', 4))
OVERHEAD_STAGES = ('input', 'to_rgb', 'preprocess', 'postprocess', 'points', 'messages',
                   'serialize')
VARIANTS = ('now', 'warp3', 'message', 'whole')


class ThreeChannelPairs:
    """
    ``core.crop_resize``'s ``'pairs'`` resampling as it was: the three channels warped as they are.

    The node now warps an RGBA copy (same values, ``test_crop_resize``); this is the way it
    replaced, for the ``warp3`` and ``message`` variants. Other methods are left as they are.
    """

    def __init__(self, resampler) -> None:
        self.resampler = resampler

    def __call__(self, image_rgb, out):
        import cv2
        from msdepth_ros.core.crop_resize import _channels_first_layout
        import numpy as np
        r = self.resampler
        if r.method != 'pairs':
            return r(image_rgb, out)
        x0, y0, x1, y1 = r.cv2_window
        pixels, order = _channels_first_layout(image_rgb[y0:y1, x0:x1])
        if r.pairs[1]:
            pixels = cv2.addWeighted(pixels[:-1], 0.5, pixels[1:], 0.5, 0.0)
        if r.pairs[0]:
            pixels = cv2.addWeighted(pixels[:, :-1], 0.5, pixels[:, 1:], 0.5, 0.0)
        sampled = cv2.warpAffine(pixels, np.array(r.warp_matrix), (r.x.size, r.y.size),
                                 flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                 borderMode=cv2.BORDER_REPLICATE)
        planes = cv2.split(sampled) if sampled.ndim == 3 else [sampled] * 3
        for c in range(3):
            cv2.LUT(planes[order[c]], r._tables[c], dst=out[0, c])
        return out


class WholeImagePreprocessing:
    """
    The preprocessing before ``core.crop_resize``: resize the whole image, crop, normalise.

    Called as ``InputPlan`` calls its resampler: ``(image_rgb, out) -> out``.
    """

    def __init__(self, plan) -> None:
        self.plan = plan
        self.scale, self.bias = plan._resampler.scale, plan._resampler.bias

    def __call__(self, image_rgb, out):
        import cv2
        import numpy as np
        plan = self.plan
        size = (plan.resized_width, plan.resized_height)
        resized = image_rgb
        if size != (plan.camera_width, plan.camera_height):
            shrink = plan.resized_width < plan.camera_width
            resized = cv2.resize(image_rgb, size,
                                 interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
        w, h = plan.preset.input_size
        crop = resized[plan.crop_y0:plan.crop_y0 + h, plan.crop_x0:plan.crop_x0 + w]
        np.multiply(crop.transpose(2, 0, 1), self.scale, out=out[0], casting='unsafe')
        out[0] += self.bias
        return out


def measure(pipelines: dict, width: int, height: int, upsample: int,
            repeats: int) -> dict[str, dict[str, object]]:
    """
    Time ``repeats`` frames of ``width`` x ``height`` through each pipeline, interleaved.

    ``pipelines`` maps a variant name (``VARIANTS``) to a ``DepthPipeline``.

    Returns
    -------
    Per variant: the median seconds of every stage by name, ``overhead`` and
    ``inference`` as lists of seconds per frame (``overhead``: the sum of ``OVERHEAD_STAGES``
    of that frame), and ``depth_size`` (width, height of the depth image).

    """
    from msdepth_ros.core.synthetic import road_scene
    from msdepth_ros.msgs.cdr import read_image
    from msdepth_ros.msgs.cdr_messages import serialize
    from msdepth_ros.msgs.images import image_to_rgb
    from msdepth_ros.pipeline.depth import OutputRequest, PredictionSettings
    from rclpy.serialization import deserialize_message, serialize_message
    from sensor_msgs.msg import Image

    scene = road_scene(1, width, height)
    msg = Image()
    msg.header.frame_id = 'camera_optical'
    msg.height, msg.width, msg.encoding, msg.step = height, width, 'rgb8', 3 * width
    msg.data = array.array('B', scene.image.tobytes())
    wire = serialize_message(msg)
    wire_buffer = bytearray(wire)
    preset = next(iter(pipelines.values())).preset
    settings = PredictionSettings(upsample=upsample, metric_scaling=True,
                                  min_depth_m=preset.min_depth_m, max_depth_m=preset.max_depth_m)
    request = OutputRequest(points_rgb=True, colorized=True)
    for name, pipeline in pipelines.items():
        if name != 'now':
            predictor = pipeline.predictor(settings)
            plan = predictor.plan_for(width, height)
            # The predictor keeps the plan of the last camera size: swap its resampler.
            old = (WholeImagePreprocessing(plan) if name == 'whole'
                   else ThreeChannelPairs(plan._resampler))
            predictor._plan = dataclasses.replace(plan, _resampler=old)
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in pipelines}
    outs = {}
    for i in range(repeats + 3):  # the first frames build the caches
        for name, pipeline in pipelines.items():
            t0 = time.perf_counter()
            if name in ('now', 'warp3'):
                received = read_image(bytes(wire_buffer))
            else:
                received = deserialize_message(wire, Image)
            t1 = time.perf_counter()
            rgb = image_to_rgb(received)
            t2 = time.perf_counter()
            out = pipeline.process(rgb, scene.intrinsics, received.header, settings, request)
            t3 = time.perf_counter()
            for message in (out.depth_image, out.camera_info, out.points, out.colorized):
                (serialize if name in ('now', 'warp3') else serialize_message)(message)
            t4 = time.perf_counter()
            outs[name] = out
            if i < 3:
                continue
            stage_s = dict(out.timings_s, input=t1 - t0, to_rgb=t2 - t1,
                           serialize=t4 - t3)
            for stage, seconds in stage_s.items():
                samples[name].setdefault(stage, []).append(seconds)
            samples[name].setdefault('overhead', []).append(
                sum(stage_s[n] for n in OVERHEAD_STAGES))
    results = {}
    for name, found in samples.items():
        result: dict[str, object] = {stage: statistics.median(values)
                                     for stage, values in found.items()}
        result['overhead'] = found['overhead']
        result['inference'] = found['inference']
        result['depth_size'] = outs[name].depth_m.shape[::-1]
        results[name] = result
    return results


def load_backends(presets: Sequence[str], names: Sequence[str], fc_width: int,
                  folder: Path) -> dict[str, list[tuple[str, object]]]:
    """Return ``(name, backend)`` of each backend in ``names`` for each preset (one network)."""
    from msdepth_ros.inference.backend import load_backend
    from msdepth_ros.inference.export import export_onnx
    from msdepth_ros.inference.interface import BackendError
    from msdepth_ros.model.checkpoint import save_checkpoint
    from msdepth_ros.model.network import build_model, ModelConfig
    import torch

    backends: dict[str, list[tuple[str, object]]] = {}
    for preset in presets:
        torch.manual_seed(0)
        model = build_model(ModelConfig.for_preset(preset, coarse_fc_width=fc_width)).eval()
        backends[preset] = []
        for name in names:
            try:
                if name == 'torch':
                    path = save_checkpoint(folder / f'{preset}.pt', model)
                else:
                    path = export_onnx(model, folder / f'{preset}.onnx').path
                backends[preset].append((name, load_backend(path, name)))
            except BackendError as exc:
                print(f'{name} not timed for {preset}: {exc}', file=sys.stderr)
    return backends


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every configuration, print the table and write it with a plot."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--repeats', type=int, default=20, help='timed frames per configuration')
    parser.add_argument('--presets', nargs='+', default=['nyu', 'kitti'],
                        choices=['nyu', 'kitti'], help='configurations of these presets only')
    parser.add_argument('--backends', nargs='+', default=['torch', 'onnxruntime'],
                        choices=['torch', 'onnxruntime'], help='backends to time inference with')
    parser.add_argument('--coarse-fc-width', type=int, default=4096,
                        help='width of coarse layer 6 (4096 in the paper)')
    parser.add_argument('--variants', nargs='+', default=list(VARIANTS), choices=VARIANTS,
                        help="now: the node's way (raw bytes in and out, crop window only); "
                             "warp3: 'pairs' warps three channels; message: that and rclpy's "
                             'messages in and out; whole: that and the whole-image resize; all '
                             'in the same run')
    add_output_dir_argument(parser)
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error('--repeats must be positive')

    from msdepth_ros.msgs.cdr_messages import CDR_TYPES
    from msdepth_ros.pipeline.depth import DepthPipeline
    from msdepth_ros.ros.conversions import RCLPY_TYPES
    import torch
    from tqdm import tqdm

    configs = [c for c in CONFIGS if c[2] in args.presets]
    rows = []
    with tempfile.TemporaryDirectory(prefix='msdepth-bench-') as tmp:
        backends = load_backends(sorted(set(args.presets)), args.backends, args.coarse_fc_width,
                                 Path(tmp))
        for width, height, preset, upsample in tqdm(configs, desc='configurations',
                                                    disable=None):
            for name, backend in backends[preset]:
                pipelines = {p: DepthPipeline(backend, CDR_TYPES if p in ('now', 'warp3')
                                              else RCLPY_TYPES)
                             for p in args.variants}
                results = measure(pipelines, width, height, upsample, args.repeats)
                for prep, result in results.items():
                    rows.append((width, height, preset, upsample, name, backend.info.device,
                                 result, prep))
        for pairs in backends.values():
            for _, backend in pairs:
                backend.close()

    report = Report(args.output_dir, 'node_overhead')
    report.line(f'# Node overhead: {platform.processor() or platform.machine()}, '
                f'{os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} '
                f'threads); load average {" ".join(f"{v:.2f}" for v in os.getloadavg())}')
    report.line()
    report.line(f'Milliseconds per frame, {args.repeats} frames; stages: medians; coarse 6 '
                f'width {args.coarse_fc_width}, random weights; variant: now = raw bytes in and '
                "out and the crop window only, warp3 = 'pairs' warps three channels, message = "
                'that and rclpy messages in and out, whole = that and the whole-image resize.')
    report.line()
    table = []
    for width, height, preset, upsample, name, device, r, prep in rows:
        ms = {k: 1e3 * v for k, v in r.items() if isinstance(v, float)}
        overhead_ms, overhead_p90 = median_p90_ms(r['overhead'])
        inference_ms, inference_p90 = median_p90_ms(r['inference'])
        table.append([
            f'{width}x{height}', preset, upsample, f'{r["depth_size"][0]}x{r["depth_size"][1]}',
            prep, f'{ms["input"]:.2f}', f'{ms["to_rgb"]:.3f}', f'{ms["preprocess"]:.2f}',
            f'{ms["postprocess"]:.2f}', f'{ms["points"]:.2f}', f'{ms["messages"]:.2f}',
            f'{ms["serialize"]:.2f}', f'**{overhead_ms:.2f}**', f'{overhead_p90:.2f}',
            f'{name} ({device})', f'**{inference_ms:.1f}**', f'{inference_p90:.1f}',
            f'{100.0 * overhead_ms / inference_ms:.1f}%'])
    report.table(['input', 'preset', 'upsample', 'depth image', 'variant', 'read input',
                  'to RGB', 'preprocess', 'postprocess', 'cloud (xyz+rgb)', 'messages',
                  'serialize',
                  '**node overhead**', 'p90', 'backend', '**inference**', 'p90',
                  'overhead / inference'], table)
    report.write()

    categories = sorted({(w, h, p, u) for w, h, p, u, *_ in rows}, key=configs.index)
    series = []
    for name in args.backends:
        for what, prep in [('overhead', p) for p in args.variants] + [('inference', 'now')]:
            found = {(w, h, p, u): median_p90_ms(r[what])
                     for w, h, p, u, n, _, r, pr in rows if n == name and pr == prep}
            if found:
                stats = [found.get(c, (float('nan'), float('nan'))) for c in categories]
                label = (f'node overhead, {prep}' if what == 'overhead'
                         else 'inference')
                series.append(Series(f'{label} ({name})', [m for m, _ in stats],
                                     [p for _, p in stats]))
    bar_plot(report.png_path, [f'{w}x{h} {p}\nupsample {u}' for w, h, p, u in categories], series,
             'ms per frame (median, whisker: p90)',
             f'Node overhead beside inference (coarse 6 width {args.coarse_fc_width}, CPU)')
    print(f'wrote {report.markdown_path} and {report.png_path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
