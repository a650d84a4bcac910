"""The runtime API nodes call while running (``ComfyAPI`` / ``ComfyAPISync``, COMPAT §4.11, §5.2).

Progress goes to the hook of the running node's context (``isolate.context.CURRENT_NODE``, set by the executor
around node calls); outside a run there is none and reporting progress is an error.
"""

from __future__ import annotations

from typing import Any

from isolate.context import CURRENT_NODE

#: the longest side of a preview image unless ``ignore_size_limit`` (ComfyUI's default ``--preview-size``)
PREVIEW_MAX_SIZE = 512


def preview_tuple(preview_image: Any, ignore_size_limit: bool = False) -> Any:
    """A PIL image or an IMAGE tensor ([B, H, W, C] or [H, W, C]; the first image) as the preview tuple."""
    if preview_image is None:
        return None
    image = preview_image
    if hasattr(image, "cpu"):
        import numpy as np
        from PIL import Image

        tensor = image[0] if len(image.shape) == 4 else image
        image = Image.fromarray(np.clip(255.0 * tensor.cpu().numpy(), 0, 255).astype(np.uint8))
    return (image.format or "JPEG", image, None if ignore_size_limit else PREVIEW_MAX_SIZE)


def set_progress(value: float, max_value: float | None, node_id: str | None = None, preview_image: Any = None,
                 ignore_size_limit: bool = False) -> None:
    ctx = CURRENT_NODE.get()
    if ctx is None or ctx.hook is None:
        raise RuntimeError("no progress hook: set_progress must be called from a node running inside nodehost")
    ctx.hook.progress(node_id or ctx.node_id, value, max_value, preview_tuple(preview_image, ignore_size_limit),
                      legacy=False)


class ComfyAPI:
    """``ComfyAPI().execution.set_progress(...)`` (async)."""

    VERSION = "latest"
    STABLE = False

    class Execution:
        async def set_progress(self, value: float, max_value: float | None, node_id: str | None = None,
                               preview_image: Any = None, ignore_size_limit: bool = False) -> None:
            """Update the node's progress bar (and preview) in the frontend."""
            set_progress(value, max_value, node_id, preview_image, ignore_size_limit)

    def __init__(self) -> None:
        self.execution = self.Execution()


class ComfyAPISync:
    """``ComfyAPISync().execution.set_progress(...)``: the same calls for sync nodes."""

    VERSION = "latest"
    STABLE = False

    class Execution:
        def set_progress(self, value: float, max_value: float | None, node_id: str | None = None,
                         preview_image: Any = None, ignore_size_limit: bool = False) -> None:
            """Update the node's progress bar (and preview) in the frontend."""
            set_progress(value, max_value, node_id, preview_image, ignore_size_limit)

    def __init__(self) -> None:
        self.execution = self.Execution()
