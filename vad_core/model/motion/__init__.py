"""The motion detector: dense optical flow at the clip's own resolution, per-place statistics of normal motion.

cfg = MotionConfig()                                    # 16-px cells, speed features (config.py, torch-free)
normal = MotionNormal.fit(cell_features(...), cfg)      # per-place scales from normal clips (normal.py)
model = load_checkpoint("models/ped2-motion")           # a MotionModel when the card's kind is "motion"
"""
