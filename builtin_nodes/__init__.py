"""The core nodes, written on our v3 API (a few on v1, where ComfyUI's /object_info entry needs it)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from builtin_nodes.node_env import NodeFolders
from builtin_nodes.paths import OutputPaths

if TYPE_CHECKING:
    from host.registry import Registry


def load_builtin(registry: Registry, paths: OutputPaths, folders: NodeFolders | None = None) -> None:
    """Register every builtin node, run in-process by one LocalRunner. ``folders`` (default: ``input`` and
    ``models`` under the working directory) are where LoadImage and the model loaders look."""
    from builtin_nodes import (
        clip_nodes,
        clip_sdxl,
        clip_vision_nodes,
        conditioning,
        control_nodes,
        diffusers_nodes,
        gligen_nodes,
        image_io,
        image_ops,
        latent,
        loaders,
        lora_nodes,
        preview_any,
        sampler_nodes,
        style_nodes,
        unclip_nodes,
        upscale_nodes,
        vae_nodes,
    )
    from builtin_nodes.custom_sampler_guiders import NODES as CUSTOM_SAMPLING
    from builtin_nodes.custom_sampler_samplers import NODES as CUSTOM_SAMPLERS
    from builtin_nodes.custom_sampler_sigmas import NODES as CUSTOM_SIGMAS
    from builtin_nodes.images import image_nodes
    from builtin_nodes.logic import NODES as LOGIC
    from builtin_nodes.primitives import NODES as PRIMITIVES
    from builtin_nodes.rebatch import NODES as REBATCH
    from builtin_nodes.strings import NODES as STRINGS
    from isolate.local_runner import LocalRunner

    folders = folders or NodeFolders.default(paths.output_dir, paths.temp_dir)
    runner = LocalRunner()
    v3 = [*image_nodes(paths), *image_ops.NODES, *PRIMITIVES, *REBATCH, *STRINGS, *LOGIC]
    v3 += [*CUSTOM_SIGMAS, *CUSTOM_SAMPLERS, *CUSTOM_SAMPLING]
    v3 += clip_sdxl.NODES
    registry.add_classes({cls.define_schema().node_id: cls for cls in v3}, runner, origin="builtin")
    for module in (image_ops, preview_any):  # v1 classes: display names and python_module given here
        registry.add_classes(module.V1_CLASSES, runner, display_names=module.V1_DISPLAY_NAMES, origin="builtin",
                             python_module=module.V1_MODULE)
    for module in (latent, conditioning, clip_nodes, sampler_nodes, vae_nodes):
        registry.add_classes(module.V1_CLASSES, runner, display_names=module.V1_DISPLAY_NAMES, origin="builtin")
    live_images, static_images = image_io.image_io_classes(folders)
    registry.add_classes(live_images, runner, display_names=image_io.V1_DISPLAY_NAMES, live=True)
    registry.add_classes(static_images, runner, display_names=image_io.V1_DISPLAY_NAMES)
    registry.add_classes(loaders.loader_classes(folders), runner, display_names=loaders.V1_DISPLAY_NAMES, live=True)
    registry.add_classes(lora_nodes.lora_classes(folders), runner, display_names=lora_nodes.V1_DISPLAY_NAMES,
                         live=True)
    registry.add_classes(upscale_nodes.upscale_classes(folders), runner, python_module=upscale_nodes.MODULE,
                         live=True)
    for module in (control_nodes, clip_vision_nodes, style_nodes, unclip_nodes, gligen_nodes, diffusers_nodes):
        registry.add_classes(module.V1_CLASSES, runner, display_names=module.V1_DISPLAY_NAMES)
        registry.add_classes(module.loader_classes(folders), runner, display_names=module.V1_DISPLAY_NAMES, live=True)
    _load_image_extras(registry, runner, paths, folders)


def _load_image_extras(registry: Registry, runner: Any, paths: OutputPaths, folders: NodeFolders) -> None:
    """The mask, image-extra, animation, latent-operation and latent-file nodes (issue 17)."""
    from builtin_nodes import image_extras, latent_files, latent_transform
    from builtin_nodes.animated import animated_nodes
    from builtin_nodes.image_stitch import NODES as STITCH
    from builtin_nodes.latent_operations import NODES as LATENT_OPERATIONS
    from builtin_nodes.latent_ops import NODES as LATENT_OPS
    from builtin_nodes.mask_nodes import mask_nodes

    v3 = [*mask_nodes(paths), *image_extras.NODES, *STITCH, *animated_nodes(paths), *LATENT_OPS, *LATENT_OPERATIONS]
    registry.add_classes({cls.define_schema().node_id: cls for cls in v3}, runner, origin="builtin")
    registry.add_classes(image_extras.V1_CLASSES, runner, display_names=image_extras.V1_DISPLAY_NAMES,
                         origin="builtin")
    registry.add_classes(latent_transform.V1_CLASSES, runner, display_names=latent_transform.V1_DISPLAY_NAMES,
                         origin="builtin")
    live_latents, static_files = latent_files.latent_file_classes(paths, folders)
    registry.add_classes(live_latents, runner, live=True)
    registry.add_classes(static_files, runner, display_names=latent_files.V1_DISPLAY_NAMES)


__all__ = ["NodeFolders", "OutputPaths", "load_builtin"]
