"""`python -m vad_core events list|show|export|review` over a store on both backends: the list --json contract,
a thumbnail, clips and a table, reviews, and bad input as one line with exit status 2."""

from __future__ import annotations

import csv
import json

import pytest

from tests.helpers.paths import SAMPLES
from vad_core.events.record import publish_analysis
from vad_core.events.store import EventStore
from vad_core.pipeline.analysis import analyze


@pytest.fixture
def stored(store_url, analysis_model):
    """A store holding Test004's findings, with media."""
    store = EventStore.open(store_url)
    try:
        analysis = analyze(SAMPLES / "test" / "Test004.mp4", analysis_model)
        ids = publish_analysis(store, analysis, source="cam1", run="cli", origin="app", model=analysis_model)
    finally:
        store.close()
    assert ids
    return store_url, ids


def test_list_json_has_the_contract_fields(stored, cli):
    url, ids = stored
    result = cli("events", "list", "--json", "--events-url", url, "--source", "cam1", "--review", "new")
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout)
    assert sorted(e["id"] for e in events) == sorted(ids)
    assert {"id", "source", "kind", "start", "end", "peak", "review"} <= set(events[0])


def test_show_export_and_review(stored, cli, tmp_path):
    url, ids = stored
    shown = cli("events", "show", str(ids[0]), "--json", "--thumbnail", str(tmp_path / "t.png"), "--events-url", url)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["id"] == ids[0] and (tmp_path / "t.png").read_bytes().startswith(b"\x89PNG")
    exported = cli("events", "export", *map(str, ids), "--out", str(tmp_path / "out"), "--events-url", url)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader((tmp_path / "out" / "events.csv").open()))
    assert [int(r["id"]) for r in rows] == ids and (tmp_path / "out" / f"event-{ids[0]}.mp4").stat().st_size
    marked = cli("events", "review", str(ids[0]), "--as", "false_alarm", "--note", "a van", "--events-url", url)
    assert marked.returncode == 0, marked.stderr
    listed = json.loads(cli("events", "list", "--json", "--review", "false_alarm", "--events-url", url).stdout)
    assert [(e["id"], e["note"]) for e in listed] == [(ids[0], "a van")]


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["show", "999"], "no event 999"),
        (["review", "999", "--as", "confirmed"], "no event 999"),
        (["review", "1", "--as", "maybe"], "a review is one of"),
        (["list", "--since", "yesterday"], "not an ISO date"),
        (["list", "--events-url", "nosuch://x"], "not a database URL"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, says, cli, tmp_path):
    url = ["--events-url", f"sqlite:///{tmp_path / 'e.db'}"] if "--events-url" not in args else []
    result = cli("events", *args, *url)
    assert result.returncode == 2 and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
