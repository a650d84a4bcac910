"""UpscaleModelLoader and ImageUpscaleWithModel (ComfyUI's ``comfy_extras.nodes_upscale_model``, v3 nodes).

The model is loaded through the model manager's file cache (``host.models.upscale``); upscaling makes room for
it on the compute device (its size plus ComfyUI's estimate of 384 x a 512 x 512 x 3 tile x scale, plus the
image), runs it tiled (512 px, overlap 32, smaller tiles on out-of-memory) with one progress step per tile; the
manager moves it off the device when room is needed (or at once with --novram).
"""

from __future__ import annotations

from typing import Any, ClassVar

from builtin_nodes.node_env import NodeFolders, manager
from isolate.api import io

MODULE = "comfy_extras.nodes_upscale_model"


class UpscaleModelLoader(io.ComfyNode):
    folders: ClassVar[NodeFolders]

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="UpscaleModelLoader", display_name="Load Upscale Model", category="loaders",
            inputs=[io.Combo.Input("model_name", options=cls.folders.models.filename_list("upscale_models"))],
            outputs=[io.UpscaleModel.Output()])

    @classmethod
    def execute(cls, model_name: str) -> io.NodeOutput:
        from host.models.upscale import load_upscale_model

        models = manager()
        path = models.find("upscale_models", model_name)
        return io.NodeOutput(models.cached(("upscale_model",), path, lambda: load_upscale_model(path)))


class ImageUpscaleWithModel(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="ImageUpscaleWithModel", display_name="Upscale Image (using Model)", category="image/upscaling",
            inputs=[io.UpscaleModel.Input("upscale_model"), io.Image.Input("image")],
            outputs=[io.Image.Output()])

    @classmethod
    def execute(cls, upscale_model: Any, image: Any) -> io.NodeOutput:
        from host.models.upscale import upscale_image
        from isolate.context import report_progress

        models = manager()
        need = upscale_model.nbytes() + 512 * 512 * 3 * image.element_size() * max(upscale_model.scale, 1.0) * 384
        if str(models.device) != "cpu":
            models.free_memory(int(need + image.nelement() * image.element_size()))
        models.use(upscale_model)
        try:
            out = upscale_image(upscale_model, image, progress=lambda done, total: report_progress(done, total))
        finally:
            models.done(upscale_model)
        return io.NodeOutput(out)


def upscale_classes(folders: NodeFolders) -> dict[str, type]:
    """The two nodes; the loader bound to ``folders`` (live: its combo lists upscale_models)."""
    loader = type("UpscaleModelLoader", (UpscaleModelLoader,), {"folders": folders})
    return {"UpscaleModelLoader": loader, "ImageUpscaleWithModel": ImageUpscaleWithModel}


__all__ = ["ImageUpscaleWithModel", "UpscaleModelLoader", "upscale_classes"]
