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
Resuming training (``--resume``), with real tiny runs on synthetic scenes (seconds of CPU).

A resume must continue the run: ``auto`` without a checkpoint says it starts anew, a changed
config is refused unless allowed, and ``log.csv`` ends as an uninterrupted run's would, with
``time_s`` counting on from the checkpoint.
"""

import csv
import logging
import shutil
import subprocess

from conftest import console_script
from msdepth_ros.model.checkpoint import read_checkpoint_file
from msdepth_ros.train.config import ConfigError, load_config
from msdepth_ros.train.trainer import train
import pytest
from test_train import CONFIG_DIR, small_overrides
import yaml

#: 6 coarse steps and 3 fine steps of 8 samples; a log row per step.
TINY = {'coarse.samples': 48, 'fine.samples': 24, 'data.train.count': 16, 'data.val': 'null',
        'log_every_steps': 1}


def _config(out_dir, **extra):
    return load_config(CONFIG_DIR / 'train_synthetic.yaml',
                       small_overrides(out_dir, **{**TINY, **extra}))


def _log(out_dir):
    with open(out_dir / 'log.csv', newline='', encoding='utf-8') as f:
        return list(csv.DictReader(f))


def test_resume_auto_without_a_checkpoint_says_it_starts_anew(tmp_path, caplog):
    out = tmp_path / 'run'
    with caplog.at_level(logging.INFO, logger='msdepth_ros.train'):
        result = train(_config(out), resume='auto', progress=False, stop_after_steps=1)
    assert result.stopped
    lines = [r.getMessage() for r in caplog.records if r.name == 'msdepth_ros.train']
    assert any('no checkpoint_last.pt in' in line and 'starting a new run from step 0' in line
               for line in lines), lines
    with caplog.at_level(logging.INFO, logger='msdepth_ros.train'):
        caplog.clear()
        train(_config(out), resume='auto', progress=False, stop_after_steps=1)
    assert any(f'resuming from {out / "checkpoint_last.pt"}' in r.getMessage()
               for r in caplog.records), caplog.text


def test_a_changed_config_is_refused_with_the_difference(tmp_path, caplog):
    out = tmp_path / 'run'
    train(_config(out), progress=False, stop_after_steps=2)
    written = (out / 'config.yaml').read_text()
    with pytest.raises(ConfigError) as err:
        train(_config(out, batch_size=4), resume='auto', progress=False)
    assert 'batch_size: 8 -> 4' in str(err.value)
    assert '--allow-config-change' in str(err.value)
    assert (out / 'config.yaml').read_text() == written  # the run's config is kept
    # The command line says the same, without a traceback.
    cli = subprocess.run(
        [console_script('msdepth-train'), '--config', str(CONFIG_DIR / 'train_synthetic.yaml'),
         '--resume', 'auto', '--no-progress',
         *[f'--override={o}' for o in small_overrides(out, **{**TINY, 'batch_size': 4})]],
        capture_output=True, text=True, timeout=300)
    assert cli.returncode == 1, cli.stderr
    assert 'batch_size: 8 -> 4' in cli.stderr and 'Traceback' not in cli.stderr
    # Machine settings may change on resume; allowed changes go on, said in the log.
    with caplog.at_level(logging.WARNING, logger='msdepth_ros.train'):
        result = train(_config(out, batch_size=4, workers=1), resume='auto', progress=False,
                       allow_config_change=True, stop_after_steps=1)
    assert result.stopped
    assert 'changed config' in caplog.text and 'batch_size: 8 -> 4' in caplog.text
    assert 'workers' not in caplog.text
    assert yaml.safe_load((out / 'config.yaml').read_text())['batch_size'] == 4


def test_log_is_cut_back_to_the_checkpoint_and_time_continues(tmp_path):
    whole = tmp_path / 'whole'
    train(_config(whole), progress=False)
    out = tmp_path / 'run'
    train(_config(out), progress=False, stop_after_steps=2)
    kept = out / 'checkpoint_at_2.pt'
    shutil.copy(out / 'checkpoint_last.pt', kept)
    # A run that logged steps 3 and 4 and then died before its next checkpoint.
    train(_config(out), resume='auto', progress=False, stop_after_steps=2)
    assert [r['step'] for r in _log(out)] == ['1', '2', '3', '4']
    shutil.copy(kept, out / 'checkpoint_last.pt')
    elapsed_s = read_checkpoint_file(kept)['metadata']['elapsed_s']
    assert elapsed_s > 0
    train(_config(out), resume='auto', progress=False)
    rows = _log(out)
    key = [(r['stage'], r['step']) for r in rows]
    assert key == [(r['stage'], r['step']) for r in _log(whole)]  # no step twice
    times = [float(r['time_s']) for r in rows]
    assert times == sorted(times)
    assert times[2] >= elapsed_s  # the first row after the resume counts on


def _weights(path, prefix):
    state = read_checkpoint_file(path)['state_dict']
    return {k: v for k, v in state.items() if k.startswith(prefix)}


def test_retrain_fine_trains_the_fine_stage_anew_on_the_runs_coarse_stage(tmp_path, caplog):
    out = tmp_path / 'run'
    train(_config(out), progress=False)
    coarse = _weights(out / 'coarse.pt', 'coarse.')
    first_fine = _weights(out / 'fine.pt', 'fine.')
    coarse_rows = [r for r in _log(out) if r['stage'] == 'coarse']
    other_lr = {'fine.lr.conv1': 0.003, 'fine.lr.conv3': 0.003, 'fine.lr.conv4': 0.003}

    # Other fine settings: only the fine stage runs, from the start a new run's would have.
    with caplog.at_level(logging.INFO, logger='msdepth_ros.train'):
        result = train(_config(out, **other_lr), progress=False, retrain_fine=True)
    assert not result.stopped
    assert f'training the fine stage again on {out / "coarse.pt"}' in caplog.text
    assert 'dropped 3 rows past the checkpoint (after coarse)' in caplog.text
    rows = _log(out)
    assert [r for r in rows if r['stage'] == 'coarse'] == coarse_rows  # the coarse rows, once
    assert [r['step'] for r in rows if r['stage'] == 'fine'] == ['1', '2', '3']
    assert [float(r['time_s']) for r in rows] == sorted(float(r['time_s']) for r in rows)
    final = read_checkpoint_file(out / 'model.pt')
    for name, value in coarse.items():  # the coarse stage is untouched
        assert final['state_dict'][name].equal(value), name
    retrained = _weights(out / 'fine.pt', 'fine.')
    assert any(not retrained[k].equal(first_fine[k]) for k in first_fine)
    assert final['metadata']['train_config']['fine']['lr']['conv1'] == 0.003
    assert yaml.safe_load((out / 'config.yaml').read_text())['fine']['lr']['conv1'] == 0.003

    # It is the fine stage that a whole run with those settings trains (float32 stage files).
    whole = tmp_path / 'whole'
    train(_config(whole, **other_lr), progress=False)
    for name, value in _weights(whole / 'fine.pt', 'fine.').items():
        assert retrained[name].equal(value), name


def test_retrain_fine_refuses_what_it_cannot_do(tmp_path):
    out = tmp_path / 'run'
    with pytest.raises(ConfigError, match='no coarse stage to train the fine stage on'):
        train(_config(out), progress=False, retrain_fine=True)
    train(_config(out), progress=False)
    with pytest.raises(ConfigError, match='not both'):
        train(_config(out), resume='auto', progress=False, retrain_fine=True)
    # A change outside the fine section would leave the coarse stage untrained for it.
    with pytest.raises(ConfigError, match='batch_size: 8 -> 4') as err:
        train(_config(out, batch_size=4), progress=False, retrain_fine=True)
    assert '--allow-config-change' in str(err.value)
    cli = subprocess.run(
        [console_script('msdepth-train'), '--config', str(CONFIG_DIR / 'train_synthetic.yaml'),
         '--retrain-fine', '--resume', 'auto', '--no-progress',
         *[f'--override={o}' for o in small_overrides(out, **TINY)]],
        capture_output=True, text=True, timeout=300)
    assert cli.returncode == 2 and '--retrain-fine starts the fine stage anew' in cli.stderr
