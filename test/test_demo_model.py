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
The committed demo model, ``models/demo_kitti_synthetic.pt``, against its card.

What it is (``models/README.md``), and that it does what the card says: clearly better than the
mean-depth baseline on streets it never saw, its fine stage no worse than its coarse network.
"""

from pathlib import Path

from msdepth_ros.data.synthetic import SyntheticRoadDataset
from msdepth_ros.evaluation.evaluate import ConstantSource, EvalProtocol, evaluate
from msdepth_ros.model.checkpoint import load_checkpoint, save_checkpoint
from msdepth_ros.tools.demo import PACKAGE_ROOT
from msdepth_ros.tools.evaluate import ModelSource
from msdepth_ros.train.stages import init_fine_as_identity
import numpy as np

MODEL = Path(__file__).resolve().parents[1] / 'models' / 'demo_kitti_synthetic.pt'


def test_demo_model_is_the_one_the_card_describes():
    assert MODEL.stat().st_size < 25 * 1024 * 1024
    checkpoint = load_checkpoint(MODEL)
    assert checkpoint.config.preset.name == 'kitti'
    assert checkpoint.config.coarse_fc_width == 384
    assert checkpoint.metadata['stages_done'] == ['coarse', 'fine']
    train_config = checkpoint.metadata['train_config']
    assert train_config['data']['train']['seed'] == 1
    assert train_config['data']['train']['count'] == 4096
    # float16 weights in the file: 12 M parameters in 24 MB
    assert train_config['checkpoint_dtype'] == 'float16'
    assert MODEL.stat().st_size < 2.05 * sum(p.numel() for p in checkpoint.model.parameters())
    assert (train_config['coarse']['optimizer'], train_config['fine']['optimizer']) == (
        'adam', 'adam')
    assert train_config['fine']['lr'] == {'conv1': 0.0005, 'conv3': 0.0005, 'conv4': 0.0005}
    assert train_config['fine']['samples'] == 32_000
    assert train_config['model']['init_coarse_bias_per_pixel']
    counts = [sum(p.numel() for p in part.parameters())
              for part in (checkpoint.model.coarse, checkpoint.model.fine)]
    assert counts == [11_908_346, 119_437]
    # The demo runs this file by default.
    assert (PACKAGE_ROOT / 'models' / 'demo_kitti_synthetic.pt') == MODEL


def test_demo_model_beats_the_mean_baseline_on_unseen_streets():
    # 8 of the card's 64 held-out streets (seed 5000: neither training nor validation data).
    dataset = SyntheticRoadDataset(8, seed=5000)
    protocol = EvalProtocol.for_preset('kitti')
    model = evaluate(ModelSource(str(MODEL), backend='torch'), dataset, protocol).metrics
    truths = np.concatenate([dataset[i].depth_m[np.isfinite(dataset[i].depth_m)]
                             for i in range(len(dataset))])
    mean = evaluate(ConstantSource(float(truths[truths < protocol.max_depth_m].mean())),
                    dataset, protocol).metrics
    assert model['delta1'] > mean['delta1'] + 0.3, (model, mean)
    assert model['abs_rel'] < 0.5 * mean['abs_rel'], (model, mean)
    assert model['rmse'] < mean['rmse'] and model['si_log'] < mean['si_log']


def test_demo_model_reaches_delta_0_88_on_the_cards_64_held_out_streets():
    # The card's table: every one of its 64 held-out streets (seed 5000), the KITTI protocol.
    report = evaluate(ModelSource(str(MODEL), backend='torch'),
                      SyntheticRoadDataset(64, seed=5000), EvalProtocol.for_preset('kitti'))
    assert report.metrics['delta1'] >= 0.88, report.metrics
    assert report.metrics['abs_rel'] < 0.115, report.metrics
    # the walls and boxes, not only the road's ramp
    assert report.by_surface['wall']['delta1'] > 0.85, report.by_surface
    assert report.by_surface['box']['delta1'] > 0.68, report.by_surface
    assert report.by_surface['facade']['delta1'] > 0.65, report.by_surface


def test_demo_models_fine_stage_does_not_lose_against_its_coarse_network(tmp_path):
    # The card's claim on 8 of its 64 held-out streets: coarse + fine at least as good as the
    # coarse network alone. The coarse network alone is the same file with the fine network
    # made a pass-through of its coarse input, as the trainer's coarse.pt holds it.
    checkpoint = load_checkpoint(MODEL)
    init_fine_as_identity(checkpoint.model)
    coarse_path = tmp_path / 'coarse_only.pt'
    save_checkpoint(coarse_path, checkpoint.model)
    dataset = SyntheticRoadDataset(8, seed=5000)
    protocol = EvalProtocol.for_preset('kitti')
    fine = evaluate(ModelSource(str(MODEL), backend='torch'), dataset, protocol).metrics
    coarse = evaluate(ModelSource(str(coarse_path), backend='torch'), dataset,
                      protocol).metrics
    assert fine['delta1'] >= coarse['delta1'], (fine, coarse)
    assert fine['abs_rel'] < coarse['abs_rel'] and fine['rmse'] < coarse['rmse']
    # fine 1, 3 and 4 are trained (Adam 5e-4), not left at the pass-through they start as
    assert fine['si_log'] < 0.9 * coarse['si_log'], (fine, coarse)
