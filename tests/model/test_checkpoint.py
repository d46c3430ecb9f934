"""Checkpoints: safetensors plus a JSON card round trip; pickles and broken files are refused as BadInput."""

from __future__ import annotations

import json
import pickle
import shutil
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from vad_core.errors import BadInput
from vad_core.model.autoencoder import SpatioTemporalAE
from vad_core.model.card import ModelCard, read_card
from vad_core.model.checkpoint import MEAN_FRAME_KEY, checkpoint_paths, load_checkpoint, save_checkpoint
from vad_core.model.config import ModelConfig
from vad_core.model.preprocess import Normalizer

TINY = ModelConfig(input_size=35, encoder_channels=(8, 4), lstm_channels=(4, 2, 4), time_steps=4)
CARD = {
    "name": "tiny",
    "scoring": {"kind": "appearance", "reduce": "sum", "patch": 8, "smooth_sigma": 1.0},
    "calibration": {"tau": 2.0, "pixel_tau": 0.5, "quantile": 0.99, "frames": 40},
}
TINY_CARD = ModelCard.from_dict(json.loads(json.dumps(CARD | {"model": TINY.to_dict()})))  # as a file holds it


@pytest.fixture
def saved(tmp_path) -> tuple[Path, SpatioTemporalAE, Normalizer]:
    torch.manual_seed(0)
    net = SpatioTemporalAE(TINY).eval()
    mean = np.random.default_rng(0).random((35, 35), dtype=np.float32)
    normalizer = Normalizer(mean, 0.2)
    stem = tmp_path / "tiny"
    assert save_checkpoint(stem, net, normalizer, TINY_CARD) == tmp_path / "tiny.safetensors"
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


# --- Hardening: a model never overwrites another; a card is checked before any tensor is allocated.


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_a_model_named_like_another_models_card_cannot_overwrite_it(saved, tmp_path):
    _, net, normalizer = saved
    victim = tmp_path / "victim"
    save_checkpoint(victim, net, normalizer, TINY_CARD)
    before = _files(tmp_path)
    for name in ("victim.json", "victim.safetensors", "victim.JSON", "tiny.resume", "evil.pt", "x.ckpt"):
        with pytest.raises(BadInput, match="would be read back as another file"):
            save_checkpoint(tmp_path / name, net, normalizer, TINY_CARD)
    assert _files(tmp_path) == before
    assert load_checkpoint(victim).card.name == "tiny"


@pytest.mark.parametrize("existing", ["tiny.safetensors", "tiny.json", "both"])
def test_saving_over_an_existing_model_is_refused_and_changes_nothing(saved, tmp_path, existing):
    stem, net, normalizer = saved
    if existing != "both":  # only one half of the pair is there: still never replaced, the other never created
        other = ({"tiny.safetensors", "tiny.json"} - {existing}).pop()
        (tmp_path / other).unlink()
    before = _files(tmp_path)
    with pytest.raises(BadInput, match=r"exists already in .*never overwritten"):
        save_checkpoint(stem, net, normalizer, replace(TINY_CARD, name="other"))
    assert _files(tmp_path) == before


def test_a_symlink_in_the_way_is_refused_and_its_target_untouched(saved, tmp_path):
    _, net, normalizer = saved
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    (tmp_path / "linked.json").symlink_to(target)
    with pytest.raises(BadInput, match="exists already"):
        save_checkpoint(tmp_path / "linked", net, normalizer, TINY_CARD)
    assert target.read_text() == "keep me" and not (tmp_path / "linked.safetensors").exists()


def test_files_are_created_exclusively_so_a_file_appearing_meanwhile_is_never_replaced(tmp_path):
    from vad_core.model.checkpoint import _create

    path = tmp_path / "raced.json"
    path.write_text("the other writer's card")
    with pytest.raises(BadInput, match=r"appeared .* while saving"):
        _create(path, b"mine")
    assert path.read_text() == "the other writer's card"
    dangling = tmp_path / "dangling.json"
    dangling.symlink_to(tmp_path / "nowhere")
    with pytest.raises(BadInput, match="appeared"):
        _create(dangling, b"mine")  # O_EXCL does not follow the link
    assert not (tmp_path / "nowhere").exists()


def test_training_state_of_one_model_cannot_land_on_a_model_named_stem_resume(saved, tmp_path):
    _, net, normalizer = saved
    (tmp_path / "cam.resume.safetensors").write_bytes(b"an older model's weights")
    (tmp_path / "cam.resume.json").write_text("{}")
    with pytest.raises(BadInput, match=r"a model named cam\.resume exists .* over that model's weights"):
        save_checkpoint(tmp_path / "cam", net, normalizer, TINY_CARD)


def test_a_checkpoint_under_a_file_is_bad_input(saved, tmp_path):
    _, net, normalizer = saved
    (tmp_path / "plain").write_text("a file")
    with pytest.raises(BadInput, match="is a file, not a folder"):
        save_checkpoint(tmp_path / "plain" / "sub" / "m", net, normalizer, TINY_CARD)


def test_rewriting_a_card_is_explicit_and_whole(saved, tmp_path):
    from vad_core.model.checkpoint import record_evaluation, rewrite_card

    stem = saved[0]
    card = read_card(stem.with_suffix(".json"))
    rewrite_card(stem, replace(card, extra={"note": "refitted"}))
    assert load_checkpoint(stem).card.extra["note"] == "refitted"
    record_evaluation(stem, {"auc_micro": 0.5}, data=tmp_path / "ds")
    assert json.loads(stem.with_suffix(".json").read_text())["evaluation"] == {"ds": {"auc_micro": 0.5}}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.json", "tiny.safetensors"]  # no temporary left
    with pytest.raises(BadInput, match="no saved model"):
        rewrite_card(tmp_path / "absent", card)


def _with_card(stem: Path, change: dict | None = None, raw: bytes | None = None) -> None:
    path = stem.with_suffix(".json")
    if raw is None:
        raw = json.dumps(json.loads(path.read_text()) | (change or {})).encode()
    path.write_bytes(raw)


HUGE = 10**7  # channels this wide would need terabytes: the loader must refuse before building anything


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"model": TINY.to_dict() | {"input_size": 10**9}}, r"model\.input_size is 1000000000; .* 19 to 1024"),
        ({"model": TINY.to_dict() | {"input_size": 36}}, "does not invert exactly"),  # not 8n+19
        ({"model": TINY.to_dict() | {"input_size": True}}, r"model\.input_size is True"),
        ({"model": TINY.to_dict() | {"input_size": "35"}}, r"model\.input_size is '35'"),
        ({"model": TINY.to_dict() | {"encoder_channels": [HUGE, 4]}}, r"model\.encoder_channels is \[10000000, 4\]"),
        ({"model": TINY.to_dict() | {"lstm_channels": [4, HUGE, 4]}}, r"model\.lstm_channels"),
        ({"model": TINY.to_dict() | {"encoder_channels": [8, 0]}}, r"model\.encoder_channels"),
        ({"model": TINY.to_dict() | {"kernel_sizes": [11.0, 5]}}, r"model\.kernel_sizes"),
        ({"model": TINY.to_dict() | {"strides": [0, 2]}}, r"model\.strides"),
        ({"model": TINY.to_dict() | {"strides": "42"}}, r"model\.strides must be a list"),
        ({"model": TINY.to_dict() | {"time_steps": 0}}, r"model\.time_steps is 0"),
        ({"model": TINY.to_dict() | {"time_steps": 10**6}}, r"model\.time_steps"),
        ({"model": TINY.to_dict() | {"lstm_kernel": 2}}, r"model\.lstm_kernel is 2; .* odd"),
        ({"model": TINY.to_dict() | {"activation": 7}}, r"model\.activation must be a string"),
        ({"model": {k: v for k, v in TINY.to_dict().items() if k != "input_size"}}, r"model\.input_size is missing"),
        ({"model": [35, 4]}, "model must be an object"),
        ({"calibration": CARD["calibration"] | {"tau": 0}}, r"calibration\.tau is 0; it must be above 0"),
        ({"calibration": CARD["calibration"] | {"tau": -1.5}}, r"calibration\.tau is -1\.5"),
        ({"calibration": CARD["calibration"] | {"tau": float("nan")}}, r"calibration\.tau must be a finite number"),
        ({"calibration": CARD["calibration"] | {"tau": float("inf")}}, r"calibration\.tau must be a finite number"),
        ({"calibration": CARD["calibration"] | {"tau": "2.0"}}, r"calibration\.tau must be a finite number"),
        ({"calibration": {k: v for k, v in CARD["calibration"].items() if k != "tau"}}, r"calibration\.tau is missing"),
        ({"calibration": CARD["calibration"] | {"pixel_tau": 0.0}}, r"calibration\.pixel_tau"),
        ({"calibration": CARD["calibration"] | {"quantile": 1.5}}, r"calibration\.quantile"),
        ({"calibration": CARD["calibration"] | {"frames": -1}}, r"calibration\.frames"),
        ({"calibration": CARD["calibration"] | {"quantiles": {"0.5": None}}}, r"calibration\.quantiles\.0\.5"),
        ({"calibration": [2.0]}, "calibration must be an object"),
        ({"scoring": CARD["scoring"] | {"patch": 0}}, r"scoring\.patch is 0"),
        ({"scoring": CARD["scoring"] | {"patch": 2.5}}, r"scoring\.patch is 2\.5"),
        ({"scoring": CARD["scoring"] | {"patch": 36}}, r"scoring\.patch is 36; .* input size 35"),
        ({"scoring": CARD["scoring"] | {"smooth_sigma": -1}}, r"scoring\.smooth_sigma"),
        ({"scoring": CARD["scoring"] | {"per_place": "yes"}}, r"scoring\.per_place"),
        ({"scoring": "motion"}, "scoring must be an object"),
        ({"latent_projection": {"mean": {"shape": [-1], "float32_base64": ""}}}, r"latent_projection\.mean\.shape"),
    ],
)
def test_a_bad_card_is_refused_naming_the_file_and_field(saved, change, match):
    stem = saved[0]
    _with_card(stem, change)
    started = time.monotonic()
    with pytest.raises(BadInput, match=match) as err:
        load_checkpoint(stem)
    message = str(err.value)
    assert message.startswith("model card tiny.json is invalid: ") and "\n" not in message
    assert time.monotonic() - started < 5  # nothing of the absurd sizes was built


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"[]", "lacks the 'model' or 'calibration'"),
        (b'"a card"', "lacks the 'model' or 'calibration'"),
        (b"3", "lacks the 'model' or 'calibration'"),
        (b"null", "lacks the 'model' or 'calibration'"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"model": ' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
        (b'{"model": 1' + b"0" * 5000 + b"}", "not valid JSON"),  # an integer Python will not convert
    ],
)
def test_a_card_that_is_not_a_json_object_is_refused(saved, raw, match):
    stem = saved[0]
    _with_card(stem, raw=raw)
    with pytest.raises(BadInput, match=match):
        load_checkpoint(stem)


def test_an_oversized_card_is_refused_unread(saved):
    card = saved[0].with_suffix(".json")
    with card.open("r+b") as f:
        f.truncate(65 * 2**20)  # sparse: costs no disk
    with pytest.raises(BadInput, match="a card is under 2 MB"):
        load_checkpoint(saved[0])


def test_the_weights_header_is_compared_with_the_card_before_loading(saved):
    stem = saved[0]
    weights = stem.with_suffix(".safetensors")
    tensors = load_file(str(weights))
    tensors["decoder.layers.1.deconv.bias"] = torch.zeros(2)  # the card's architecture implies (1,)
    save_file(tensors, str(weights))
    with pytest.raises(BadInput, match=r"size mismatch for decoder\.layers\.1\.deconv\.bias: \(2,\) in the file, "):
        load_checkpoint(stem)
    tensors["decoder.layers.1.deconv.bias"] = torch.zeros(1, dtype=torch.int32)
    save_file(tensors, str(weights))
    with pytest.raises(BadInput, match="holds I32; weights are floating point"):
        load_checkpoint(stem)


def test_a_header_claiming_more_data_than_the_file_holds_is_refused(saved):
    weights = saved[0].with_suffix(".safetensors")
    header = json.dumps(
        {"encoder.layers.0.conv.weight": {"dtype": "F32", "shape": [10**9], "data_offsets": [0, 4 * 10**9]}}
    )
    weights.write_bytes(len(header).to_bytes(8, "little") + header.encode() + b"\0" * 64)
    with pytest.raises(BadInput, match="not a valid safetensors file"):
        load_checkpoint(saved[0])


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"shape": [-1], "float32_base64": ""}, "shape must be a list"),
        ({"shape": [True], "float32_base64": "AACAPw=="}, "shape must be a list"),
        ({"shape": [2], "float32_base64": "AACAPw=="}, "holds 1 values, which do not fill its shape"),
        ({"shape": [1], "float32_base64": 5}, "must be a string"),
        ({"shape": [1], "float32_base64": "not base64!"}, "not valid base64"),
        ({"shape": [1] * 9, "float32_base64": "AACAPw=="}, "at most 8"),
    ],
)
def test_card_arrays_are_exactly_as_large_as_their_data(doc, match):
    from vad_core.io.card_arrays import decode_array, encode_array

    with pytest.raises(ValueError, match=match):
        decode_array(doc, "x")
    assert decode_array(encode_array(np.eye(2)), "x").tolist() == [[1, 0], [0, 1]]
