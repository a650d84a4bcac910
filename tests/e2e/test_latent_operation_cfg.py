"""LatentApplyOperationCFG on a small random SD1.5: the operation runs on every step's guidance."""

from __future__ import annotations

import numpy as np
from e2e.helpers import Host, txt2img


def with_operation(operation: dict, prefix: str) -> dict:
    prompt = txt2img(seed=5, prefix=prefix)
    prompt["10"] = operation
    prompt["11"] = {"class_type": "LatentApplyOperationCFG", "inputs": {"model": ["1", 0], "operation": ["10", 0]}}
    prompt["5"]["inputs"]["model"] = ["11", 0]
    return prompt


def test_operation_on_the_guidance_changes_the_image_identity_does_not(host: Host) -> None:
    plain = host.pixels(host.run(txt2img(seed=5, prefix="plain")))
    identity = with_operation({"class_type": "LatentOperationSharpen",
                               "inputs": {"sharpen_radius": 1, "sigma": 1.0, "alpha": 0.0}}, "identity")
    same = host.pixels(host.run(identity))
    assert np.abs(same - plain).max() <= 2  # sharpen at alpha 0 is the identity (up to float rounding)
    tonemap = with_operation({"class_type": "LatentOperationTonemapReinhard", "inputs": {"multiplier": 0.05}},
                             "tonemap")
    changed = host.pixels(host.run(tonemap))
    assert np.abs(changed - plain).max() > 10
    again = host.pixels(host.run(txt2img(seed=5, prefix="again")))
    assert np.array_equal(again, plain)  # the original MODEL is not patched
