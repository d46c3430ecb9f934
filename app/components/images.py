"""Images as data URLs: how frames travel to the browser without extra requests.

url = data_url(gray_frame)                 # JPEG, for photos
url = data_url(heat_levels, fmt=".png")    # PNG, lossless, for values read back in JavaScript
"""

from __future__ import annotations

import base64

import cv2
import numpy as np

MIME = {".jpg": "image/jpeg", ".png": "image/png"}


def data_url(image: np.ndarray, fmt: str = ".jpg", quality: int = 85) -> str:
    """A gray or RGB uint8 image encoded as a data URL."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 6]
    ok, encoded = cv2.imencode(fmt, image, params)
    if not ok:
        raise ValueError(f"could not encode a {image.shape} image as {fmt}")
    return f"data:{MIME[fmt]};base64,{base64.b64encode(encoded.tobytes()).decode('ascii')}"
