"""The clip cache (app.state.ClipStore): a byte budget over analyses and player media, and pins of shown clips."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from app.components.player import SERVE_DIR
from app.state import Clip, ClipStore

MB = 1 << 20


@dataclass
class FakeAnalysis:  # the store counts every array of an Analysis dataclass, nested in dicts too
    maps: dict
    inputs: np.ndarray
    recons: np.ndarray
    latent: np.ndarray | None
    fps: float = 10.0


def make_clip(key: str, mb: float = 1.0, media: bytes = b"{}") -> Clip:
    """A clip of about mb megabytes of arrays (half maps, half frames) with a media file of its own."""
    half = int(mb * MB / 2)
    analysis = FakeAnalysis(
        maps={"motion": np.zeros(half // 2, np.uint8), "appearance": np.zeros(half // 2, np.uint8)},
        inputs=np.zeros(0, np.uint8),
        recons=np.zeros(0, np.uint8),
        latent=None,
    )
    (SERVE_DIR / "media" / f"{key}.json").write_bytes(media)
    return Clip(key, f"{key}.mp4", key, analysis, np.zeros(half, np.uint8), f"media/{key}.json", None)


def media_of(key: str):
    return SERVE_DIR / "media" / f"{key}.json"


@pytest.fixture
def alive():
    sessions: dict[str, bool | None] = {}
    return sessions


def store_of(budget_mb: float, alive: dict) -> ClipStore:
    return ClipStore(int(budget_mb * MB), pin_grace_s=60, alive=lambda session: alive.get(session))


def test_a_clip_counts_its_arrays_preview_frames_and_media_file():
    clip = make_clip("c0ffee01", 1.0, media=b"x" * 1000)
    clip.analysis.inputs = np.zeros((10, 8, 8), np.uint8)
    clip.analysis.latent = np.zeros((10, 16), np.float16)
    assert ClipStore.clip_bytes(clip) == MB + 640 + 320 + 1000


def test_the_least_recently_used_clips_go_once_past_the_budget(alive):
    store = store_of(2.5, alive)
    for key in ("a1", "b2", "c3"):
        store.put(make_clip(key))
    assert store.get("a1") is None and not media_of("a1").exists()  # 3 MB > 2.5 MB: the oldest went, and its media
    assert store.get("b2") is not None and store.get("c3") is not None
    store.get("b2")  # used: c3 is now the least recent
    store.put(make_clip("d4"))
    assert store.get("c3") is None and store.get("b2") is not None and store.get("d4") is not None
    assert store.size_bytes() == 2 * (MB + 2)


def test_a_new_clip_bigger_than_the_budget_is_kept_until_the_next_one():
    store = ClipStore(MB)
    store.put(make_clip("b16", 3.0))
    assert store.get("b16") is not None  # the clip a session is about to show is never evicted on arrival
    store.put(make_clip("a11"))
    assert store.get("b16") is None and store.get("a11") is not None


def test_a_clip_that_a_live_session_shows_is_never_evicted(alive):
    store = store_of(2.5, alive)
    store.put(make_clip("a1"))
    alive["s1"] = True
    store.pin("s1", "a1")
    for key in ("b2", "c3", "d4"):
        store.put(make_clip(key))
    assert store.get("a1") is not None and media_of("a1").exists()  # pinned: others went instead
    assert store.pinned() == {"a1"}
    assert store.get("b2") is None
    store.pin("s1", "d4")  # the session opened another clip: a1 is free to go
    store.put(make_clip("e5"))
    assert store.get("a1") is None and store.get("d4") is not None


def test_pins_of_sessions_that_are_gone_are_dropped(alive):
    store = store_of(1.5, alive)
    alive.update(gone=True, unknown=None)
    store.put(make_clip("a1"))
    store.pin("gone", "a1")
    store.put(make_clip("b2"))
    store.pin("unknown", "b2")
    assert store.pinned() == {"a1", "b2"}
    alive["gone"] = False  # the browser disconnected
    assert store.pinned() == {"b2"}  # a session nobody can tell about keeps its pin for the grace period
    store.put(make_clip("c3"))
    assert store.get("a1") is None and store.get("b2") is not None


def test_a_pinned_clip_is_dropped_from_the_accounting_only_when_unpinned(alive):
    store = store_of(1.5, alive)
    alive["s1"] = True
    store.put(make_clip("a1"))
    store.pin("s1", "a1")
    store.put(make_clip("b2"))
    store.put(make_clip("c3"))
    assert media_of("a1").exists() and store.size_bytes() == 2 * (MB + 2)  # over budget while pinned
    assert store.get("b2") is None
    store.unpin("s1")  # a1 is now the least recently used
    assert store.get("a1") is None and store.size_bytes() == MB + 2


def test_a_clip_whose_media_vanished_is_analyzed_again_and_recipes_find_stored_clips(alive):
    store = store_of(10, alive)
    recipe = ("digest", "a1.mp4", "model", None)
    store.put(make_clip("a1"))
    store.remember(recipe, "a1")
    alive["s1"] = True
    assert store.known(recipe, "s1").key == "a1" and store.pinned() == {"a1"}  # found, and pinned at once
    assert store.known(("other",)) is None
    media_of("a1").unlink()  # a restarted server, a cleanup: the player could not load it
    assert store.known(recipe) is None and store.get("a1") is None
