"""The input and output stage: decoding clips (video, in a killable child: sandbox; ahead of the model: prefetch),
live sources, dataset labels, the card's float arrays (card_arrays), frame ranges as users write them
(frame_ranges), paths and output folders (paths), and where per-frame arrays and temporary files live (framestore,
tempdirs).

from vad_core.io.video import stream_raw_gray, write_h264
from vad_core.io.sandbox import SandboxedDecoder
from vad_core.io.sources import open_source
"""
