"""Where the tests find things, all from the library's one repository root (vad_core.io.paths.REPO_ROOT).

from tests.helpers.paths import REPO, SAMPLES, BUNDLED, PED2
"""

from __future__ import annotations

from vad_core.io.paths import REPO_ROOT

REPO = REPO_ROOT
SAMPLES = REPO / "assets" / "samples"
BUNDLED = REPO / "assets" / "models" / "ped2"  # the bundled autoencoder (vad_core's BUNDLED_AUTOENCODER)
BUNDLED_DEFAULT = REPO / "assets" / "models" / "ped2-fused"  # the bundled default (DEFAULT_CHECKPOINT): fused
APP = REPO / "app" / "main.py"
ARTIFACTS = REPO / "test-artifacts"  # browser screenshots and server logs
DATA = REPO.parent / "shared" / "data"  # the full datasets, beside the repository
PED2 = DATA / "ucsd_ped2"
PED1 = DATA / "ucsd_ped1"


def bundled_available() -> bool:
    return BUNDLED.with_suffix(".json").is_file() and BUNDLED.with_suffix(".safetensors").is_file()


ZONES = REPO / "tests" / "fixtures" / "zones"  # zone files drawn on Test004 (derived from its pixel masks)
