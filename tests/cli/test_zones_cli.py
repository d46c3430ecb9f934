"""--zones on the command line: a bad file is exit 2 and one line; analyze and watch mask with the file, a model
carries its own STEM.zones.json, and --zones overrides it."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers.paths import ZONES
from vad_core.model.checkpoint import save_zones
from vad_core.scoring.zones import read_zones

CART_PATH = ZONES / "test004_cart_path.json"
WALKWAY = ZONES / "test004_walkway.json"


@pytest.fixture(scope="module")
def clip(samples):
    return str(samples / "test" / "Test004.mp4")


def _segments(out) -> dict:
    return json.loads((out / "segments.json").read_text())


@pytest.mark.parametrize("command", ["analyze", "watch", "batch"])
def test_a_bad_zones_file_is_exit_2_and_one_line(cli, clip, tmp_path, command):
    bad = tmp_path / "bad.json"
    bad.write_text('{"ignore": [[[0, 0], [1, 1]]]}')
    done = cli(command, clip, "--zones", str(bad), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --zones ") and "3 to 256" in lines[0], done.stderr


def test_analyze_with_zones_masks_and_says_so(cli, clip, tmp_path, bundled):
    # the bundled autoencoder, whose only segment on Test004 is the cart (the fused default keeps one at frames
    # 132-164 with the cart masked; not explained yet)
    done = cli(
        "analyze",
        clip,
        "--checkpoint",
        str(bundled),
        "--zones",
        str(CART_PATH),
        "--out",
        str(tmp_path / "cart"),
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["segments"] == []
    assert _segments(tmp_path / "cart")["zones"] == read_zones(CART_PATH).to_dict()


def test_a_model_carries_its_zones_and_zones_overrides_them(cli, clip, tmp_path, bundled):
    stem = tmp_path / "cam"
    for suffix in (".safetensors", ".json"):
        shutil.copy(bundled.with_suffix(suffix), stem.with_suffix(suffix))
    save_zones(stem, read_zones(CART_PATH))
    own = cli("analyze", clip, "--checkpoint", str(stem), "--out", str(tmp_path / "own"), "--json")
    assert own.returncode == 0, own.stderr
    assert json.loads(own.stdout)["segments"] == []
    walkway = cli("analyze", clip, "--checkpoint", str(stem), "--zones", str(WALKWAY), "--out", str(tmp_path / "w"))
    assert walkway.returncode == 0, walkway.stderr
    assert [s["zone"] for s in _segments(tmp_path / "w")["segments"]] == ["only 1"]


def test_watch_masks_with_zones(cli, clip, tmp_path, bundled):
    done = cli(
        "watch",
        clip,
        "--checkpoint",
        str(bundled),
        "--zones",
        str(CART_PATH),
        "--json-lines",
        "--out",
        str(tmp_path / "live"),
    )
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stdout.splitlines() if '"open"' in line]
    assert _segments(tmp_path / "live")["segments"] == []


def test_a_batch_worker_gets_the_zones_with_the_checkpoint(clip, bundled, monkeypatch):
    import torch

    from vad_core.batch.run import model_hash
    from vad_core.batch.worker import ScoringWorker, checkpoint_files

    monkeypatch.setenv("VAD_CPU_THREADS", "1")
    threads = torch.get_num_threads()
    files = checkpoint_files(bundled, read_zones(CART_PATH))
    assert model_hash(files) != model_hash(checkpoint_files(bundled))  # a rerun with new zones is not skipped
    assert "zones" not in checkpoint_files(bundled)  # none: the hash and files of a model without zones
    try:
        worker = ScoringWorker(device="cpu", threads=1)
        worker.load(files)
        result = worker.score("Test004.mp4", clip)
    finally:
        torch.set_num_threads(threads)
    assert result["ok"], result
    assert json.loads(result["files"]["segments.json"])["segments"] == []
