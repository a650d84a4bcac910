"""host.models against stock ComfyUI's image (../shared/data/comfyui_reference), with a minimal inline Euler.

Slow (writes a 465 MB checkpoint, runs CLIP-L, the tiny UNet and the full VAE): runs only when ../shared is
beside the checkout and NODEHOST_REFERENCE_CHECK=1; the node-level end-to-end test covers the same ground.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

SHARED = Path("/work/shared")
TOOL = SHARED / "tools/make_sd15_checkpoint.py"
REFERENCE = SHARED / "data/comfyui_reference/txt2img_tiny_seed42.png"


@pytest.mark.e2e
@pytest.mark.timeout(900)
@pytest.mark.skipif(not (TOOL.exists() and REFERENCE.exists()) or os.environ.get("NODEHOST_REFERENCE_CHECK") != "1",
                    reason="needs ../shared and NODEHOST_REFERENCE_CHECK=1")
def test_reference_image_within_2_of_255(tmp_path: Path) -> None:
    from PIL import Image

    from host.models.testing.reference_check import generate

    ckpt = tmp_path / "oracle_sd15_tiny.safetensors"
    subprocess.run([sys.executable, str(TOOL), "--variant", "tiny", "--out", str(ckpt)], check=True,
                   capture_output=True)
    ours = generate(ckpt).astype(int)
    ref = np.asarray(Image.open(REFERENCE).convert("RGB")).astype(int)
    assert np.abs(ours - ref).max() <= 2
