"""Training with zones: masked places add nothing to the loss, and the new model carries its zones."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers.cli import TINY_SIZE
from vad_core.model.checkpoint import load_checkpoint, zones_path
from vad_core.scoring.zones import Zones
from vad_core.training.train import TrainConfig, masked_mse, train


def test_the_masked_loss_leaves_masked_places_out():
    x = torch.rand(2, 3, 1, 8, 8)
    recon = torch.rand(2, 3, 1, 8, 8, requires_grad=True)
    mask = torch.ones(8, 8)
    mask[:, 4:] = 0  # the right half is a road
    loss = masked_mse(recon, x, mask)
    loss.backward()
    assert (recon.grad[..., 4:] == 0).all() and (recon.grad[..., :4] != 0).all()
    assert loss.item() == pytest.approx(torch.square(recon - x)[..., :4].mean().item(), rel=1e-5)
    assert masked_mse(recon, x, None).item() == pytest.approx(torch.square(recon - x).mean().item(), rel=1e-5)


@pytest.mark.slow
def test_a_model_trained_with_zones_carries_them(tmp_path, samples):
    zones = Zones(ignore=[[(180.0, 0.0), (360.0, 0.0), (360.0, 240.0), (180.0, 240.0)]])
    path = tmp_path / "cam.zones.json"
    path.write_text(zones.to_json())
    steps = []
    cfg = TrainConfig(data=str(samples), out=str(tmp_path / "m"), input_size=TINY_SIZE, minutes=5, bf16=False,
                      max_clips=1, select_scoring=False, zones=str(path))  # fmt: skip
    result = train(cfg, on_step=steps.append, should_stop=lambda: len(steps) >= 3, show_progress=False)
    assert zones_path(result.checkpoint).is_file()
    model = load_checkpoint(result.checkpoint)
    assert model.zones == zones
    scale = model.scene.place_scale[model.scoring.kind]  # fitted on masked maps, floored at the unmasked median
    left = scale[:, : TINY_SIZE // 2 - model.scoring.patch]
    assert scale.min() >= np.median(left) * 0.5 and scale[:, -2:].max() <= np.median(left) * 1.5
