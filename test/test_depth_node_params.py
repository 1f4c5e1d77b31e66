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
Bad parameter values given to the installed ``depth_node``: a clear message, a non-zero exit.

Each case starts the console script with ``--ros-args`` as a user would; the cases run a few at
a time. Exit status 2: a parameter the node cannot run with; 3: a model it cannot load.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
import os
import subprocess

from conftest import console_script
import pytest
from ros_harness import make_checkpoint

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """Run every case once (in parallel); return {case: (exit status, output)} and the paths."""
    tmp = tmp_path_factory.mktemp('depth_node_params')
    model = str(make_checkpoint(tmp / 'kitti.pt', 'kitti'))
    corrupt = tmp / 'corrupt.pt'
    corrupt.write_bytes(b'this is not a checkpoint')
    env = dict(os.environ, RCUTILS_COLORIZED_OUTPUT='0', ROS_LOG_DIR=str(tmp / 'ros'))

    def run(args):
        proc = subprocess.run([console_script('depth_node'), '--ros-args', *args],
                              capture_output=True, text=True, env=env, timeout=120)
        return proc.returncode, proc.stdout + proc.stderr

    cases = {case_id: [a.format(model=model, corrupt=corrupt) for a in args]
             for case_id, args, _, _ in CASES}
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = dict(zip(cases, pool.map(run, cases.values())))
    from msdepth_ros.ros.config import demo_model_path
    return results, {'model': model, 'corrupt': str(corrupt), 'demo': str(demo_model_path())}


def _p(*pairs):
    args = []
    for pair in pairs:
        args += ['-p', pair]
    return args


# (id, --ros-args, exit status, text the output must contain)
CASES = [
    # Without a model the package's demo model loads (a kitti model): another preset is refused.
    ('demo model of another preset', _p('preset:=nyu'), 2,
     "parameter 'preset' is 'nyu', but the model {demo} was trained with preset 'kitti'"),
    ('missing model file', _p('model:=/nonexistent/kitti.pt'), 2,
     "parameter 'model': /nonexistent/kitti.pt: no such file"),
    ('not a model file', _p('model:=/etc/hostname'), 2,
     "'/etc/hostname' is not a model file (expected one of .pt, .onnx, .engine, .plan)"),
    ('corrupt checkpoint', _p('model:={corrupt}'), 3,
     'cannot load the model: {corrupt}: not a readable PyTorch checkpoint'),
    ('unknown backend', _p('model:={model}', 'backend:=cuda'), 2,
     "parameter 'backend': 'cuda' is not one of auto, tensorrt, onnxruntime, torch"),
    ('unknown preset', _p('model:={model}', 'preset:=cityscapes'), 2,
     "parameter 'preset': 'cityscapes' is not one of auto, kitti, nyu"),
    ('preset of another model', _p('model:={model}', 'preset:=nyu'), 2,
     "parameter 'preset' is 'nyu', but the model {model} was trained with preset 'kitti'"),
    ('upsample out of range', _p('model:={model}', 'upsample:=0'), 2,
     "parameter 'upsample': Invalid parameter value (0)"),
    ('upsample not an integer', _p('model:={model}', 'upsample:=two'), 2,
     "parameter 'upsample': Trying to set parameter 'upsample' to 'two' of type 'STRING', "
     "expecting type 'INTEGER'"),
    ('integer for a double', _p('model:={model}', 'max_depth_m:=20'), 2,
     "parameter 'max_depth_m': Trying to set parameter 'max_depth_m' to '20' of type "
     "'INTEGER', expecting type 'DOUBLE'"),
    ('empty depth range', _p('model:={model}', 'min_depth_m:=5.0', 'max_depth_m:=2.0'), 2,
     'need min < max, got 5.0 and 2.0'),
    ('depth range empty with the preset', _p('model:={model}', 'min_depth_m:=90.0'), 2,
     'need min < max, got 90.0 and 80.0 (0 stands for the kitti preset'),
    ('unknown colour map', _p('model:={model}', 'colormap:=rainbow'), 2,
     "parameter 'colormap': 'rainbow' is not one of"),
    ('no intrinsics without camera info', _p('model:={model}', 'use_camera_info:=false'), 2,
     'use_camera_info is false but no intrinsics are given'),
    ('incomplete intrinsics', _p('model:={model}', 'camera_fx_px:=500.0'), 2,
     'fallback intrinsics are incomplete'),
    ('fp16 on a CPU', _p('model:={model}', 'backend:=torch', 'precision:=fp16'), 3,
     'cannot load the model: {model}: backend torch: fp16 needs a CUDA device'),
    ('DLA without TensorRT', _p('model:={model}', 'backend:=torch', 'dla_core:=0'), 2,
     "parameter 'dla_core': DLA cores are used by the tensorrt backend only, not torch"),
    ('unparsable --ros-args', ['-p', 'upsample:='], 2,
     "depth_node: cannot start: failed to initialize rcl: Couldn't parse parameter override"),
]


@pytest.mark.parametrize('case_id, args, status, text', CASES, ids=[c[0] for c in CASES])
def test_bad_value_exits_with_a_clear_message(runs, case_id, args, status, text):
    results, paths = runs
    code, output = results[case_id]
    assert code == status, output
    assert text.format(**paths) in output, output
    assert 'Traceback' not in output, output
    # One line says what is wrong (rcl may add its own line for unparsable arguments).
    assert len([line for line in output.splitlines() if line.strip()]) <= 2, output
