"""What the pages say about a motion detector, which has no reconstruction, no latent state and no fine-tuning.

    if is_motion(model): st.info(LAB_NOTE)        # the lab's opening words for a motion map (app/views/lab_motion)
    f"- **Raw error e(t)**: {RAW_ERROR}"           # the analysis page's "what do the scores mean"

The views that draw an autoencoder's reconstruction, latent view or adaptation ask is_motion and say this instead.
"""

from __future__ import annotations

from vad_core import Detector

RAW_ERROR = (
    "how much faster than normal something moves in frame t. The model computes the optical flow between frames "
    "and, in each place, divides the flow's speed by that place's normal speed (a high percentile of it on normal "
    "footage); e(t) is the largest of these ratios"
)
LAB_NOTE = (
    "**A motion detector reconstructs nothing.** Its map is, for each place, the speed of the optical flow at "
    "frame t divided by that place's normal speed (learned from normal footage): 1 is the fastest normal motion "
    "there, and e(t) is the largest ratio of the frame, smoothed over time and divided by τ as for an "
    "autoencoder. Below: this frame's flow and the place that decides its e(t)."
)
ADAPT_NOTE = (
    "To fit this motion detector to the camera, train a new motion model on its normal footage on the *Train your "
    "scene* page (seconds): a motion model is fitted afresh, not fine-tuned."
)


def is_motion(model: Detector) -> bool:
    """Whether the model is a motion detector (its card's kind), whose views have no reconstruction to draw."""
    return model.card.detector == "motion"
