"""Preview images as ComfyUI sends them: JPEG quality 95, or PNG compress level 1 (COMPAT §2.4)."""

from __future__ import annotations

import io
from typing import Any


def encode_image(fmt: Any, image: Any) -> tuple[str, int, bytes]:
    """(mime, §2.4 image type: 1 JPEG / 2 PNG, encoded bytes) of a PIL image."""
    out = io.BytesIO()
    if str(fmt).upper() == "PNG":
        image.save(out, format="PNG", compress_level=1)
        return "image/png", 2, out.getvalue()
    image.convert("RGB").save(out, format="JPEG", quality=95)
    return "image/jpeg", 1, out.getvalue()
