"""Batch scoring on Ray: many videos, one video per task, model replicas as actors; local or a cluster.

from vad_core.batch import BatchConfig, run_batch
summary = run_batch(BatchConfig(inputs=["../shared/data/ucsd_ped2/test"], out=Path("batch_out")))
print(summary["done"], summary["failed"], summary["skipped"])

Modules: inputs (what to score), worker (the model replica; scoring is vad_core.pipeline.analysis.analyze),
run (the Ray driver), outputs (the output folder), stored (a saved analysis read back), report (report.html).
The `batch` subcommand is vad_core.cli.batch; its --scaling figure, vad_core.bench.scaling. Names are imported
on first use: the CLI's parser must not pay for torch.
"""

from __future__ import annotations

import importlib

__all__ = ["BatchConfig", "run_batch"]


def __getattr__(name: str) -> object:
    if name not in __all__:
        raise AttributeError(f"module 'vad_core.batch' has no attribute {name!r}")
    return getattr(importlib.import_module("vad_core.batch.run"), name)
