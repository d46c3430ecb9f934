"""The typed model card: a card read and written again is the same JSON; its settings are checked as it is read."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.helpers.paths import BUNDLED
from vad_core.errors import BadInput
from vad_core.model.card import ModelCard, read_card

PED2 = BUNDLED.with_suffix(".json")


def test_the_bundled_card_reads_as_fields_and_writes_back_byte_for_byte():
    card = read_card(PED2)
    assert card.to_json() == PED2.read_bytes()
    assert (card.scoring.kind, card.model.input_size, card.preprocess.input_size) == ("motion", 131, 131)
    assert card.training.data == "../shared/data/ucsd_ped2" and card.training.extra["note"].startswith("Trained")
    assert card.scoring_selection.candidates[0].motion == "error" and "ucsd_ped2" in card.evaluation
    assert card.kind is None and card.detector == "autoencoder"  # written before kinds: an autoencoder


def test_unknown_keys_and_the_files_order_survive_a_round_trip(tmp_path):
    doc = json.loads(PED2.read_text())
    doc = {"comment": "kept", **doc, "calibration_data": doc["calibration_data"] | {"by": "hand"}}
    card = ModelCard.from_dict(doc)
    assert card.extra == {"comment": "kept"} and card.calibration_data.extra == {"by": "hand"}
    assert json.dumps(card.to_dict()) == json.dumps(doc)
    assert list(replace(card, order=()).to_dict())[:2] == ["name", "library"]  # a new card: train's order


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"scoring": {"motion": "blur"}}, "unknown motion form 'blur'"),
        ({"scoring": {"reduce": "median"}}, r"scoring\.reduce is 'median'"),
        ({"preprocess": {"std": "wide"}}, r"preprocess\.std must be a finite number"),
        ({"adaptation": [0, 60]}, "adaptation must be an object"),
        ({"kind": "banana"}, "kind is 'banana'; a card's kind is one of autoencoder, motion, fused"),
        ({"kind": "fused"}, "unknown fused model keys"),  # an autoencoder's architecture is no fused model
        ({"kind": "motion"}, "unknown motion config keys"),  # an autoencoder's architecture is no motion config
    ],
)
def test_a_setting_outside_its_choices_is_bad_input_naming_it(tmp_path, change, match):
    path = tmp_path / "card.json"
    path.write_text(json.dumps(json.loads(PED2.read_text()) | change))
    with pytest.raises(BadInput, match=match):
        read_card(path)


def test_a_trained_card_writes_back_byte_for_byte(trained_tiny):
    path = trained_tiny.stem.with_suffix(".json")
    card = read_card(path)
    assert card.to_json() == path.read_bytes() and card.training.clips == ["Train001.mp4", "Train002.mp4"]
    assert card.kind == "autoencoder" and next(iter(json.loads(path.read_text()))) == "kind"  # a new card says so
