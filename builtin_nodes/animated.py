"""SaveAnimatedPNG, SaveAnimatedWEBP and SaveSVGNode from ComfyUI's ``comfy_extras.nodes_images`` (v3).

All write into the output folder bound at load (``a/b`` prefixes make subfolders; one that climbs out of it
is refused with ``PathEscapeError``, as SaveImage does). The animations are one file for the whole batch,
written by Pillow through the v3 ``ImageSaveHelper`` (frame duration ``int(1000 / fps)`` ms; the prompt and
workflow as ``comf`` chunks after the image data for APNG, as EXIF Model/Make... strings for WebP).
"""

from __future__ import annotations

import io as _io
import json
import re
from typing import Any, ClassVar

from builtin_nodes.saving import metadata_source, writing_to
from isolate.api import io, ui
from isolate.paths import OutputPaths, save_image_path

_MODULE = "comfy_extras.nodes_images"
_PREFIX_TOOLTIP = ("The prefix for the file to save. This may include formatting information such as "
                   "%date:yyyy-MM-dd% or %Empty Latent Image.width% to include values from nodes.")
#: the WebP encoder's effort per ``method`` option
WEBP_METHODS = {"default": 4, "fastest": 0, "slowest": 6}


def _fps() -> Any:
    return io.Float.Input("fps", default=6.0, min=0.01, max=1000.0, step=0.01)


class SaveAnimatedPNG(io.ComfyNode):
    paths: ClassVar[OutputPaths]

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SaveAnimatedPNG", category="image/animation", python_module=_MODULE, is_output_node=True,
            inputs=[io.Image.Input("images"), io.String.Input("filename_prefix", default="ComfyUI"), _fps(),
                    io.Int.Input("compress_level", default=4, min=0, max=9)],
            hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo])

    @classmethod
    def execute(cls, images: Any, fps: float, compress_level: int, filename_prefix: str = "ComfyUI") -> io.NodeOutput:
        with writing_to(cls.paths):
            saved = ui.ImageSaveHelper.get_save_animated_png_ui(
                images, filename_prefix, metadata_source(cls, cls.paths), fps, compress_level)
        return io.NodeOutput(ui=saved)


class SaveAnimatedWEBP(io.ComfyNode):
    paths: ClassVar[OutputPaths]

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SaveAnimatedWEBP", category="image/animation", python_module=_MODULE, is_output_node=True,
            inputs=[io.Image.Input("images"), io.String.Input("filename_prefix", default="ComfyUI"), _fps(),
                    io.Boolean.Input("lossless", default=True), io.Int.Input("quality", default=80, min=0, max=100),
                    io.Combo.Input("method", options=list(WEBP_METHODS))],
            hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo])

    @classmethod
    def execute(cls, images: Any, fps: float, filename_prefix: str, lossless: bool, quality: int,
                method: str) -> io.NodeOutput:
        with writing_to(cls.paths):
            saved = ui.ImageSaveHelper.get_save_animated_webp_ui(
                images, filename_prefix, metadata_source(cls, cls.paths), fps, lossless, quality,
                WEBP_METHODS[method])
        return io.NodeOutput(ui=saved)


def svg_documents(svg: Any) -> list[bytes]:
    """The documents of an SVG value: ComfyUI's ``SVG`` (``.data``, a list of BytesIO), or str/bytes, or a
    list of those."""
    items = getattr(svg, "data", svg)
    if isinstance(items, (str, bytes, bytearray, _io.BytesIO)):
        items = [items]
    docs = []
    for item in items:
        if isinstance(item, _io.BytesIO):
            item = item.getvalue()
        docs.append(item.encode("utf-8") if isinstance(item, str) else bytes(item))
    return docs


def with_metadata(document: str, metadata: dict[str, Any]) -> str:
    """``document`` with a ``<metadata>`` element holding ``metadata`` as JSON in a CDATA section, right after
    the opening ``<svg ...>`` tag (every one, as ComfyUI's substitution does)."""
    if not metadata:
        return document
    element = f"\n  <metadata>\n    <![CDATA[\n{json.dumps(metadata, indent=2)}\n    ]]>\n  </metadata>\n"
    return re.sub(r"(<svg[^>]*>)", lambda m: m.group(1) + element, document)


class SaveSVGNode(io.ComfyNode):
    """Each SVG document as ``{prefix}_{counter:05}_.svg`` (``%batch_num%`` replaced), the prompt and the
    extra_pnginfo keys embedded as one JSON object in a ``<metadata>`` element."""

    paths: ClassVar[OutputPaths]

    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="SaveSVGNode", category="image/save", description="Save SVG files on disk.",
            python_module=_MODULE, is_output_node=True,
            inputs=[io.SVG.Input("svg"),
                    io.String.Input("filename_prefix", default="svg/ComfyUI", tooltip=_PREFIX_TOOLTIP)],
            hidden=[io.Hidden.prompt, io.Hidden.extra_pnginfo])

    @classmethod
    def metadata(cls) -> dict[str, Any]:
        if not cls.paths.metadata:
            return {}
        meta: dict[str, Any] = {}
        if cls.hidden.prompt is not None:
            meta["prompt"] = cls.hidden.prompt
        meta.update(cls.hidden.extra_pnginfo or {})
        return meta

    @classmethod
    def execute(cls, svg: Any, filename_prefix: str = "svg/ComfyUI") -> io.NodeOutput:
        folder, stem, subfolder, counter = save_image_path(filename_prefix, cls.paths.output_dir, 0, 0)
        folder.mkdir(parents=True, exist_ok=True)
        meta = cls.metadata()
        results = []
        for batch_number, document in enumerate(svg_documents(svg)):
            name = f"{stem.replace('%batch_num%', str(batch_number))}_{counter:05}_.svg"
            text = with_metadata(document.decode("utf-8"), meta)
            (folder / name).write_bytes(text.encode("utf-8"))
            results.append(ui.SavedResult(name, subfolder, io.FolderType.output))
            counter += 1
        return io.NodeOutput(ui={"images": results})


def animated_nodes(paths: OutputPaths) -> list[type[io.ComfyNode]]:
    """The saving classes, bound to ``paths``."""
    return [type(c.__name__, (c,), {"paths": paths}) for c in (SaveAnimatedPNG, SaveAnimatedWEBP, SaveSVGNode)]
