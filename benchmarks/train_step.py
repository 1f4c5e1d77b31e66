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
Training cost: measured step time on this machine, FLOPs per sample, data-loading time.

    .venv/bin/python benchmarks/train_step.py [--batch 32] [--steps 3] [--shared-data DIR]

For each preset (the paper's full network, coarse 6 of width 4096) it measures one SGD step of
each stage (forward, backward, update) and counts its floating-point operations with PyTorch's
FLOP counter, then prints the hours that the paper's table costs on this CPU (the paper's
samples per stage / batch size x the measured time per step) and its FLOPs in hours at a
stated sustained GPU throughput. It also times the data pipeline per sample (read,
ground truth, augmentation, target) on the real KITTI and NYU samples when they are present.
These are estimates from measurements, not GPU measurements; docs/training.md says how.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path
import time

from msdepth_ros.core.preprocess import plan_input
from msdepth_ros.data.augment import AugmentConfig, draw_params, make_example
from msdepth_ros.data.registry import DataSpec, open_dataset
from msdepth_ros.model.loss import scale_invariant_loss
from msdepth_ros.model.network import build_model, ModelConfig
from msdepth_ros.train.config import PAPER_SAMPLES
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode


def step_time_and_flops(preset: str, stage: str, batch: int, steps: int) -> tuple[float, float]:
    """Seconds per step and FLOPs per sample of one SGD step of ``stage``."""
    torch.manual_seed(0)
    model = build_model(ModelConfig.for_preset(preset))
    p = model.preset
    x = torch.randn(batch, 3, p.input_height, p.input_width)
    gt = torch.rand(batch, 1, p.output_height, p.output_width) * 5 + 1
    params = model.coarse.parameters() if stage == 'coarse' else model.fine.parameters()
    opt = torch.optim.SGD(params, lr=1e-4, momentum=0.9)

    def step() -> None:
        if stage == 'coarse':
            out = model.coarse(x)
        else:
            with torch.no_grad():
                coarse = model.coarse(x)
            out = model.fine(x[:, :, p.fine_crop_top:], coarse)
        loss = scale_invariant_loss(out, gt)
        opt.zero_grad()
        loss.backward()
        opt.step()

    with FlopCounterMode(display=False) as counter:
        step()
    flops = counter.get_total_flops() / batch
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), float(flops)


def data_time(spec: DataSpec, preset: str, n: int = 16) -> float:
    """Median seconds per training sample of the data pipeline (one process)."""
    from msdepth_ros.core.presets import get_preset
    dataset = open_dataset(spec)
    rng = np.random.default_rng(0)
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        image, depth, intrinsics = dataset[i % len(dataset)]
        plan = plan_input(image.shape[1], image.shape[0], get_preset(preset))
        params = draw_params(AugmentConfig.paper(preset), rng, plan)
        make_example(image, depth, intrinsics, plan, params, sparse=dataset.sparse_depth)
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def main() -> None:
    """Print the measurements and the estimate."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--batch', type=int, default=32, help="batch size (the paper's: 32)")
    parser.add_argument('--steps', type=int, default=3)
    parser.add_argument('--gpu-tflops', type=float, nargs='+', default=[50.0, 150.0],
                        help='sustained GPU throughputs (TFLOP/s) to convert FLOPs to hours')
    parser.add_argument('--shared-data', default=os.environ.get('MSDEPTH_SHARED_DATA', ''))
    args = parser.parse_args()
    print(f'torch {torch.__version__}, {torch.get_num_threads()} CPU threads, batch '
          f'{args.batch}')
    data_s: dict[str, float] = {}
    if args.shared_data:
        # Timed before any network runs: PyTorch's idle worker threads would compete with it.
        root = Path(args.shared_data)
        kitti = DataSpec('kitti_raw', root=str(root / 'kitti_raw_mini'), split='test_files.txt')
        nyu = DataSpec('nyu_pairs', root=str(root / 'nyu_mini'))
        data_s = {'kitti': data_time(kitti, 'kitti'), 'nyu': data_time(nyu, 'nyu')}
        print(f"data pipeline (one process): KITTI raw {data_s['kitti'] * 1e3:.1f} "
              f"ms/sample, NYU pairs {data_s['nyu'] * 1e3:.1f} ms/sample")
    for preset in ('nyu', 'kitti'):
        total = 0.0
        step_hours = 0.0
        for stage in ('coarse', 'fine'):
            seconds, flops = step_time_and_flops(preset, stage, args.batch, args.steps)
            samples = PAPER_SAMPLES[preset][stage]
            total += flops * samples
            steps = math.ceil(samples / args.batch)
            step_hours += steps * seconds / 3600
            print(f'{preset:5s} {stage:6s}: {seconds:6.2f} s/step of {args.batch}, '
                  f'{samples:,} samples = {steps:,} steps: {steps * seconds / 3600:7.1f} h')
            print(f'{preset:5s} {stage:6s}: {seconds / args.batch * 1e3:7.1f} ms/sample on this '
                  f'CPU ({args.batch / seconds:5.1f} samples/s, '
                  f'{flops * args.batch / seconds / 1e9:5.1f} GFLOP/s), '
                  f'{flops / 1e9:5.2f} GFLOP/sample, {samples:,} samples: '
                  f'{samples * seconds / args.batch / 86400:6.1f} CPU-days')
        table = {'nyu': 'Table 1 (NYU)', 'kitti': 'Table 2 (KITTI)'}[preset]
        samples_all = sum(PAPER_SAMPLES[preset].values())
        data_note = (f' + {samples_all * data_s[preset] / 3600:.0f} h of data pipeline on one '
                     'core' if preset in data_s else '')
        print(f'{preset:5s} {table}: {step_hours:.0f} h of SGD steps on this CPU{data_note}')
        hours = ', '.join(f'{total / (t * 1e12) / 3600:.2f} h at {t:g} TFLOP/s'
                          for t in args.gpu_tflops)
        print(f'{preset:5s} paper schedule: {total / 1e15:.1f} PFLOP -> {hours}')


if __name__ == '__main__':
    main()
