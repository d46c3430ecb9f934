"""What the pages say by kind of detector: what each learned, and how a motion detector, which has no reconstruction,
no latent state and no fine-tuning, and a fused detector, whose score is a rule over an autoencoder's and a motion
detector's, differ from an autoencoder.

    st.caption(analysis_intro(model))             # the analysis page's opening words, for the model's kind
    if is_motion(model): st.info(LAB_NOTE)        # the lab's words for a motion map (app/views/lab)
    f"- **Raw error e(t)**: {RAW_ERROR}"           # the analysis page's "what do the scores mean"
    if is_fused(model): st.info(FUSED_LAB_NOTE)   # the lab's opening words for a fused model (app/views/lab)

The views that draw an autoencoder's reconstruction, latent view or adaptation ask is_motion and say this instead.
"""

from __future__ import annotations

from vad_core import Detector

ANALYSIS_INTROS = {  # how each kind of detector finds what is abnormal, in the analysis page's opening words
    "autoencoder": "An autoencoder learned what normal footage of this scene looks like; where it cannot reconstruct "
    "the video, the error is high. The heatmap shows the error per pixel, the plot per frame",
    "motion": "A motion detector learned how fast things move, place by place, in normal footage of this scene; "
    "where something moves faster than its place's normal, the error is high. The heatmap shows each place's speed "
    "over its normal speed, the plot the frame's largest",
    "fused": "Two detectors learned what normal footage of this scene looks like: an autoencoder, whose error is high "
    "where it cannot reconstruct the video, and a motion detector, whose error is high where something moves faster "
    "than its place's normal. A rule chosen for this scene combines their calibrated errors. The heatmap shows, per "
    "place, the larger of the two, the plot the combined error per frame",
}
CALIBRATED = ": a **calibrated score** c(t) above 1 is beyond anything normal footage produced."
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


FUSED_RAW_ERROR = (
    "how far beyond normal either of two detectors finds frame t, as one rule combines them: the autoencoder's error "
    "(how badly it reconstructs the frame) and the motion detector's (how much faster than normal something moves), "
    "each divided by its own τ so that 1 is the most its normal footage reached, then combined by the rule chosen "
    "for this scene ({rule})"
)
FUSED_LAB_NOTE = (
    "**A fused detector** runs an autoencoder and a motion detector on the same frames. Each part's frame error is "
    "divided by its own τ (1: the most its normal footage reached), and a rule chosen for this scene on anomalies "
    "injected into normal footage combines the two. The lab teaches with its autoencoder part, run alone on the same "
    "frames: its reconstruction and error of frame t, and the six steps from error map to score; then the motion "
    "part's flow at frame t, and how the two parts' errors become the fused e(t) and c(t)."
)
ADAPT_KINDS = {
    "autoencoder": "Autoencoder: fine-tune the network",
    "fused": "Fused: fine-tune it and fit a motion detector on the same frames",
}


def analysis_intro(model: Detector) -> str:
    """The analysis page's opening words: what the chosen kind of detector learned, and what c(t) above 1 means."""
    return ANALYSIS_INTROS[model.card.detector] + CALIBRATED


def is_fused(model: Detector) -> bool:
    """Whether the model is a fused detector (its card's kind): an autoencoder part and a motion part."""
    return model.card.detector == "fused"


def is_motion(model: Detector) -> bool:
    """Whether the model is a motion detector (its card's kind), whose views have no reconstruction to draw."""
    return model.card.detector == "motion"
