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
Backends side by side: latency per frame of each available backend on the same input.

Builds the paper-width network (coarse layer 6 of width 4096, random weights) for each preset,
exports it (FP32 ONNX, INT8 fully connected layers, and FP16 where a GPU can use it), then
times every backend this machine can run on one preprocessed synthetic frame, round-robin frame
by frame so that load from other processes hits all of them alike. Prints the median and p90
latency per frame, and the floor that reading every weight once per frame sets at this
machine's measured memory bandwidth (the fully connected layers make this network
memory-bound at batch 1). The table and a plot of it go to ``--output-dir``.

    .venv/bin/python benchmarks/backends.py                 # both presets, 30 frames
    .venv/bin/python benchmarks/backends.py --presets kitti --frames 50 --threads 2

Not a test: numbers vary with the machine and its load; record them with the command in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
import platform
import sys
import tempfile
import time

from _report import add_output_dir_argument, bar_plot, median_p90_ms, Report, Series
import numpy as np


def measure_bandwidth(mib: int = 512, repeats: int = 5) -> float:
    """
    Memory bandwidth in bytes/s from the fastest of ``repeats`` copies of a ``mib`` array.

    A copy reads and writes every byte, so the traffic is twice the array's size.
    """
    src = np.ones(mib << 18, dtype=np.float32)  # mib MiB of float32
    dst = np.empty_like(src)
    best = np.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return 2 * src.nbytes / best


def onnx_weight_bytes(path: Path) -> int:
    """Bytes of all initializers of an ONNX file (the weights read per frame)."""
    import onnx
    from onnx import numpy_helper
    model = onnx.load(str(path))
    return sum(numpy_helper.to_array(t).nbytes for t in model.graph.initializer)


def variants(preset: str, folder: Path, fc_width: int, threads: int) -> list[tuple]:
    """``(label, backend, weight bytes)`` of every backend this machine can run."""
    from msdepth_ros.inference import load_backend
    from msdepth_ros.inference.devices import cuda_device_count, try_import
    from msdepth_ros.inference.export import export_checkpoint, quantize_fc_int8
    from msdepth_ros.model.checkpoint import save_checkpoint
    from msdepth_ros.model.network import build_model, ModelConfig
    import torch

    torch.manual_seed(0)
    model = build_model(ModelConfig.for_preset(preset, coarse_fc_width=fc_width)).eval()
    params = sum(p.numel() for p in model.parameters())
    ckpt = save_checkpoint(folder / f'{preset}.pt', model)
    fp32 = export_checkpoint(ckpt, folder / f'{preset}.onnx').path
    int8 = quantize_fc_int8(fp32, folder / f'{preset}.int8.onnx').path
    cpu = ['CPUExecutionProvider']
    out = [
        ('PyTorch CPU FP32', load_backend(ckpt, 'torch', device='cpu', threads=threads),
         4 * params),
        ('ONNX Runtime CPU FP32', load_backend(fp32, 'onnxruntime', providers=cpu,
                                               threads=threads), onnx_weight_bytes(fp32)),
        ('ONNX Runtime CPU INT8 (fc)', load_backend(int8, 'onnxruntime', providers=cpu,
                                                    threads=threads), onnx_weight_bytes(int8)),
    ]
    if not cuda_device_count():
        return out
    fp16 = export_checkpoint(ckpt, folder / f'{preset}.fp16.onnx', fp16=True).path
    if torch.cuda.is_available():  # the driver's GPU, if this PyTorch build can use it
        out += [
            ('PyTorch CUDA FP32', load_backend(ckpt, 'torch', device='cuda',
                                               cuda_graphs=False), 4 * params),
            ('PyTorch CUDA FP16', load_backend(ckpt, 'torch', device='cuda', precision='fp16',
                                               cuda_graphs=False), 2 * params),
            ('PyTorch CUDA FP16 + graphs', load_backend(ckpt, 'torch', device='cuda',
                                                        precision='fp16', cuda_graphs=True),
             2 * params),
        ]
    ort, _ = try_import('onnxruntime')
    if 'CUDAExecutionProvider' in ort.get_available_providers():
        out.append(('ONNX Runtime CUDA FP32',
                    load_backend(fp32, 'onnxruntime', providers=['CUDAExecutionProvider']),
                    4 * params))
    trt, _ = try_import('tensorrt')
    if trt is not None:
        cache = folder / 'engines'
        out += [('TensorRT FP32', load_backend(fp32, 'tensorrt', cache_dir=cache), 4 * params),
                ('TensorRT FP16', load_backend(fp16, 'tensorrt', cache_dir=cache), 2 * params)]
    return out


def run(args: argparse.Namespace) -> int:
    """Time every backend for every preset; print, write and plot one table."""
    from msdepth_ros.core.presets import get_preset
    from msdepth_ros.inference.parity import network_input, scenes_for
    from tqdm import tqdm

    bandwidth = measure_bandwidth(args.bandwidth_mib)
    report = Report(args.output_dir, 'backends')
    report.line(f'# Backends: {platform.processor() or platform.machine()}, {os.cpu_count()} '
                f'CPUs, threads {args.threads}; memory copy bandwidth {bandwidth / 1e9:.1f} GB/s '
                f'(read + write); load average '
                f'{" ".join(f"{v:.2f}" for v in os.getloadavg())}')
    report.line()
    report.line(f'Milliseconds per frame at batch 1, {args.frames} frames per backend '
                f'(round-robin), coarse 6 width {args.coarse_fc_width}, random weights.')
    report.line()
    rows, results = [], {}
    with tempfile.TemporaryDirectory(prefix='msdepth-bench-') as tmp:
        for preset in args.presets:
            candidates = variants(preset, Path(tmp), args.coarse_fc_width, args.threads)
            image = network_input(get_preset(preset), scenes_for(get_preset(preset), 1)[0])
            for _, backend, _ in candidates:
                for _ in range(args.warmup):
                    backend.predict(image)
            times = np.empty((len(candidates), args.frames))
            for i in tqdm(range(args.frames), desc=preset, unit='frame', leave=False,
                          disable=None):
                for j, (_, backend, _) in enumerate(candidates):
                    t0 = time.perf_counter()
                    backend.predict(image)
                    times[j, i] = time.perf_counter() - t0
            for (label, backend, weight_bytes), t in zip(candidates, times):
                median_ms, p90_ms = median_p90_ms(t)
                results[preset, label] = (median_ms, p90_ms)
                rows.append([preset, label, f'{median_ms:.1f}', f'{p90_ms:.1f}',
                             f'{weight_bytes / 1e6:.0f}', f'{weight_bytes / bandwidth * 1e3:.1f}'])
                backend.close()
    report.table(['preset', 'backend', 'median ms', 'p90 ms', 'weights MB',
                  'bandwidth floor ms'], rows)
    report.write()
    labels = list(dict.fromkeys(label for _, label in results))
    nan = (float('nan'), float('nan'))
    series = [Series(label, [results.get((p, label), nan)[0] for p in args.presets],
                     [results.get((p, label), nan)[1] for p in args.presets]) for label in labels]
    bar_plot(report.png_path, list(args.presets), series, 'ms per frame (median, whisker: p90)',
             f'Backends, batch 1 (coarse 6 width {args.coarse_fc_width}, {args.threads} threads)')
    print(f'wrote {report.markdown_path} and {report.png_path}')
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the benchmark."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument('--presets', nargs='+', default=['kitti', 'nyu'],
                        choices=['kitti', 'nyu'])
    parser.add_argument('--frames', type=int, default=30, help='timed frames per backend')
    parser.add_argument('--warmup', type=int, default=3, help='untimed frames per backend')
    parser.add_argument('--coarse-fc-width', type=int, default=4096,
                        help='width of coarse layer 6 (4096 in the paper)')
    parser.add_argument('--threads', type=int, default=os.cpu_count() or 1,
                        help='CPU threads for PyTorch and ONNX Runtime')
    parser.add_argument('--bandwidth-mib', type=int, default=512,
                        help='array size for the bandwidth measurement')
    add_output_dir_argument(parser)
    return run(parser.parse_args(argv))


if __name__ == '__main__':
    sys.exit(main())
