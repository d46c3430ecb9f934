"""Zones: the file format and its checks, the place mask and which zone a point lies in."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vad_core.errors import BadInput
from vad_core.scoring.zones import MAX_POINTS, MAX_POLYGONS, MAX_ZONES_BYTES, Zones, read_zones, zones_from_dict

SQUARE = [[10, 10], [50, 10], [50, 50], [10, 50]]
SQUARE_T = [(200, 200), (210, 200), (210, 210), (200, 210)]


def test_a_zones_file_reads_back_as_it_was_written(tmp_path):
    zones = Zones(ignore=[[(0.0, 0.0), (10.0, 0.0), (10.0, 5.5)]], only=[[(1.0, 2.0), (3.0, 4.0), (5.0, 1.0)]])
    path = tmp_path / "cam.zones.json"
    path.write_text(zones.to_json())
    assert read_zones(path) == zones
    assert read_zones_text(tmp_path, '{"only": [' + json.dumps(SQUARE) + "]}").ignore == []  # a kind may be left out


def read_zones_text(folder, text: str) -> Zones:
    path = folder / "z.json"
    path.write_text(text)
    return read_zones(path)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[1, 2]", "must be a JSON object"),
        ('{"ignore": [], "nope": []}', "unknown key 'nope'"),
        ('{"ignore": {}}', "must be a list of polygons"),
        ('{"ignore": [[[0, 0], [1, 1]]]}', "3 to 256"),
        ('{"ignore": [[[0, 0], [1, 1], [2]]]}', "not an [x, y] point"),
        ('{"ignore": [[[0, 0], [1, 1], ["a", 2]]]}', "must be numbers"),
        ('{"ignore": [[[0, 0], [1, 1], [true, 2]]]}', "must be numbers"),
        ('{"ignore": [[[0, 0], [1, 1], [NaN, 2]]]}', "finite"),
        ('{"ignore": [[[0, 0], [1, 1], [1e300, 2]]]}', "finite"),
        ("{nope", "not valid JSON"),
        ("[" * 100_000, "nested too deeply"),
    ],
)
def test_a_bad_zones_file_is_one_sentence_of_bad_input(tmp_path, text, says):
    with pytest.raises(BadInput) as err:
        read_zones_text(tmp_path, text)
    assert says in str(err.value) and "\n" not in str(err.value)


def test_limits_on_polygons_points_and_bytes(tmp_path):
    with pytest.raises(BadInput, match=f"more than {MAX_POLYGONS} polygons"):
        zones_from_dict({"ignore": [SQUARE] * (MAX_POLYGONS + 1)})
    with pytest.raises(BadInput, match=f"3 to {MAX_POINTS}"):
        zones_from_dict({"only": [[[i, i % 7] for i in range(MAX_POINTS + 1)]]})
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (MAX_ZONES_BYTES + 1))
    with pytest.raises(BadInput, match="larger than"):
        read_zones(big)
    with pytest.raises(BadInput, match="cannot read zones file"):
        read_zones(tmp_path / "missing.json")


def test_no_zones_mask_nothing():
    zones = Zones()
    assert not zones
    assert (zones.place_mask((360, 240), 35) == 1).all()


def test_ignore_zones_mask_their_places_at_the_maps_size():
    # the right half of a 200 x 100 frame, on a 20 px square map: columns 10 and on
    mask = Zones(ignore=[[(100, 0), (200, 0), (200, 100), (100, 100)]]).place_mask((200, 100), 20)
    assert mask.dtype == np.float32 and mask.shape == (20, 20)
    assert (mask[:, :9] == 1).all() and (mask[:, 11:] == 0).all()


def test_only_zones_mask_everything_else_and_ignore_wins_inside_them():
    only = [(0, 0), (100, 0), (100, 100), (0, 100)]  # the left half
    hole = [(20, 20), (80, 20), (80, 80), (20, 80)]
    mask = Zones(only=[only], ignore=[hole]).place_mask((200, 100), 20)
    assert (mask[:, 11:] == 0).all()
    assert mask[0, 0] == 1 and mask[10, 5] == 0  # inside the only zone; inside the ignore zone within it


def test_zone_at_names_the_zone_a_point_lies_in():
    zones = Zones(ignore=[[(0, 0), (10, 0), (10, 10), (0, 10)]], only=[[(0, 0), (100, 0), (100, 100)], SQUARE_T])
    assert zones.zone_at(5, 5) == "ignore 1"  # ignore first
    assert zones.zone_at(60, 20) == "only 1"
    assert zones.zone_at(205, 205) == "only 2"
    assert zones.zone_at(20, 90) is None
