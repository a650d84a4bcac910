"""A pack written the way rgthree-comfy is: ``requests`` imported without declaring it, ``execution`` and
``comfy.samplers`` at module level, core nodes and ``comfy_extras`` nodes imported by name and called from pack
code (they run on the host), a PreviewImage subclass, routes on ``PromptServer.instance.routes``."""

import comfy.samplers
import execution  # noqa: F401
import requests  # noqa: F401  (undeclared: every ComfyUI environment has it)
from aiohttp import web
from comfy_extras.nodes_clip_sdxl import CLIPTextEncodeSDXL  # noqa: F401
from comfy_extras.nodes_latent import LatentBatch  # noqa: F401
from nodes import MAX_RESOLUTION, CLIPTextEncode, EmptyLatentImage, ImageBatch, LoraLoader, PreviewImage  # noqa: F401
from server import PromptServer

routes = PromptServer.instance.routes


@routes.get("/rgthree_style/api/version")
async def version(request):
    return web.json_response({"version": "1.0"})


class BatchImagesRgStyle:
    """Two images into one batch with the core ImageBatch node, called from pack code."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image1": ("IMAGE",), "image2": ("IMAGE",)}}

    RETURN_TYPES = ("IMAGE",)
    FUNCTION = "main"
    CATEGORY = "rgthree_style"

    def main(self, image1, image2):
        return (ImageBatch().batch(image1, image2)[0],)


class BatchLatentsRgStyle:
    """Two latents into one batch with comfy_extras' LatentBatch (a v3 node on the host), by its v1 name."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"latent1": ("LATENT",), "latent2": ("LATENT",)}}

    RETURN_TYPES = ("LATENT",)
    FUNCTION = "main"
    CATEGORY = "rgthree_style"

    def main(self, latent1, latent2):
        return (LatentBatch().batch(latent1, latent2)[0],)


class EmptyLatentRgStyle:
    """An empty latent from the core EmptyLatentImage node, sized from a preset, as SDXL latent nodes do."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"width": ("INT", {"default": 64, "min": 16, "max": MAX_RESOLUTION, "step": 8}),
                             "height": ("INT", {"default": 32, "min": 16, "max": MAX_RESOLUTION, "step": 8}),
                             "batch_size": ("INT", {"default": 1, "min": 1, "max": 64})}}

    RETURN_TYPES = ("LATENT", "INT", "INT")
    FUNCTION = "main"
    CATEGORY = "rgthree_style"

    def main(self, width, height, batch_size):
        latent = EmptyLatentImage().generate(width, height, batch_size)[0]
        return (latent, width, height)


class KSamplerConfigRgStyle:
    """Sampler settings; the combos are comfy.samplers' lists, read in INPUT_TYPES."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"sampler_name": (comfy.samplers.KSampler.SAMPLERS,),
                             "scheduler": (comfy.samplers.KSampler.SCHEDULERS,)}}

    RETURN_TYPES = (comfy.samplers.KSampler.SAMPLERS, comfy.samplers.KSampler.SCHEDULERS)
    FUNCTION = "main"
    CATEGORY = "rgthree_style"

    def main(self, sampler_name, scheduler):
        return (sampler_name, scheduler)


class ImageComparerRgStyle(PreviewImage):
    """A PreviewImage subclass: writes both images as previews, under ui 'a_images' / 'b_images'."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"image_a": ("IMAGE",), "image_b": ("IMAGE",)}}

    FUNCTION = "compare"
    CATEGORY = "rgthree_style"

    def compare(self, image_a, image_b):
        a = self.save_images(image_a, "rgthree.compare.")["ui"]["images"]
        b = self.save_images(image_b, "rgthree.compare.")["ui"]["images"]
        return {"ui": {"a_images": a, "b_images": b}}


class ShowRgStyle:
    """An output node: a latent's or an image's shape, or the value itself, as ui text."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"value": ("*",)}}

    RETURN_TYPES = ()
    FUNCTION = "show"
    OUTPUT_NODE = True
    CATEGORY = "rgthree_style"

    @classmethod
    def VALIDATE_INPUTS(cls, input_types):
        return True

    def show(self, value):
        if isinstance(value, dict) and "samples" in value:
            value = value["samples"]
        if hasattr(value, "shape"):
            value = {"shape": list(value.shape), "mean": round(float(value.float().mean()), 4)}
        return {"ui": {"text": [value]}}


class AnyName(dict):
    """An optional section that claims every input name (rgthree's FlexibleOptionalInputType has this shape)."""

    def __contains__(self, key):
        return True

    def __getitem__(self, key):
        return ("*",)


class EvalRgStyle:
    """Like Power Puter: its ``code`` widget and its variables are inputs it never declares, and it reads the
    workflow from ``extra_pnginfo``."""

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {}, "optional": AnyName(), "hidden": {"extra_pnginfo": "EXTRA_PNGINFO"}}

    RETURN_TYPES = ("INT",)
    FUNCTION = "run"
    CATEGORY = "rgthree_style"

    def run(self, code, extra_pnginfo, **variables):
        workflow = extra_pnginfo["workflow"] if "workflow" in extra_pnginfo else {"nodes": []}
        return (int(eval(code, {}, dict(variables))) + len(workflow["nodes"]),)


NODE_CLASS_MAPPINGS = {
    "EvalRgStyle": EvalRgStyle,
    "BatchImagesRgStyle": BatchImagesRgStyle,
    "BatchLatentsRgStyle": BatchLatentsRgStyle,
    "EmptyLatentRgStyle": EmptyLatentRgStyle,
    "KSamplerConfigRgStyle": KSamplerConfigRgStyle,
    "ImageComparerRgStyle": ImageComparerRgStyle,
    "ShowRgStyle": ShowRgStyle,
}
