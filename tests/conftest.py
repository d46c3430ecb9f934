"""Shared fixtures: paths to the bundled samples, a tiny model trained once per session, the full dataset.

def test_x(samples, tiny_model): ...          # tiny_model: a LoadedModel trained on the samples
def test_y(ped2): ...                         # the full UCSD Ped2 folder; skips (fails under CI=true) if absent
def test_z(corpus): ...                       # broken, hostile and unusual inputs (helpers/corpus.py), generated once
def test_m(motion_stem): ...                  # a motion detector fitted once on tiny synthetic clips (seconds)
def test_f(fused_stem): ...                   # a fused detector: the bundled autoencoder and a motion part fitted on
                                              # the two Ped2 sample clips, its rule chosen on their tails (seconds)
def test_e(store_url): ...                    # an empty event store: SQLite, then a real PostgreSQL server

No test writes to the user's data folder: VAD_EVENTS_URL points at a session temp folder (private_event_store).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from tests.helpers.cli import TINY_SIZE, run_cli
from tests.helpers.paths import BUNDLED, PED2, SAMPLES, bundled_available

# The suite's models are tiny: intra-op threads cost more than they give, and on a shared 2-core machine
# they spin against each other. One thread per process; the CLI subprocesses run two at a time instead.
torch.set_num_threads(1)


@pytest.fixture(scope="session", autouse=True)
def private_event_store(tmp_path_factory) -> Path:
    """Every producer (watch, batch, the app) that a test runs stores its events in a session temp folder, never
    in the user's data folder; child processes inherit it."""
    folder = tmp_path_factory.mktemp("events")
    saved = {name: os.environ.get(name) for name in ("VAD_EVENTS_URL", "VAD_EVENTS_MEDIA")}
    os.environ["VAD_EVENTS_URL"] = f"sqlite:///{folder / 'events.db'}"
    os.environ["VAD_EVENTS_MEDIA"] = str(folder / "media")
    yield folder
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def postgres():
    """A real PostgreSQL server for the session (tests.helpers.servers); skipped, or failed under CI=true, without
    Debian's postgresql package."""
    from tests.helpers.servers import postgres_server

    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    """An empty event store's URL: an SQLite file, then a fresh database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'events.db'}"
    return request.getfixturevalue("postgres").new_database(f"t_{abs(hash(request.node.nodeid)) % 10**12}")


@pytest.fixture(scope="session")
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def sample_labels() -> dict:
    return json.loads((SAMPLES / "labels.json").read_text())


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> dict:
    """name -> tests.helpers.corpus.Case: the bad-input corpus, written once per session (never committed)."""
    from tests.helpers.corpus import make_corpus

    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="session")
def ped2() -> Path:
    """The full dataset; missing it is a skip locally and a failure under CI=true."""
    if not (PED2 / "labels.json").is_file() or not (PED2 / "test").is_dir():
        message = f"full UCSD Ped2 dataset not found at {PED2}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + " (required when CI=true)")
        pytest.skip(message)
    return PED2


@dataclass
class TrainedTiny:
    stem: Path
    result: object  # vad_core.training.train.TrainResult


@pytest.fixture(scope="session")
def trained_tiny(tmp_path_factory) -> TrainedTiny:
    """One real training run on the two sample training clips at 35 px: one epoch of stride-3 windows."""
    from vad_core.training.train import TrainConfig, train

    stem = tmp_path_factory.mktemp("tiny") / "tiny"
    cfg = TrainConfig(data=str(SAMPLES), out=str(stem), input_size=TINY_SIZE, epochs=1, strides=(3,), bf16=False)
    result = train(cfg, show_progress=False)
    return TrainedTiny(stem, result)


@pytest.fixture(scope="session")
def tiny_model(trained_tiny):
    from vad_core.model.checkpoint import load_checkpoint

    return load_checkpoint(trained_tiny.stem, device="cpu")


@pytest.fixture(scope="session")
def bundled() -> Path:
    """The bundled Ped2 autoencoder (assets/models/ped2); its absence is a failure, not a skip."""
    assert bundled_available(), f"the bundled model {BUNDLED}.safetensors/.json is missing (not trained yet?)"
    return BUNDLED


@pytest.fixture(scope="session")
def analysis_stem(request) -> Path:
    """The bundled Ped2 autoencoder when it has been trained, else the session's tiny model (trained only then)."""
    return BUNDLED if bundled_available() else request.getfixturevalue("trained_tiny").stem


@pytest.fixture(scope="session")
def analysis_model(analysis_stem):
    from vad_core.model.checkpoint import load_checkpoint

    return load_checkpoint(analysis_stem, device="cpu")


@pytest.fixture(scope="session")
def cli():
    return run_cli


@pytest.fixture(scope="session")
def motion_stem(tmp_path_factory) -> Path:
    """The stem of a motion detector fitted once per session on two tiny synthetic normal clips (96 x 64, cells of
    8 px: seconds; persistence 5 frames, as the 40-frame clips' 12-frame event needs); any clip, a Ped2 sample too,
    is resized to its flow size."""
    from tests.helpers.motion_clips import motion_dataset
    from vad_core.training.motion_fit import MotionTrainConfig, train_motion

    root = tmp_path_factory.mktemp("motion-model")
    cfg = MotionTrainConfig(str(motion_dataset(root)), str(root / "motion"), cell=8, persistence=5, val_fraction=0.25)
    train_motion(cfg)
    return root / "motion"


@pytest.fixture(scope="session")
def fused_stem(tmp_path_factory, bundled) -> Path:
    """The stem of a fused detector made once per session (train --kind fused's code): the bundled Ped2
    autoencoder, a motion part fitted on the two sample training clips (Ped2, 120 and 150 frames), the rule chosen
    on their held-out quarters (30 and 38 frames) and anomalies injected into them."""
    from vad_core.training.fused_fit import FusedTrainConfig, train_fused

    root = tmp_path_factory.mktemp("fused-model")
    train_fused(FusedTrainConfig(data=str(SAMPLES), out=str(root / "fused"), checkpoint=str(bundled)))
    return root / "fused"
