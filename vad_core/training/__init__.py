"""The training stage: training and fine-tuning (train), evaluation on a dataset, and synthetic anomalies with
ground truth (injection) for choosing the scoring without test labels.

from vad_core.training.train import TrainConfig, train
from vad_core.training.evaluation import evaluate
from vad_core.training.injection import inject
"""
