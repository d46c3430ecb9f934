"""ScoredBlock: what the engine keeps of a block of frames, whichever detector scored it.

block = model.score_blocks(frames, mask, clock)   # each detector yields these (the autoencoder via the engine)
block.maps["motion"], block.errors["motion_local_max"], block.inputs
head, tail = block.split(10)                      # frames 0-9 and the rest, as blocks of their own
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass
class ScoredBlock:
    """Everything analysis keeps of a block of frames, computed in a worker thread; live views read it as it
    comes (analyze_frames' on_block), with start the clip's index of its first frame. The autoencoder fills
    every field; a motion detector has no reconstruction, boundary frames or bottleneck (None)."""

    maps: dict[str, np.ndarray]  # float16 (n, S, S); the autoencoder's motion[0] waits for the previous block
    errors: dict[str, np.ndarray]  # "kind_reduce" -> (n,)
    inputs: np.ndarray  # uint8 (n, S, S)
    recons: np.ndarray | None
    first: tuple[np.ndarray, np.ndarray] | None  # normalized (x, r) of the first and last frames
    last: tuple[np.ndarray, np.ndarray] | None
    latent: np.ndarray | None  # float16 (n, D): pooled bottleneck states
    # camera-health figures (vad_core.scoring.health); change[0] waits for the previous block
    health: dict[str, np.ndarray]
    start: int = 0

    def split(self, n: int) -> tuple[ScoredBlock, ScoredBlock]:
        """The first n frames and the rest, each a block of its own (the boundary frames, which only the autoencoder's
        stitching reads before a block leaves it, are kept where they are known: first in the head, last in the
        tail). For lining up two detectors' blocks of different lengths (a fused detector)."""

        def cut(part: slice, first: tuple | None, last: tuple | None, start: int) -> ScoredBlock:
            return replace(
                self,
                maps={key: value[part] for key, value in self.maps.items()},
                errors={key: value[part] for key, value in self.errors.items()},
                inputs=self.inputs[part],
                recons=self.recons[part] if self.recons is not None else None,
                first=first,
                last=last,
                latent=self.latent[part] if self.latent is not None else None,
                health={key: value[part] for key, value in self.health.items()},
                start=start,
            )

        return cut(slice(None, n), self.first, None, self.start), cut(slice(n, None), None, self.last, self.start + n)
