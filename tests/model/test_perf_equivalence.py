"""The optimized inference path computes what the fp32 eager reference computes, within the stated tolerance.

Sub-pixel transposed convolutions, the split ConvLSTM, channels-last layouts, worker threads and the
spilling frame stores are all checked against the plain forms. No timings are asserted here.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vad_core.bench.memory import memory_check
from vad_core.bench.speed import TOLERANCE, TOLERANCE_FRAME_ERROR, equivalence, model_flops
from vad_core.io.framestore import FrameStore, iter_chunks
from vad_core.io.video import read_clip
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.checkpoint import LoadedModel
from vad_core.model.config import ModelConfig
from vad_core.model.inference import map_blocks
from vad_core.model.layers.subpixel import conv_transpose2d_into_padded, conv_transpose2d_subpixel, phase_weight
from vad_core.model.layers.winograd import add_conv3x3_winograd_, winograd_ok, winograd_weight
from vad_core.model.preprocess import Normalizer
from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.engine import analyze_frames
from vad_core.scoring.scores import ScoringConfig

TOL = TOLERANCE["cpu"]
TINY = ModelConfig(input_size=35, encoder_channels=(8, 4), lstm_channels=(4, 2, 4), time_steps=4)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _reference_and_fast(net: SpatioTemporalAE, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode():
        ref = net.set_fast_path(False)(x)
        fast = net.set_fast_path(True)(x)
    return ref, fast


# --- the sub-pixel transposed convolution ---------------------------------------------------------


@pytest.mark.parametrize(("kernel", "stride"), [(11, 4), (5, 2), (3, 1), (4, 2), (7, 3), (2, 4), (1, 2)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_subpixel_equals_conv_transpose(kernel, stride, channels_last):
    x = torch.randn(3, 5, 9, 7)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(5, 4, kernel, kernel), torch.randn(4)
    expected = F.conv_transpose2d(x, w, b, stride=stride)
    got = conv_transpose2d_subpixel(x, w, b, stride)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5)


def test_phase_weight_keeps_every_tap_once():
    w = torch.arange(2 * 3 * 11 * 11, dtype=torch.float32).view(2, 3, 11, 11)
    pw, pb, taps = phase_weight(w, torch.zeros(3), 4)
    assert taps == 3 and pw.shape == (3 * 16, 2, 3, 3) and pb.shape == (48,)
    nonzero = pw[pw != 0]
    assert sorted(nonzero.tolist()) == sorted(w[w != 0].tolist())


@pytest.mark.parametrize(("kernel", "stride", "pad"), [(5, 2, 2), (5, 2, 0), (11, 4, 1), (3, 1, 2)])
def test_deconv_into_padded_buffer(kernel, stride, pad):
    x = torch.randn(2, 6, 8, 8).contiguous(memory_format=torch.channels_last)
    w, b = torch.randn(6, 5, kernel, kernel), torch.randn(5)
    expected = F.pad(torch.tanh(F.conv_transpose2d(x, w, b, stride=stride)), (pad,) * 4)
    got = conv_transpose2d_into_padded(x, w, b, stride, pad, torch.tanh_)
    assert torch.allclose(got, expected, atol=1e-5)


def test_subpixel_gradients_match():
    x = torch.randn(2, 4, 6, 6, requires_grad=True)
    w = torch.randn(4, 1, 11, 11, requires_grad=True)
    grads = []
    for fn in (lambda: F.conv_transpose2d(x, w, None, stride=4), lambda: conv_transpose2d_subpixel(x, w, None, 4)):
        x.grad = w.grad = None
        fn().square().sum().backward()
        grads.append((x.grad.clone(), w.grad.clone()))
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-4)


# --- Winograd F(2x2, 3x3) ------------------------------------------------------------------------------


@pytest.mark.parametrize("frames", [1, 2, 5])
def test_winograd_adds_the_direct_convolution(frames):
    x = torch.randn(3, 5, 6, 8).contiguous(memory_format=torch.channels_last)
    weight = torch.randn(7, 5, 3, 3)
    out = torch.randn(3, 7, 6, 8).contiguous(memory_format=torch.channels_last)
    padded = x.new_zeros(3, 8, 10, 5).permute(0, 3, 1, 2)  # NHWC with a zero border of one pixel
    padded[:, :, 1:-1, 1:-1] = x
    expected = out.double() + F.conv2d(x.double(), weight.double(), padding=1)
    add_conv3x3_winograd_(out, padded, winograd_weight(weight), frames=frames)
    assert (out.double() - expected).abs().max() < 1e-5


def test_winograd_applies_only_where_it_computes_the_same():
    weight = torch.randn(8, 4, 3, 3)
    assert winograd_ok(torch.zeros(1, 2, 4, 26, 26), weight, (1, 1))
    assert not winograd_ok(torch.zeros(1, 2, 4, 13, 13), weight, (1, 1))  # odd size
    assert not winograd_ok(torch.zeros(1, 2, 4, 26, 26), torch.randn(8, 4, 5, 5), (2, 2))
    assert not winograd_ok(torch.zeros(1, 2, 4, 26, 26), weight, (0, 0))


# --- whole model: fast path against the reference -------------------------------------------------

CONFIGS = {
    "tiny": TINY,
    "relu": ModelConfig(input_size=35, encoder_channels=(8, 4), lstm_channels=(4, 4), time_steps=3, activation="relu"),
    "sigmoid": ModelConfig(
        input_size=35, encoder_channels=(6, 4), lstm_channels=(4,), time_steps=2, activation="sigmoid"
    ),
    "no_lstm": ModelConfig(input_size=35, encoder_channels=(8, 4), temporal="none", time_steps=2),
    # a 3x3 bottleneck: odd, so the ConvLSTM's recurrence takes the direct convolution, not Winograd
    "odd_bottleneck": ModelConfig(input_size=43, encoder_channels=(8, 4), lstm_channels=(4, 4), time_steps=3),
    "three_layers": ModelConfig(
        input_size=67,
        encoder_channels=(8, 6, 4),
        kernel_sizes=(11, 5, 3),
        strides=(4, 2, 1),
        lstm_channels=(4, 4),
        time_steps=3,
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fast_path_matches_reference_on_variants(name):
    cfg = CONFIGS[name]
    net = SpatioTemporalAE(cfg).eval()
    x = torch.randn(3, cfg.time_steps, 1, cfg.input_size, cfg.input_size)
    ref, fast = _reference_and_fast(net, x)
    assert fast.shape == ref.shape and fast.is_contiguous()
    assert (fast - ref).abs().max() <= TOL


def test_fast_path_at_the_papers_227_px():
    """Random weights at 227 px: one window through both paths, checked as bench checks it."""
    net = SpatioTemporalAE(ModelConfig()).eval()
    x = np.random.default_rng(0).standard_normal((1, 10, 227, 227)).astype(np.float32)
    report = equivalence(net, x)
    assert report["within_tolerance"], report
    assert report["max_abs_diff"] <= TOL and report["max_frame_error_rel_diff"] <= TOLERANCE_FRAME_ERROR["cpu"]


def test_fast_path_with_the_analysis_model(analysis_model, samples):
    """The bundled Ped2 weights when present (else the session's trained tiny model), on real frames."""
    net, norm = analysis_model.net, analysis_model.normalizer
    t, size = net.cfg.time_steps, net.cfg.input_size
    frames = norm.apply(read_clip(samples / "test" / "Test004.mp4", size)[: 2 * t])
    report = equivalence(net, frames.reshape(2, t, size, size))
    assert report["within_tolerance"], report


def test_training_output_layer_gradients_match_the_plain_deconv(monkeypatch):
    """With autograd, the 1-channel output layer runs sub-pixel (faster to train); gradients are the same."""
    from vad_core.model.layers import DeconvBlock
    from vad_core.model.layers import conv as conv_module

    block = DeconvBlock(6, 1, kernel_size=11, stride=4, activation=None)
    x = torch.randn(2, 6, 7, 7)
    grads = []
    for limit in (conv_module.SUBPIXEL_TRAINING_MAX_CHANNELS, 0):
        monkeypatch.setattr(conv_module, "SUBPIXEL_TRAINING_MAX_CHANNELS", limit)
        block.zero_grad(set_to_none=True)
        y = block(x)
        y.square().mean().backward()
        grads.append((y.detach(), block.deconv.weight.grad.clone(), block.deconv.bias.grad.clone()))
    for a, b in zip(*grads, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def test_training_keeps_the_reference_path_and_its_gradients():
    net = SpatioTemporalAE(TINY).train()
    x = torch.randn(2, 4, 1, 35, 35)
    out = net(x)  # autograd on: the plain layers
    out.square().mean().backward()
    assert all(p.grad is not None for p in net.parameters())
    with torch.inference_mode():
        assert torch.allclose(net.eval()(x), out.detach(), atol=TOL)


def test_state_dict_is_the_plain_modules():
    keys = set(SpatioTemporalAE(TINY).state_dict())
    assert "decoder.layers.0.deconv.weight" in keys and "decoder.layers.1.deconv.bias" in keys
    assert "temporal.layers.0.cell.gates.weight" in keys and "encoder.layers.0.conv.weight" in keys


def test_model_flops_of_the_paper_model():
    assert model_flops(ModelConfig()) == pytest.approx(1.588e9, rel=1e-3)  # DESIGN.md: about 1.6 GFLOP a frame


# --- streaming: worker threads and spilled stores -------------------------------------------------


def _loaded(net: SpatioTemporalAE, norm: Normalizer) -> LoadedModel:
    return LoadedModel.uncalibrated(net, norm, ScoringConfig(per_place=False), "tiny")


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_workers_do_not_change_the_reconstructions(workers):
    net = SpatioTemporalAE(TINY).eval()
    frames = np.random.default_rng(1).random((23, 35, 35), dtype=np.float32)
    norm = Normalizer(np.full((35, 35), 0.4, np.float32), 0.3)
    pair = lambda x, r: (x, r)  # noqa: E731
    one = list(map_blocks(net, norm, iter(frames), pair, batch_windows=1, workers=1))
    many = list(map_blocks(net, norm, iter(frames), pair, batch_windows=2, workers=workers))
    x1, r1 = (np.concatenate(a) for a in zip(*one, strict=True))
    x2, r2 = (np.concatenate(a) for a in zip(*many, strict=True))
    assert len(x1) == len(x2) == 23
    assert np.array_equal(x1, x2) and np.allclose(r1, r2, atol=1e-6)


def test_workers_restore_the_thread_setting():
    before = torch.get_num_threads()
    net = SpatioTemporalAE(TINY).eval()
    list(map_blocks(net, Normalizer.identity(35), iter(np.zeros((8, 35, 35), np.float32)), lambda x, r: r, workers=2))
    assert torch.get_num_threads() == before


def test_frame_store_in_memory_and_spilled(tmp_path):
    blocks = [np.random.default_rng(i).random((n, 4, 5)).astype(np.float16) for i, n in enumerate((3, 1, 4))]
    small = FrameStore((4, 5), np.float16, budget_bytes=1 << 20, spill_dir=tmp_path)
    big = FrameStore((4, 5), np.float16, budget_bytes=100, spill_dir=tmp_path)
    for block in blocks:
        small.append(block)
        big.append(block)
    assert not small.spilled and big.spilled and len(big) == 8
    a, b = small.finish(), big.finish()
    assert not isinstance(a, np.memmap) and isinstance(b, np.memmap)
    assert np.array_equal(a, np.concatenate(blocks)) and np.array_equal(b, a)
    assert np.array_equal(np.concatenate(list(iter_chunks(b, 3))), a)
    assert list(tmp_path.iterdir()) == []  # the spill file is unlinked once mapped (POSIX)


def test_frame_store_close_removes_the_spill_file(tmp_path):
    store = FrameStore((2, 2), np.uint8, budget_bytes=1, spill_dir=tmp_path)
    store.append(np.zeros((5, 2, 2), np.uint8))
    assert store.spilled and list(tmp_path.iterdir())
    store.close()
    assert list(tmp_path.iterdir()) == []


def test_spilled_analysis_equals_the_in_memory_one(tmp_path):
    net = SpatioTemporalAE(TINY).eval()
    frames = np.random.default_rng(2).random((30, 35, 35), dtype=np.float32)
    model = _loaded(net, Normalizer(np.full((35, 35), 0.5, np.float32), 0.25))
    in_ram = analyze_frames(iter(frames), model)
    spilled = analyze_frames(iter(frames), model, budget_bytes=2000)
    assert isinstance(spilled.maps["motion"], np.memmap) and isinstance(spilled.inputs, np.memmap)
    assert not isinstance(in_ram.maps["motion"], np.memmap)
    for kind in ("appearance", "motion"):
        assert np.allclose(spilled.maps[kind].astype(np.float32), in_ram.maps[kind].astype(np.float32), atol=1e-6)
    for key, values in in_ram.frame_errors.items():
        assert np.allclose(spilled.frame_errors[key], values, rtol=1e-5)
    assert np.array_equal(spilled.inputs, in_ram.inputs)
    a, b = in_ram.save(tmp_path / "a"), spilled.save(tmp_path / "b")
    with np.load(a / "error_maps.npz") as npz_a, np.load(b / "error_maps.npz") as npz_b:
        assert set(npz_a.files) == set(npz_b.files) == {"scale", "appearance", "motion"}
        for name in npz_a.files:
            assert np.array_equal(npz_a[name], npz_b[name]) or name != "scale"


def test_analysis_matches_the_plain_per_frame_formulas(samples, tiny_model):
    """analyze() with the fast path and workers gives the maps the reference model and formulas give."""
    clip = samples / "test" / "Test004.mp4"
    fast = analyze(clip, tiny_model, workers=2)
    net, norm = tiny_model.net, tiny_model.normalizer
    t, size = net.cfg.time_steps, net.cfg.input_size
    x = norm.apply(read_clip(clip, size)[: 4 * t])
    with torch.inference_mode():
        r = net.set_fast_path(False)(torch.from_numpy(x).view(4, t, 1, size, size)).view(-1, size, size).numpy()
    net.set_fast_path(True)
    expected = np.square(x - r).astype(np.float16)
    got = fast.maps["appearance"][: 4 * t].astype(np.float32)
    assert np.allclose(got, expected.astype(np.float32), rtol=2e-3, atol=1e-4)  # float16 rounding steps
    motion = np.square((x[1:] - x[:-1]) - (r[1:] - r[:-1])).astype(np.float32)
    assert np.allclose(fast.maps["motion"][1 : 4 * t].astype(np.float32), motion, atol=1e-3, rtol=1e-2)


@pytest.mark.slow
def test_memory_stays_bounded_on_a_long_generated_clip(samples):
    """Peak RSS of analyze + save on a 2-minute 640x360 30 fps clip is close to that of a 15-second one."""
    report = memory_check((0.25, 2.0), 131, sorted((samples / "test").glob("*.mp4"))[:3])
    assert report["2min"]["frames"] == 3600 and report["2min"]["spilled"]
    assert report["growth_mb"] < 150, report
