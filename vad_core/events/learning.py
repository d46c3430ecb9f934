"""False alarms learned as normal: their excerpts' frames as one clip to adapt a model on, and the record of it.

ranges = normal_footage(store, events, folder / "normal.mkv")   # lossless model-size frames; a range per excerpt
# python -m vad_core adapt folder/normal.mkv --normal START:END ... --checkpoint MODEL --out STEM
record_learning(store, [e.id for e in events], STEM)           # the new card and the store name each other

An excerpt's clip.mp4 carries the heatmap, so the frames learned are the stored analysis' own model-size inputs
(grayscale, resized as the model reads them), written without loss: adapting reads back exactly what was scored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vad_core.batch.stored import read_analysis
from vad_core.errors import BadInput
from vad_core.events.store import Event, EventStore
from vad_core.io.framestore import iter_chunks
from vad_core.model.card import Adaptation, read_card
from vad_core.model.checkpoint import checkpoint_paths, rewrite_card


def check_learnable(events: Sequence[Event], store: EventStore) -> str:
    """The one camera whose false alarms these are; BadInput saying what to change otherwise."""
    if not events:
        raise BadInput("select the false alarms to learn as normal")
    if others := [e.id for e in events if e.review != "false_alarm"]:
        raise BadInput(f"only false alarms are learned as normal; mark #{others[0]} a false alarm or unselect it")
    if len(sources := {e.source for e in events}) > 1:
        raise BadInput(f"the selected events come from {len(sources)} cameras; learn one camera's at a time")
    if missing := [e.id for e in events if store.excerpt_folder(e) is None]:
        raise BadInput(f"event #{missing[0]} has no excerpt to learn from")
    return events[0].source


def normal_footage(store: EventStore, events: Sequence[Event], path: Path) -> list[tuple[int, int]]:
    """Write the excerpts' model-size frames, one after another, to path (FFV1 in Matroska: lossless, any size);
    returns each excerpt's frames in it as a START:END range (end exclusive), the adapt command's --normal."""
    import av  # imported here: only learning needs the encoder

    check_learnable(events, store)
    ranges: list[tuple[int, int]] = []
    with av.open(str(path), mode="w") as container:
        stream = None
        for event in events:
            excerpt = read_analysis(store.excerpt_folder(event))
            if stream is None:
                stream = container.add_stream("ffv1", rate=max(1, round(excerpt.fps)))
                stream.height, stream.width = excerpt.inputs.shape[1:]
                stream.pix_fmt = "gray"
            if excerpt.inputs.shape[1:] != (stream.height, stream.width):
                raise BadInput(f"event #{event.id} was scored at another size; learn one model's events at a time")
            first = ranges[-1][1] if ranges else 0
            for chunk in iter_chunks(excerpt.inputs):
                for frame in np.asarray(chunk, np.uint8):
                    container.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="gray")))
            ranges.append((first, first + excerpt.frame_count))
        container.mux(stream.encode())
    return ranges


def record_learning(store: EventStore, ids: Sequence[int], stem: str | Path) -> None:
    """After adapting: the new model's card lists the events it learned (adaptation.events), and the store marks
    each event learned into that model."""
    _, card_path = checkpoint_paths(stem)
    card = read_card(card_path)
    adaptation = dataclasses.replace(card.adaptation or Adaptation(), events=sorted(int(i) for i in ids))
    rewrite_card(stem, dataclasses.replace(card, adaptation=adaptation))
    store.set_learned(ids, Path(stem).name)
