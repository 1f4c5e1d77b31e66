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
Peak memory of the inputs that used to blow it up: thin images and PNG bombs.

Each case runs in a fresh Python process on the package found in ``--source`` (this checkout
by default; give an export of an older commit to measure it before a change): the input is
built, the peak resident memory (``ru_maxrss``) read, then the node's own step for that input
runs (``plan_input(...).prepare`` for a raw image with its camera info, as the node's worker
does; ``ros.conversions.compressed_to_rgb`` for a compressed one), and the growth of the peak
is printed with what the step did, as a Markdown table (docs/benchmarks.md), and plotted.

    git archive <commit> | tar -x -C /tmp/before
    .venv/bin/python benchmarks/bad_input_memory.py --source /tmp/before --source .
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
import subprocess
import sys
import tempfile
from typing import Sequence

from _report import add_output_dir_argument, bar_plot, Report, Series

REPO = Path(__file__).resolve().parent.parent

#: (name, kind, argument): raw ``(width, height, preset)`` or a compressed file's maker.
CASES = [
    ('1x2048 rgb8 + camera info, kitti', 'raw', (1, 2048, 'kitti')),
    ('1x16384 rgb8 + camera info, kitti', 'raw', (1, 16384, 'kitti')),
    ('2048x1 rgb8 + camera info, kitti', 'raw', (2048, 1, 'kitti')),
    ('1x16384 rgb8 + camera info, nyu', 'raw', (1, 16384, 'nyu')),
    ('16000x16000 PNG bomb, RGB (0.75 MB)', 'png', (16000, 16000, 0)),
    ('16000x16000 PNG bomb, 1-bit grey (31 KB)', 'png', (16000, 16000, 1)),
]

CHILD = r"""
import json, resource, sys
import numpy as np
kind, arg = sys.argv[1], json.loads(sys.argv[2])
def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
if kind == 'raw':
    import msdepth_ros
    assert msdepth_ros.__file__.startswith(sys.argv[3]), msdepth_ros.__file__
    from msdepth_ros.core.preprocess import plan_input
    from msdepth_ros.core.presets import KITTI, NYU
    w, h, preset = arg
    image = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    before = peak()
    try:
        plan = plan_input(w, h, KITTI if preset == 'kitti' else NYU)
        plan.prepare(image)
        outcome = 'served'
    except Exception as exc:
        outcome = f'{type(exc).__name__}: {str(exc).splitlines()[0][:60]}'
else:
    from msdepth_ros.ros.conversions import compressed_to_rgb
    from sensor_msgs.msg import CompressedImage
    import msdepth_ros
    assert msdepth_ros.__file__.startswith(sys.argv[3]), msdepth_ros.__file__
    msg = CompressedImage()
    msg.format = 'rgb8; png compressed bgr8'
    msg.data = open(arg, 'rb').read()
    before = peak()
    try:
        decoded = compressed_to_rgb(msg)
        outcome = f'decoded to {decoded.shape[1]}x{decoded.shape[0]}'
    except Exception as exc:
        outcome = f'{type(exc).__name__}: {str(exc).splitlines()[0][:60]}'
print(json.dumps({'growth_mib': peak() - before, 'outcome': outcome}))
"""


def run_case(source: Path, kind: str, arg: object) -> dict[str, object]:
    """Run one case in a fresh process on the package in ``source``; return its result."""
    env = dict(os.environ, PYTHONPATH=str(source))
    # Run from the source tree: ``python -c`` puts the working folder first on the path.
    proc = subprocess.run([sys.executable, '-c', CHILD, kind, json.dumps(arg), str(source)],
                          env=env,
                          cwd=source, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ['?'])[-1]
        return {'growth_mib': float('nan'), 'outcome': f'process died ({proc.returncode}): '
                                                       f'{tail[:90]}'}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    """Measure every case on every source tree; print and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--source', action='append', type=Path,
                        help='a tree holding the msdepth_ros package (repeatable; default: '
                             'this checkout)')
    add_output_dir_argument(parser)
    args = parser.parse_args(argv)
    sources = [s.resolve() for s in args.source or [REPO]]
    sys.path.insert(0, str(REPO / 'test'))
    from bad_inputs import png_bomb

    rows = []
    growth: dict[str, list[float]] = {str(source): [] for source in sources}
    with tempfile.TemporaryDirectory(prefix='msdepth-memory-') as tmp:
        for name, kind, arg in CASES:
            if kind == 'png':
                path = Path(tmp) / f'{name.split()[0]}_{arg[2]}.png'
                path.write_bytes(png_bomb(arg[0], arg[1], grey_bits=arg[2]))
                arg = str(path)
            for source in sources:
                result = run_case(source, kind, arg)
                rows.append([name, str(source), result['outcome'],
                             f'{result["growth_mib"]:.1f}'])
                # At least 0.1 MiB so that a log axis can show "nothing".
                growth[str(source)].append(max(0.1, float(result['growth_mib'])))
                print(' | '.join(rows[-1]), flush=True)
    report = Report(args.output_dir, 'bad_input_memory')
    report.line('# Peak memory of thin images and PNG bombs')
    report.line()
    report.table(['input', 'source', 'what the node did', 'peak RSS growth (MiB)'], rows)
    report.write()
    labels = ['1x2048\nkitti', '1x16384\nkitti', '2048x1\nkitti', '1x16384\nnyu',
              'PNG bomb\nRGB', 'PNG bomb\n1-bit grey']
    series = [Series(source, values) for source, values in growth.items()]
    bar_plot(report.png_path, labels, series, 'peak RSS growth (MiB)',
             'Peak memory of thin images and PNG bombs', log=True)
    print(f'wrote {report.markdown_path} and {report.png_path}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
