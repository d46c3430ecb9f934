"""The machine a figure was measured on, in words: the figures depend on it.

device_info(torch.device("cpu"))    # bench's report["machine"]: CPU, libraries, load
machine()                           # the batch scaling figure's: CPU, cores, Python
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import cv2
import numpy as np
import torch


def cpu_name(unknown: str = "unknown") -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else what platform knows, else `unknown`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or unknown


def device_info(device: torch.device) -> dict:
    """The device, the CPU, the libraries' versions and the load: what a speed figure depends on."""
    info = {
        "device": str(device),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "opencv": cv2.__version__,
        "platform": platform.platform(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }
    if device.type == "cuda":
        info |= {"gpu": torch.cuda.get_device_name(device), "cuda": torch.version.cuda}
    return info


def machine() -> dict:
    """This machine in a few words, for figures that depend on it."""
    return {"cpu": cpu_name(unknown=""), "cores": os.cpu_count(), "python": platform.python_version()}
