"""Checkpoints: safetensors plus a JSON card round trip; pickles and broken files are refused as BadInput."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from vad_core.checkpoint import MEAN_FRAME_KEY, checkpoint_paths, load_checkpoint, save_checkpoint
from vad_core.errors import BadInput
from vad_core.model import ModelConfig, SpatioTemporalAE
from vad_core.preprocess import Normalizer

TINY = ModelConfig(input_size=35, encoder_channels=(8, 4), lstm_channels=(4, 2, 4), time_steps=4)
CARD = {
    "name": "tiny",
    "scoring": {"kind": "appearance", "reduce": "sum", "patch": 8, "smooth_sigma": 1.0},
    "calibration": {"tau": 2.0, "pixel_tau": 0.5, "quantile": 0.99, "frames": 40},
}


@pytest.fixture
def saved(tmp_path) -> tuple[Path, SpatioTemporalAE, Normalizer]:
    torch.manual_seed(0)
    net = SpatioTemporalAE(TINY).eval()
    mean = np.random.default_rng(0).random((35, 35), dtype=np.float32)
    normalizer = Normalizer(mean, 0.2)
    stem = tmp_path / "tiny"
    assert save_checkpoint(stem, net, normalizer, CARD) == tmp_path / "tiny.safetensors"
    return stem, net, normalizer


def test_round_trip_reproduces_outputs_and_card(saved):
    stem, net, normalizer = saved
    loaded = load_checkpoint(stem, device="cpu")
    assert loaded.cfg == TINY and loaded.name == "tiny" and loaded.device.type == "cpu"
    assert not loaded.net.training
    assert np.array_equal(loaded.normalizer.mean_frame, normalizer.mean_frame)
    assert loaded.normalizer.std == pytest.approx(0.2)
    assert loaded.scoring.kind == "appearance" and loaded.scoring.smooth_sigma == 1.0
    assert (loaded.calibration.tau, loaded.calibration.pixel_tau) == (2.0, 0.5)
    x = torch.randn(2, 4, 1, 35, 35)
    with torch.inference_mode():
        assert torch.equal(loaded.net(x), net(x))
    card = json.loads(stem.with_suffix(".json").read_text())
    assert card["model"]["input_size"] == 35 and card["preprocess"]["std"] == pytest.approx(0.2)


@pytest.mark.parametrize("suffix", ["", ".safetensors", ".json"])
def test_stem_may_be_given_with_either_suffix(saved, suffix):
    stem, _, _ = saved
    assert load_checkpoint(str(stem) + suffix).cfg == TINY
    assert checkpoint_paths(str(stem) + suffix) == (stem.with_suffix(".safetensors"), stem.with_suffix(".json"))


class _Payload:
    """Unpickling this would create the marker file: proof that a loader ran pickle."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _write_pickle(path: Path, marker: Path) -> None:
    path.write_bytes(pickle.dumps({"encoder.layers.0.conv.weight": _Payload(marker)}))
    # Sanity check of the trap itself, in a throwaway copy.
    probe_marker = marker.with_name("probe_marker")
    pickle.loads(pickle.dumps(_Payload(probe_marker)))
    assert probe_marker.exists()
    probe_marker.unlink()


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".ckpt", ".pkl"])
def test_pickle_checkpoint_is_refused_and_never_unpickled(tmp_path, saved, suffix):
    marker = tmp_path / "unpickled_marker"
    path = tmp_path / f"evil{suffix}"
    _write_pickle(path, marker)
    shutil.copy(saved[0].with_suffix(".json"), tmp_path / "evil.json")
    with pytest.raises(BadInput, match="pickle"):
        load_checkpoint(path)
    assert not marker.exists()


def test_pickle_renamed_to_safetensors_is_refused_and_never_unpickled(tmp_path, saved):
    marker = tmp_path / "unpickled_marker"
    _write_pickle(tmp_path / "evil.safetensors", marker)
    shutil.copy(saved[0].with_suffix(".json"), tmp_path / "evil.json")
    with pytest.raises(BadInput, match="not a valid safetensors file"):
        load_checkpoint(tmp_path / "evil")
    assert not marker.exists()
    torch.save({"w": torch.zeros(2)}, tmp_path / "evil.safetensors")  # torch's own (zip+pickle) format
    with pytest.raises(BadInput, match="not a valid safetensors file"):
        load_checkpoint(tmp_path / "evil")


def test_weights_without_card(saved, tmp_path):
    other = tmp_path / "lonely.safetensors"
    shutil.copy(saved[0].with_suffix(".safetensors"), other)
    with pytest.raises(BadInput, match=r"model card lonely\.json is missing"):
        load_checkpoint(other)


def test_missing_weights(tmp_path):
    with pytest.raises(BadInput, match="not found"):
        load_checkpoint(tmp_path / "nothing")


@pytest.mark.parametrize(
    ("card_bytes", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"model": "\xff"}', "not valid JSON"),  # not UTF-8
        (b"", "not valid JSON"),
        (b"[1, 2]", "lacks the 'model' or 'calibration'"),
        (b'{"model": {}}', "lacks the 'model' or 'calibration'"),
    ],
)
def test_corrupt_card(saved, card_bytes, match):
    stem = saved[0]
    stem.with_suffix(".json").write_bytes(card_bytes)
    with pytest.raises(BadInput, match=match):
        load_checkpoint(stem)


@pytest.mark.parametrize(
    "change",
    [
        {"model": TINY.to_dict() | {"input_size": 100}},
        {"model": TINY.to_dict() | {"temporal": "gru"}},
        {"model": TINY.to_dict() | {"dropout": 0.5}},
        {"calibration": {"tau": 1.0}},
        {"scoring": {"kind": "colour"}},
    ],
)
def test_invalid_card_sections(saved, change):
    stem = saved[0]
    card = json.loads(stem.with_suffix(".json").read_text()) | change
    stem.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(BadInput, match="is invalid"):
        load_checkpoint(stem)


@pytest.mark.parametrize("preprocess", [None, {}, {"std": "wide"}, {"std": 0.0}])
def test_card_without_a_usable_std_for_its_mean_frame(saved, preprocess):
    stem = saved[0]
    card = json.loads(stem.with_suffix(".json").read_text())
    card.pop("preprocess")
    if preprocess is not None:
        card["preprocess"] = preprocess
    stem.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(BadInput, match="std"):
        load_checkpoint(stem)


def test_wrong_shapes_are_refused_with_a_clear_message(saved):
    stem = saved[0]
    card = json.loads(stem.with_suffix(".json").read_text())
    card["model"] = TINY.to_dict() | {"encoder_channels": [16, 4]}  # the weights hold 8 channels
    stem.with_suffix(".json").write_text(json.dumps(card))
    with pytest.raises(BadInput, match="does not match the architecture") as err:
        load_checkpoint(stem)
    assert "\n" not in str(err.value) and "size mismatch" in str(err.value)


def test_missing_and_extra_tensors_are_refused(saved):
    stem = saved[0]
    weights = stem.with_suffix(".safetensors")
    tensors = load_file(str(weights))
    save_file({k: v for k, v in tensors.items() if "decoder" not in k}, str(weights))
    with pytest.raises(BadInput, match="does not match"):
        load_checkpoint(stem)
    save_file(tensors | {"extra.weight": torch.zeros(1)}, str(weights))
    with pytest.raises(BadInput, match="does not match"):
        load_checkpoint(stem)


def test_wrong_mean_frame_shape(saved):
    stem = saved[0]
    weights = stem.with_suffix(".safetensors")
    tensors = load_file(str(weights))
    tensors[MEAN_FRAME_KEY] = torch.zeros(10, 10)
    save_file(tensors, str(weights))
    with pytest.raises(BadInput, match="mean frame"):
        load_checkpoint(stem)


def test_truncated_weights(saved):
    weights = saved[0].with_suffix(".safetensors")
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(BadInput, match="not a valid safetensors file"):
        load_checkpoint(saved[0])
