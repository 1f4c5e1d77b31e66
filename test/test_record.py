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

"""``msdepth-record`` over real DDS: a bag replayed by ``msdepth-replay`` is recorded back."""

import signal
import subprocess
import time

from conftest import console_script
import pytest
from rosbags.highlevel import AnyReader
from rosbags.interfaces import QosDurability
from test_replay import _write_bag

pytestmark = [pytest.mark.ros, pytest.mark.dds]


def _messages(bag):
    with AnyReader([bag]) as reader:
        out = {}
        for conn, _, data in reader.messages():
            out.setdefault(conn.topic, []).append(bytes(data))
        qos = {c.topic: c.ext.offered_qos_profiles for c in reader.connections}
    return out, qos


def _wait_line(proc, text, timeout_s):
    end = time.monotonic() + timeout_s
    lines = []
    while time.monotonic() < end:
        line = proc.stdout.readline()
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f'{text!r} not printed; got {lines}')


def test_record_what_replay_publishes(tmp_path):
    source = tmp_path / 'source'
    _write_bag(source, frames=5)
    out = tmp_path / 'recorded'
    recorder = subprocess.Popen(
        [console_script('msdepth-record'), str(out), '--topics', '/tf_static', 'cam/image_raw'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_line(recorder, 'waiting for', 60)
        # The replay sends nothing before the recorder has subscribed to both topics, and exits
        # only once the recorder has acknowledged every message; the recorder writes what it
        # has received before it closes the bag on Ctrl-C.
        subprocess.run([console_script('msdepth-replay'), str(source), '--rate', '0.5',
                        '--delay', '0', '--wait-for-subscribers', '/tf_static', '/cam/image_raw',
                        '--linger', '0', '-q'], check=True, timeout=120)
        assert not (tmp_path / 'recorded').exists(), 'the bag appears only when recording stops'
        recorder.send_signal(signal.SIGINT)
        output, _ = recorder.communicate(timeout=60)
    finally:
        if recorder.poll() is None:
            recorder.kill()
    assert recorder.returncode == 0, output
    assert 'recording /tf_static' in output and 'recording /cam/image_raw' in output
    expected, _ = _messages(source)
    got, qos = _messages(out)
    assert got == expected  # byte for byte, in order
    assert qos['/tf_static'][0].durability == QosDurability.TRANSIENT_LOCAL
    assert qos['/cam/image_raw'][0].durability == QosDurability.VOLATILE
    assert not (tmp_path / 'recorded.partial').exists()


def test_existing_output_is_refused(tmp_path):
    (tmp_path / 'bag').mkdir()
    proc = subprocess.run([console_script('msdepth-record'), str(tmp_path / 'bag'),
                           '--topics', '/x'], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1
    assert 'exists already' in proc.stderr and 'Traceback' not in proc.stderr
