"""Layers, blocks and the autoencoder: shapes, gradient flow, config validation, the paper's size."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.blocks import SpatialDecoder, SpatialEncoder, TemporalBlock
from vad_core.model.config import ACTIVATION_NAMES, ModelConfig
from vad_core.model.layers import ConvBlock, ConvLSTM, ConvLSTMCell, DeconvBlock
from vad_core.model.layers.conv import ACTIVATIONS, make_activation

TINY = ModelConfig(input_size=35, encoder_channels=(8, 4), lstm_channels=(4, 2, 4), time_steps=4)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def assert_all_params_get_gradients(module: torch.nn.Module, output: torch.Tensor) -> None:
    params = dict(module.named_parameters())
    assert params, "module has no parameters"
    module.zero_grad(set_to_none=True)
    output.square().mean().backward()
    for name, p in params.items():
        assert p.grad is not None, f"no gradient reached {name}"
        assert torch.isfinite(p.grad).all(), f"non-finite gradient in {name}"
        assert p.grad.abs().sum() > 0, f"zero gradient in {name}"


# --- layers ---------------------------------------------------------------------------------------


def test_conv_block_shape_activation_and_gradients():
    block = ConvBlock(1, 8, kernel_size=11, stride=4)
    x = torch.randn(3, 1, 35, 35) * 10
    y = block(x)
    assert y.shape == (3, 8, (35 - 11) // 4 + 1, (35 - 11) // 4 + 1)
    assert y.abs().max() <= 1.0  # tanh
    assert_all_params_get_gradients(block, y)


def test_conv_block_without_activation_is_the_bare_convolution():
    block = ConvBlock(1, 2, kernel_size=3, stride=1, activation=None)
    x = torch.randn(1, 1, 5, 5) * 10
    assert torch.equal(block(x), block.conv(x))
    assert block(x).abs().max() > 1.0


def test_paper_encoder_stage_shape():
    assert ConvBlock(1, 128, 11, 4)(torch.zeros(1, 1, 227, 227)).shape == (1, 128, 55, 55)


def test_deconv_block_inverts_conv_shape_and_gradients():
    block = DeconvBlock(8, 1, kernel_size=11, stride=4, activation=None)
    z = torch.randn(2, 8, 7, 7)
    y = block(z)
    assert y.shape == (2, 1, 35, 35)
    assert_all_params_get_gradients(block, y)


def test_unknown_activation_is_an_error():
    with pytest.raises(ValueError, match="unknown activation"):
        make_activation("swish")
    assert isinstance(make_activation(None), torch.nn.Identity)


def test_convlstm_cell_shapes_and_gradients():
    cell = ConvLSTMCell(3, 5, kernel_size=3)
    x = torch.randn(2, 3, 6, 7)
    h0, c0 = cell.initial_state(x)
    assert h0.shape == c0.shape == (2, 5, 6, 7)
    assert not h0.any() and not c0.any()
    h, c = cell(x, (h0, c0))
    assert h.shape == c.shape == (2, 5, 6, 7)
    assert_all_params_get_gradients(cell, h + c)


def test_convlstm_cell_gate_arithmetic_by_hand():
    # With zero weights and biases every gate is sigmoid(0) = 0.5 and the candidate is tanh(0) = 0,
    # so c' = 0.5 * c and h' = 0.5 * tanh(0.5 * c).
    cell = ConvLSTMCell(1, 2)
    torch.nn.init.zeros_(cell.gates.weight)
    torch.nn.init.zeros_(cell.gates.bias)
    x = torch.randn(1, 1, 4, 4)
    c = torch.randn(1, 2, 4, 4)
    h, c_new = cell(x, (torch.zeros_like(c), c))
    assert torch.allclose(c_new, 0.5 * c)
    assert torch.allclose(h, 0.5 * torch.tanh(0.5 * c))


def test_convlstm_layer_shape_gradients_and_causality():
    layer = ConvLSTM(3, 4)
    x = torch.randn(2, 5, 3, 6, 6, requires_grad=True)
    y = layer(x)
    assert y.shape == (2, 5, 4, 6, 6)
    assert_all_params_get_gradients(layer, y)
    # Changing frame 3 must leave earlier outputs alone and change frame 3 onwards.
    x2 = x.detach().clone()
    x2[:, 3] += 1.0
    y2 = layer(x2)
    assert torch.equal(y[:, :3].detach(), y2[:, :3].detach())
    assert not torch.allclose(y[:, 3:].detach(), y2[:, 3:].detach())


# --- blocks ---------------------------------------------------------------------------------------


def test_spatial_encoder_shape_per_frame_and_gradients():
    enc = SpatialEncoder(TINY)
    x = torch.randn(2, 4, 1, 35, 35)
    z = enc(x)
    assert z.shape == (2, 4, 4, 2, 2)  # 35 -> 7 -> 2
    assert_all_params_get_gradients(enc, z)
    # Frames are encoded independently: touching frame 1 changes only output frame 1.
    x2 = x.clone()
    x2[:, 1] += 1.0
    changed = (enc(x2) - enc(x)).detach().abs().flatten(2).amax(-1)  # (B, T)
    assert (changed[:, 1] > 0).all()
    assert not changed[:, [0, 2, 3]].any()


@pytest.mark.parametrize("temporal", ["convlstm", "none"])
def test_temporal_block_shapes(temporal):
    cfg = ModelConfig(**(TINY.to_dict() | {"temporal": temporal}))
    block = TemporalBlock(cfg)
    z = torch.randn(2, 4, 4, 2, 2)
    y, mid = block(z, return_bottleneck=True)
    assert block(z).shape == y.shape == z.shape
    if temporal == "none":
        assert len(list(block.parameters())) == 0
        assert torch.equal(y, z) and torch.equal(mid, z)
    else:
        assert len(block.layers) == 3
        assert mid.shape == (2, 4, 2, 2, 2)  # the middle ConvLSTM's 2 channels
        assert_all_params_get_gradients(block, y)


def test_temporal_block_rejects_unknown_kind():
    cfg = ModelConfig(**TINY.to_dict())
    object.__setattr__(cfg, "temporal", "gru")  # the block checks too, for configs built around validation
    with pytest.raises(ValueError, match="temporal"):
        TemporalBlock(cfg)


def test_spatial_decoder_shape_and_gradients():
    dec = SpatialDecoder(TINY)
    y = dec(torch.randn(2, 4, 4, 2, 2))
    assert y.shape == (2, 4, 1, 35, 35)
    assert isinstance(dec.layers[-1].act, torch.nn.Identity)  # linear output layer
    assert_all_params_get_gradients(dec, y)


# --- model ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("temporal", ["convlstm", "none"])
def test_tiny_autoencoder_round_shape_and_gradients(temporal):
    model = SpatioTemporalAE(ModelConfig(**(TINY.to_dict() | {"temporal": temporal})))
    x = torch.randn(3, 4, 1, 35, 35)
    y = model(x)
    assert y.shape == x.shape
    assert_all_params_get_gradients(model, y - x)
    recon, mid = model.forward_with_bottleneck(x)
    assert torch.allclose(recon, y)
    assert mid.shape == ((3, 4, 2, 2, 2) if temporal == "convlstm" else (3, 4, 4, 2, 2))


def test_paper_model_shape_at_227():
    model = SpatioTemporalAE()
    assert model.cfg == ModelConfig() and model.cfg.input_size == 227 and model.cfg.time_steps == 10
    x = torch.rand(2, 10, 1, 227, 227)
    shapes = []
    model.encoder.register_forward_hook(lambda module, args, out: shapes.append(tuple(out.shape)))
    with torch.inference_mode():
        y = model(x)
    assert y.shape == x.shape
    assert shapes == [(2, 10, 64, 26, 26)]  # 227 -> 55 -> 26


def test_paper_model_parameter_count():
    # Hand count: conv weights + biases, ConvLSTM gates conv over [input, hidden] with 4*hidden outputs.
    conv = lambda cin, cout, k: cin * cout * k * k + cout  # noqa: E731
    expected = (
        conv(1, 128, 11)
        + conv(128, 64, 5)
        + conv(64 + 64, 4 * 64, 3)
        + conv(64 + 32, 4 * 32, 3)
        + conv(32 + 64, 4 * 64, 3)
        + (64 * 128 * 25 + 128)  # deconv 5x5: weight (in, out, k, k)
        + (128 * 1 * 121 + 1)
    )
    n = sum(p.numel() for p in SpatioTemporalAE().parameters())
    assert n == expected
    assert 1.06e6 < n < 1.08e6  # "about 1.07 M parameters"
    assert 4.2e6 < 4 * n < 4.4e6  # "a 4.3 MB state dict" in fp32


# --- config ---------------------------------------------------------------------------------------


def test_valid_input_sizes_are_exactly_8n_plus_19():
    for size in range(1, 260):
        expected = size >= 27 and (size - 19) % 8 == 0
        try:
            ModelConfig(input_size=size)
            ok = True
        except ValueError as err:
            assert "8n+19" in str(err)
            ok = False
        assert ok == expected, size


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"input_size": 128}, "8n\\+19"),
        ({"input_size": 11}, "8n\\+19"),
        ({"time_steps": 1}, "time_steps"),
        ({"kernel_sizes": (11,)}, "kernel_sizes"),
        ({"temporal": "gru"}, "temporal"),
        ({"activation": "swish"}, "activation"),
        ({"encoder_channels": (128, 64, 32)}, "encoder_channels"),
        ({"lstm_channels": (64, 32, 16)}, "lstm_channels"),
        ({"lstm_channels": ()}, "lstm_channels"),
    ],
)
def test_invalid_config_is_rejected(changes, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**changes)


def test_config_dict_round_trip_and_unknown_keys():
    cfg = ModelConfig(input_size=131, temporal="none", lstm_channels=(64, 64))
    data = cfg.to_dict()
    data = {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}  # as JSON gives it back
    assert ModelConfig.from_dict(data) == cfg
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict(data | {"dropout": 0.1})


def test_the_config_is_read_without_torch_and_names_the_activations_the_layers_build():
    code = "import sys; from vad_core.model import ModelConfig; ModelConfig(131); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
    assert set(ACTIVATION_NAMES) == set(ACTIVATIONS)
    assert [ModelConfig.nearest_valid_size(t) for t in (0, 30, 86.2, 131, 132)] == [27, 27, 83, 131, 131]
    assert all(ModelConfig(input_size=ModelConfig.nearest_valid_size(t)) for t in range(400))
