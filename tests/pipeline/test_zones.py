"""Zones through the one engine: masked places have no error, so e(t), segments and boxes leave them out; on
Test004 an ignore zone over the cart's path removes its segment and an only-count zone on the walkway keeps it."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from tests.helpers.live import PacedClip
from tests.helpers.paths import ZONES
from vad_core.events.record import analysis_events
from vad_core.pipeline.analysis import analyze
from vad_core.pipeline.live import LiveRun
from vad_core.scoring.zones import Zones, read_zones

RIGHT_HALF = Zones(ignore=[[(180, 0), (360, 0), (360, 240), (180, 240)]])


@pytest.fixture(scope="module")
def test004(samples):
    return samples / "test" / "Test004.mp4"


@pytest.fixture(scope="module")
def plain(test004, analysis_model):
    return analyze(test004, analysis_model)


def test_a_masked_place_has_no_error_and_the_frame_error_drops(test004, analysis_model, plain):
    zoned = analyze(test004, replace(analysis_model, zones=RIGHT_HALF))
    mask = RIGHT_HALF.place_mask((360, 240), analysis_model.cfg.input_size)
    for kind in ("appearance", "motion"):
        assert (np.asarray(zoned.maps[kind])[:, mask == 0] == 0).all(), kind
        kept = mask == 1
        assert np.array_equal(np.asarray(zoned.maps[kind])[:, kept], np.asarray(plain.maps[kind])[:, kept]), kind
    assert (zoned.error <= plain.error + 1e-6).all() and zoned.error.mean() < 0.9 * plain.error.mean()
    assert zoned.zones == RIGHT_HALF and plain.zones is None


def test_no_zones_and_empty_zones_score_alike(test004, analysis_model, plain):
    empty = analyze(test004, replace(analysis_model, zones=Zones()))
    assert np.array_equal(empty.score, plain.score) and empty.zones is None
    assert "zones" not in plain.segments_document()  # outputs without zones are as before


def test_an_ignore_zone_over_the_carts_path_removes_its_segment(test004, analysis_model, plain, bundled):
    assert [(s.start, s.end) for s in plain.segments()] == [(61, 179)]  # the cart, with the bundled model
    zoned = analyze(test004, replace(analysis_model, zones=read_zones(ZONES / "test004_cart_path.json")))
    assert zoned.segments() == []
    assert zoned.score.max() < 1.0


def test_an_only_count_zone_on_the_walkway_keeps_it_and_names_it(test004, analysis_model, plain, tmp_path, bundled):
    zones = read_zones(ZONES / "test004_walkway.json")
    zoned = analyze(test004, replace(analysis_model, zones=zones))
    assert [(s.start, s.end) for s in zoned.segments()] == [(s.start, s.end) for s in plain.segments()]
    document = json.loads((zoned.save(tmp_path) / "segments.json").read_text())
    assert document["zones"] == zones.to_dict()
    assert [s["zone"] for s in document["segments"]] == ["only 1"]
    records = analysis_events(zoned, source="Test004", run="zoned", origin="app", model=analysis_model)
    assert [r.zone for r in records if r.kind == "anomaly"] == ["only 1"]  # the event records its zone


def test_a_live_run_masks_as_analyze_does(test004, analysis_model):
    model = replace(analysis_model, zones=RIGHT_HALF)
    offline = analyze(test004, model)
    live = LiveRun(PacedClip(test004, fps=0), model, queue_windows=18).start().wait(timeout=120)
    assert live.source_size == (360, 240) and live.zones == RIGHT_HALF
    assert np.abs(live.score - offline.score).max() < 1e-3
