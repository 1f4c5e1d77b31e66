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
Training: configs, the learning test (coarse, then fine on top), resume, DDP under torchrun.

The runs use a half-size KITTI-like geometry (a preset given as data in the config) and small
synthetic street images so that the whole file takes well under a minute of CPU.
"""

import json
import math
import os
from pathlib import Path
import subprocess
import sys

from conftest import console_script, REPO_ROOT
from msdepth_ros.data.base import DatasetError
from msdepth_ros.data.registry import DataSpec, open_dataset
from msdepth_ros.data.synthetic import SyntheticRoadDataset
from msdepth_ros.evaluation.evaluate import ConstantSource, EvalProtocol, evaluate
from msdepth_ros.model.checkpoint import load_checkpoint
from msdepth_ros.tools.evaluate import ModelSource
from msdepth_ros.train.config import (config_from_dict, ConfigError, dump_config, load_config,
                                      PAPER_LR, PAPER_SAMPLES)
from msdepth_ros.train.examples import ExampleSource, StepBatchSampler
from msdepth_ros.train.stages import weights_digest
from msdepth_ros.train.trainer import train
import numpy as np
import pytest
import torch
import yaml

CONFIG_DIR = REPO_ROOT / 'config'

#: KITTI's geometry at half the input size: input 288x86, output 70x13, the fine network on
#: the bottom 59 rows (the smallest crop its convolution and pool map onto 13 rows).
SMALL_PRESET = {'name': 'kitti_small', 'input_width': 288, 'input_height': 86,
                'output_width': 70, 'output_height': 13, 'fine_crop_top': 27,
                'resize_width': 310.5, 'resize_height': 93.75, 'crop': 'bottom',
                'train_focal_px': 721.54 / 4, 'min_depth_m': 1e-3, 'max_depth_m': 80.0}


def small_overrides(out_dir, **extra):
    """Return overrides of config/train_synthetic.yaml for a CPU run of seconds."""
    values = {'model.preset': json.dumps(SMALL_PRESET), 'model.coarse_fc_width': 64,
              'data.train.width': 310, 'data.train.height': 94, 'data.train.count': 64,
              'data.val.width': 310, 'data.val.height': 94, 'data.val.count': 8,
              'batch_size': 8, 'workers': 0, 'val_every_samples': 0,
              'checkpoint_every_samples': 0, 'log_every_steps': 10, 'output_dir': str(out_dir),
              'device': 'cpu'}
    values.update(extra)
    return [f'{k}={v}' for k, v in values.items()]


def test_shipped_configs_load_with_the_papers_values():
    nyu = load_config(CONFIG_DIR / 'train_nyu.yaml')
    kitti = load_config(CONFIG_DIR / 'train_kitti.yaml')
    for config, name in ((nyu, 'nyu'), (kitti, 'kitti')):
        assert config.model.get_preset().name == name
        assert config.batch_size == 32 and config.momentum == 0.9
        assert config.model.coarse_fc_width == 4096
        assert config.learning_rates('coarse') == PAPER_LR['coarse']
        assert config.learning_rates('fine') == PAPER_LR['fine']
        assert (config.coarse.samples, config.fine.samples) == (
            PAPER_SAMPLES[name]['coarse'], PAPER_SAMPLES[name]['fine'])
    assert nyu.mask_min_max and not kitti.mask_min_max
    assert kitti.augmentation().rotation_deg == 0.0 and kitti.augmentation().scale_max == 1.2
    assert nyu.augmentation().rotation_deg == 5.0 and nyu.augmentation().scale_max == 1.5
    synthetic = load_config(CONFIG_DIR / 'train_synthetic.yaml')
    assert synthetic.data.train.kind == 'synthetic'
    # a dumped config reads back as the same config
    assert config_from_dict(yaml.safe_load(dump_config(synthetic))) == synthetic


def test_stage_lengths_default_to_the_papers_for_the_preset():
    """Section 4 of the paper: NYU coarse 2M / fine 1.5M samples, KITTI 1.5M / 1M."""
    assert PAPER_SAMPLES == {'nyu': {'coarse': 2_000_000, 'fine': 1_500_000},
                             'kitti': {'coarse': 1_500_000, 'fine': 1_000_000}}
    data = {'train': {'kind': 'synthetic'}}
    kitti = config_from_dict({'data': data, 'model': {'preset': 'kitti'}})
    nyu = config_from_dict({'data': data, 'model': {'preset': 'nyu'}})
    assert (kitti.stage('coarse').samples, kitti.stage('fine').samples) == (1_500_000,
                                                                            1_000_000)
    assert (nyu.stage('coarse').samples, nyu.stage('fine').samples) == (2_000_000, 1_500_000)
    # Learning rates given without a length keep the preset's length; a length is kept.
    mixed = config_from_dict({'data': data, 'model': {'preset': 'kitti'},
                              'coarse': {'lr': {'fc': 0.01}}, 'fine': {'samples': 7}})
    assert mixed.stage('coarse').samples == 1_500_000
    assert mixed.learning_rates('coarse')['fc'] == 0.01 and mixed.stage('fine').samples == 7
    # What a run records (config.yaml, checkpoints) is the resolved length.
    dumped = yaml.safe_load(dump_config(kitti))
    assert dumped['coarse']['samples'] == 1_500_000 and dumped['fine']['samples'] == 1_000_000
    with pytest.raises(ConfigError, match='coarse.samples: the paper gives no length for '
                                          "preset 'kitti_small'"):
        config_from_dict({'data': data, 'model': {'preset': SMALL_PRESET}})


def test_mixed_precision_is_off_on_the_cpu_and_bfloat16_is_an_option():
    data = {'train': {'kind': 'synthetic'}}
    default = config_from_dict({'data': data})
    assert default.amp == 'auto'
    assert default.autocast_dtype('cpu') is None and default.autocast_dtype('cuda') == 'float16'
    # The shipped configs' YAML booleans keep working: true is 'auto', false 'off'.
    assert config_from_dict({'data': data, 'amp': True}).amp == 'auto'
    off = config_from_dict({'data': data, 'amp': False})
    assert off.amp == 'off' and off.autocast_dtype('cuda') is None
    bf16 = config_from_dict({'data': data, 'amp': 'bfloat16'})
    assert bf16.autocast_dtype('cuda') == 'bfloat16' and bf16.autocast_dtype('cpu') == 'bfloat16'
    with pytest.raises(ConfigError, match='this GPU has no bfloat16'):
        bf16.autocast_dtype('cuda', bfloat16_supported=False)
    with pytest.raises(ConfigError, match="'float16' is for CUDA devices"):
        config_from_dict({'data': data, 'amp': 'float16'}).autocast_dtype('cpu')
    with pytest.raises(ConfigError, match="amp must be one of .*'half'"):
        config_from_dict({'data': data, 'amp': 'half'})
    for name in ('train_nyu.yaml', 'train_kitti.yaml', 'train_synthetic.yaml'):
        assert load_config(CONFIG_DIR / name).autocast_dtype('cpu') is None


def test_bfloat16_training_runs_on_the_cpu(tmp_path):
    config = load_config(CONFIG_DIR / 'train_synthetic.yaml', small_overrides(
        tmp_path / 'run', **{'coarse.samples': 16, 'fine.samples': 8, 'data.train.count': 16,
                             'data.val': 'null', 'amp': 'bfloat16', 'log_every_steps': 1}))
    result = train(config, progress=False)
    losses = [r['loss'] for r in result.history if r.get('loss') is not None]
    assert len(losses) == 3 and all(np.isfinite(losses))
    assert result.final_checkpoint.is_file()


def test_example_source_masks_the_recorded_extremes_when_asked():
    from msdepth_ros.core.presets import NYU
    from msdepth_ros.data.augment import AugmentConfig, make_example
    from msdepth_ros.data.base import DepthDataset, DepthSample
    from msdepth_ros.data.nyu import NYU_INTRINSICS

    class Room(DepthDataset):
        sparse_depth = False

        def __len__(self):
            return 1

        def sample_name(self, index):
            return 'room'

        def __getitem__(self, index):
            depth = np.tile(np.linspace(1.0, 9.0, 640, dtype=np.float32), (480, 1))
            depth[200:280, 300:340] = 9.0  # the recorded maximum, inside the crop
            return DepthSample(np.zeros((480, 640, 3), np.uint8), depth, NYU_INTRINSICS)

    room = Room()
    plain = ExampleSource(room, NYU, AugmentConfig.none(), 0, False)
    masked = ExampleSource(room, NYU, AugmentConfig.none(), 0, False, mask_min_max=True)
    target = plain[(0,)][1][0].numpy()
    target_masked = masked[(0,)][1][0].numpy()
    assert np.isfinite(target).all()
    dropped = np.isnan(target_masked)
    assert dropped.any() and (target[dropped] == 9.0).all()
    assert (target[~dropped] == target_masked[~dropped]).all() and (target[~dropped] < 9.0).all()
    sample = room[0]
    expected = make_example(sample.image, sample.depth_m, sample.intrinsics,
                            plain.plan(640, 480), normalize_focal=False, mask_extremes=True)
    np.testing.assert_array_equal(expected.target_depth_m, target_masked)


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"coarse: unknown keys \['sampels'\]"):
        config_from_dict({'data': {'train': {'kind': 'synthetic'}},
                          'coarse': {'sampels': 10}})
    with pytest.raises(ConfigError, match=r'fine.lr has unknown groups \[.conv2.\]'):
        config_from_dict({'data': {'train': {'kind': 'synthetic'}},
                          'fine': {'samples': 1, 'lr': {'conv2': 0.1}}})
    with pytest.raises(ConfigError, match='batch_size: expected an integer'):
        load_config(CONFIG_DIR / 'train_synthetic.yaml', ['batch_size=many'])
    with pytest.raises(ConfigError, match='is not KEY=VALUE'):
        load_config(CONFIG_DIR / 'train_synthetic.yaml', ['batch_size'])
    path = tmp_path / 'bad.yaml'
    path.write_text('data: {train: {kind: imagenet}}\n')
    with pytest.raises(ConfigError, match='bad.yaml: .*kind must be one of'):
        load_config(path)


def test_cosine_schedule_and_float16_checkpoints_are_config_options(tmp_path):
    data = {'train': {'kind': 'synthetic'}}
    default = config_from_dict({'data': data, 'model': {'preset': 'kitti'}})
    assert default.stage('coarse').lr_schedule == 'constant'
    assert default.checkpoint_dtype == 'float32'
    assert default.stage('fine').lr_factor(7, 10) == 1.0
    cosine = config_from_dict({'data': data, 'model': {'preset': 'kitti'},
                               'coarse': {'lr_schedule': 'cosine'}}).stage('coarse')
    assert cosine.samples == PAPER_SAMPLES['kitti']['coarse']  # a length left out is kept
    assert [cosine.lr_factor(s, 4) for s in range(5)] == pytest.approx(
        [1.0, 0.5 + 0.5 ** 1.5, 0.5, 0.5 - 0.5 ** 1.5, 0.0])
    with pytest.raises(ConfigError, match="fine.lr_schedule must be one of .*'step'"):
        config_from_dict({'data': data, 'fine': {'samples': 1, 'lr_schedule': 'step'}})
    with pytest.raises(ConfigError, match="checkpoint_dtype must be one of .*'int8'"):
        config_from_dict({'data': data, 'checkpoint_dtype': 'int8'})
    demo = load_config(CONFIG_DIR / 'train_demo_fp16.yaml')
    assert demo.checkpoint_dtype == 'float16' and demo.stage('coarse').lr_schedule == 'cosine'
    assert config_from_dict(yaml.safe_load(dump_config(demo))) == demo

    # A run: each step's rates follow the schedule (the optimizer state at the end of the fine
    # stage holds its last step's), and the stage and final checkpoints hold float16 weights.
    config = load_config(CONFIG_DIR / 'train_synthetic.yaml', small_overrides(
        tmp_path / 'run', **{'coarse.samples': 16, 'fine.samples': 24, 'data.train.count': 16,
                             'data.val': 'null', 'fine.lr_schedule': 'cosine',
                             'checkpoint_dtype': 'float16'}))
    result = train(config, progress=False)
    last = torch.load(tmp_path / 'run' / 'checkpoint_last.pt', weights_only=True)
    rates = {g['name']: g['lr'] for g in last['optimizer']['param_groups']}
    factor = 0.5 * (1 + math.cos(math.pi * 2 / 3))  # step 2 of 3
    assert rates == pytest.approx({k: v * factor
                                   for k, v in config.learning_rates('fine').items()})
    assert {t.dtype for t in last['state_dict'].values()} == {torch.float32}
    for path in (result.final_checkpoint, *result.stage_checkpoints.values()):
        stored = torch.load(path, weights_only=True)['state_dict']
        assert {t.dtype for t in stored.values()} == {torch.float16}, path
    model = load_checkpoint(result.final_checkpoint).model
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_adam_is_a_stage_option_and_a_resumed_adam_run_ends_with_the_same_weights(tmp_path):
    data = {'train': {'kind': 'synthetic'}}
    assert config_from_dict({'data': data}).stage('coarse').optimizer == 'sgd'
    with pytest.raises(ConfigError, match="coarse.optimizer must be one of .*'rmsprop'"):
        config_from_dict({'data': data, 'coarse': {'samples': 1, 'optimizer': 'rmsprop'}})
    overrides = {'coarse.samples': 32, 'fine.samples': 16, 'data.train.count': 16,
                 'data.val': 'null', 'coarse.optimizer': 'adam', 'fine.optimizer': 'adam',
                 'coarse.lr': '{conv: 0.0001, fc: 0.0001}'}
    config_a = load_config(CONFIG_DIR / 'train_synthetic.yaml',
                           small_overrides(tmp_path / 'a', **overrides))
    assert config_a.stage('fine').optimizer == 'adam'  # kept when the length is resolved
    whole = train(config_a, progress=False)
    config_b = load_config(CONFIG_DIR / 'train_synthetic.yaml',
                           small_overrides(tmp_path / 'b', **overrides))
    assert train(config_b, progress=False, stop_after_steps=2).stopped
    last = torch.load(tmp_path / 'b' / 'checkpoint_last.pt', weights_only=True)
    assert all('exp_avg_sq' in s for s in last['optimizer']['state'].values())  # Adam's state
    assert not train(config_b, resume='auto', progress=False).stopped
    a = load_checkpoint(whole.final_checkpoint).model
    b = load_checkpoint(tmp_path / 'b' / 'model.pt').model
    assert weights_digest(a) == weights_digest(b)
    coarse_sgd = load_config(CONFIG_DIR / 'train_synthetic.yaml', small_overrides(
        tmp_path / 'c', **{**overrides, 'coarse.optimizer': 'sgd', 'fine.samples': 0}))
    sgd = train(coarse_sgd, progress=False)  # same data and start: Adam's steps differ
    c = load_checkpoint(sgd.stage_checkpoints['coarse']).model
    a_coarse = load_checkpoint(whole.stage_checkpoints['coarse']).model
    assert not torch.equal(a_coarse.coarse.conv1.weight, c.coarse.conv1.weight)


def test_synthetic_cache_size_keeps_a_small_training_set_rendered():
    spec = load_config(CONFIG_DIR / 'train_synthetic.yaml',
                       ['data.train.count=3', 'data.train.cache_size=3',
                        'data.train.width=310', 'data.train.height=94']).data.train
    dataset = open_dataset(spec)
    first = [dataset[i] for i in range(3)]
    assert all(dataset[i] is first[i] for i in range(3))  # rendered once, then kept
    small = open_dataset(DataSpec('synthetic', count=3, width=310, height=94, cache_size=1))
    kept = small[0]
    small[1]
    assert small[0] is not kept and np.array_equal(small[0].depth_m, kept.depth_m,
                                                   equal_nan=True)
    with pytest.raises(DatasetError, match='cache_size must be >= 0, got -1'):
        DataSpec('synthetic', cache_size=-1)


def test_per_pixel_bias_starts_coarse_at_the_average_street(tmp_path):
    config = load_config(CONFIG_DIR / 'train_synthetic.yaml', small_overrides(
        tmp_path / 'run', **{'coarse.samples': 0, 'fine.samples': 0, 'data.train.count': 16,
                             'data.val': 'null', 'model.init_coarse_bias_per_pixel': 'true'}))
    model = load_checkpoint(train(config, progress=False).final_checkpoint).model
    bias = model.coarse.fc7.bias.detach().numpy().reshape(13, 70)
    source = ExampleSource(SyntheticRoadDataset(16, seed=1, width=310, height=94),
                           model.preset, config.augmentation(), 0, True)
    logs = []
    for i in range(16):
        target = source[(i,)][1].numpy()[0]
        logs.append(np.where(target > 0, np.log(np.where(target > 0, target, 1)), np.nan))
    expected = np.nanmean(logs, axis=0)
    seen = np.isfinite(expected)
    assert seen.mean() > 0.5
    np.testing.assert_allclose(bias[seen], expected[seen], rtol=1e-5, atol=1e-5)
    assert np.allclose(bias[~seen], np.nanmean(np.array(logs)))  # the sky: the overall mean
    assert bias[-1].mean() < bias[seen.all(axis=1)][0].mean() - 0.5  # the road's ramp


def test_cli_reports_config_errors_without_traceback(tmp_path):
    proc = subprocess.run([console_script('msdepth-train'), '--config',
                           str(CONFIG_DIR / 'train_synthetic.yaml'), '--override',
                           'stages.coarse=1'], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "unknown keys ['stages']" in proc.stderr and 'Traceback' not in proc.stderr
    proc = subprocess.run([console_script('msdepth-train'), '--config',
                           str(tmp_path / 'none.yaml')], capture_output=True, text=True)
    assert proc.returncode == 2 and 'no such config file' in proc.stderr


def test_ranks_take_disjoint_shares_of_each_global_batch():
    shares = [list(StepBatchSampler(40, 8, 2, r, 0, 0, 0, 10)) for r in range(2)]
    for step in range(10):
        a = {k[0] for k in shares[0][step]}
        b = {k[0] for k in shares[1][step]}
        assert len(a) == len(b) == 4 and not a & b
    # an epoch (5 steps) visits every sample once
    seen = [k[0] for r in range(2) for step in range(5) for k in shares[r][step]]
    assert sorted(seen) == list(range(40))


@pytest.mark.slow
def test_training_on_synthetic_scenes_learns_and_the_fine_stage_helps(tmp_path):
    config = load_config(CONFIG_DIR / 'train_synthetic.yaml', small_overrides(
        tmp_path / 'run', **{'coarse.samples': 320, 'fine.samples': 640}))
    result = train(config, progress=False)
    rows = [r for r in result.history if r.get('loss') is not None]
    coarse = [r['loss'] for r in rows if r['stage'] == 'coarse']
    fine = [r['loss'] for r in rows if r['stage'] == 'fine']
    assert coarse[-1] < 0.75 * coarse[0]  # the loss goes down
    assert min(fine) < coarse[-1]
    assert (tmp_path / 'run' / 'log.csv').read_text().count('\n') == len(result.history) + 1
    assert set(result.val_metrics) == {'coarse', 'fine'}  # validated after each stage

    # Held-out streets (another seed), through the inference runtime and the evaluation.
    held_out = SyntheticRoadDataset(16, seed=999, width=310, height=94)
    protocol = EvalProtocol(1e-3, 80.0, None)
    train_set = SyntheticRoadDataset(64, seed=1, width=310, height=94)
    depths = np.concatenate([d[np.isfinite(d) & (d < 80.0)]
                             for d in (train_set[i].depth_m for i in range(len(train_set)))])
    mean = evaluate(ConstantSource(float(depths.mean())), held_out, protocol).metrics
    coarse_m = evaluate(ModelSource(str(result.stage_checkpoints['coarse']), 'torch'),
                        held_out, protocol).metrics
    fine_m = evaluate(ModelSource(str(result.final_checkpoint), 'torch'), held_out,
                      protocol).metrics
    for metrics in (coarse_m, fine_m):
        assert metrics['delta1'] > mean['delta1'] + 0.2
        assert metrics['abs_rel'] < 0.6 * mean['abs_rel']
    assert fine_m['delta1'] >= coarse_m['delta1']
    assert fine_m['abs_rel'] <= coarse_m['abs_rel']
    # the final checkpoint holds the coarse stage's coarse network unchanged
    final = load_checkpoint(result.final_checkpoint).model.state_dict()
    coarse_ckpt = load_checkpoint(result.stage_checkpoints['coarse']).model.state_dict()
    for key, value in coarse_ckpt.items():
        if key.startswith('coarse.'):
            assert np.array_equal(value.numpy(), final[key].numpy()), key


@pytest.mark.slow
def test_resumed_run_ends_with_the_same_weights(tmp_path):
    overrides = {'coarse.samples': 48, 'fine.samples': 24, 'data.train.count': 16,
                 'data.val': 'null'}
    whole = train(load_config(CONFIG_DIR / 'train_synthetic.yaml',
                              small_overrides(tmp_path / 'a', **overrides)), progress=False)
    config_b = load_config(CONFIG_DIR / 'train_synthetic.yaml',
                           small_overrides(tmp_path / 'b', **overrides))
    first = train(config_b, progress=False, stop_after_steps=4)
    assert first.stopped and not (tmp_path / 'b' / 'model.pt').exists()
    second = train(config_b, resume='auto', progress=False, stop_after_steps=3)
    assert second.stopped  # crossed into the fine stage, stopped again
    third = train(config_b, resume='auto', progress=False)
    assert not third.stopped
    a = load_checkpoint(whole.final_checkpoint).model
    b = load_checkpoint(third.final_checkpoint).model
    assert weights_digest(a) == weights_digest(b)


@pytest.mark.slow
def test_torchrun_two_cpu_ranks_split_the_data_and_agree_on_the_weights(tmp_path):
    out = tmp_path / 'ddp'
    overrides = small_overrides(out, **{'coarse.samples': 32, 'fine.samples': 16,
                                        'data.train.count': 24, 'data.val.count': 4,
                                        'record_samples': 'true'})
    env = dict(os.environ, OMP_NUM_THREADS='1')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc-per-node',
           '2', console_script('msdepth-train'), '--config',
           str(CONFIG_DIR / 'train_synthetic.yaml'), '--no-progress']
    for item in overrides:
        cmd += ['--override', item]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]

    def shares(rank):
        table = {}
        for line in (out / f'samples_rank{rank}.txt').read_text().splitlines():
            stage, step, index = line.split()
            table.setdefault((stage, int(step)), []).append(int(index))
        return table
    rank0, rank1 = shares(0), shares(1)
    assert set(rank0) == set(rank1) == {('coarse', s) for s in range(4)} | {
        ('fine', s) for s in range(2)}
    for key in rank0:
        assert len(rank0[key]) == len(rank1[key]) == 4
        assert not set(rank0[key]) & set(rank1[key])
    checkpoint = load_checkpoint(out / 'model.pt')
    digests = checkpoint.metadata['rank_weight_digests']
    assert len(digests) == 2 and digests[0] == digests[1]
    assert digests[0] == weights_digest(checkpoint.model)
    assert checkpoint.metadata['world_size'] == 2
    assert Path(out / 'log.csv').is_file() and Path(out / 'coarse.pt').is_file()
