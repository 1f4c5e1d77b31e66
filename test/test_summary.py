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

"""The ``msdepth-summary`` command, as installed."""

import subprocess

from conftest import console_script
from msdepth_ros.tools.summary import main


def test_prints_the_table_for_a_preset(capsys):
    assert main(['--preset', 'nyu']) == 0
    out = capsys.readouterr().out
    assert 'coarse 6' in out and '50,335,744' in out and '70,757,734' in out
    assert '74x55' in out and 'kitti' not in out


def test_narrow_coarse_6(capsys):
    assert main(['--preset', 'kitti', '--coarse-fc-width', '256']) == 0
    assert 'coarse 6 width 256' in capsys.readouterr().out


def test_bad_arguments_exit_2_without_traceback():
    proc = subprocess.run([console_script('msdepth-summary'), '--preset', 'cityscapes'],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert 'invalid choice' in proc.stderr and 'Traceback' not in proc.stderr


def test_console_script_is_installed():
    proc = subprocess.run([console_script('msdepth-summary'), '--preset', 'kitti'],
                          capture_output=True, text=True, check=True)
    assert '90,762,362' in proc.stdout
