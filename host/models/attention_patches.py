"""ComfyUI's UNet patches from ``transformer_options``, applied to the host's UNet (host.models.unet) for one
call: hooks set on its transformer blocks and on the UNet itself around the call, removed after it.

In every transformer block, as ComfyUI's ``BasicTransformerBlock`` runs them: ``attn1_patch`` functions
``(n, context, value, extra_options) -> (n, context, value)`` before the self-attention (context and value
start as the normed activations), an ``attn1`` replace function ``(q, k, v, extra_options) -> out`` instead
of the attention itself (q, k, v projected, ``to_out`` applied after), ``attn1_output_patch`` functions
``(n, extra_options) -> n`` on its output; the same for the cross-attention (``attn2_*``, context the text
embedding, value None unless a patch sets it). A replace function is looked up by
``(block_name, block_number, index in its SpatialTransformer)`` first, then ``(block_name, block_number)``.
``input_block_patch`` ``(h, transformer_options) -> h`` after each input block, ``output_block_patch``
``(h, skip, transformer_options) -> (h, skip)`` before each output block's concat.

``extra_options`` holds the other transformer_options entries plus ``block`` (("input"|"middle"|"output", n)),
``block_index``, ``n_heads``, ``dim_head``, ``original_shape`` (the UNet input's shape), ``activations_shape``,
``cond_or_uncond`` and ``sigmas``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from torch import Tensor, nn

BLOCK_PATCHES = ("input_block_patch", "output_block_patch")


class _PatchSet:
    def __init__(self, patches: dict[str, list[Any]], replace: dict[str, dict[Any, Any]],
                 extra: dict[str, Any]) -> None:
        self.patches, self.replace, self.extra = patches, replace, extra


def _activations_shape(original: list[int], x: Tensor) -> list[int]:
    """[B, C, h, w] of the activations a transformer block sees ([B, h*w, C]), from the UNet input's size."""
    h, w = original[-2], original[-1]
    while h * w > x.shape[1] and h > 1:
        h, w = (h + 1) // 2, (w + 1) // 2
    return [x.shape[0], x.shape[2], h, w]


def _attention(attn: nn.Module, n: Tensor, context: Tensor | None, value: Tensor | None, fn: Any,
               extra: dict[str, Any]) -> Tensor:
    if fn is None:
        return attn(n, context, value)
    context = n if context is None else context
    value = context if value is None else value
    return attn.to_out(fn(attn.to_q(n), attn.to_k(context), attn.to_v(value), extra))


class _BlockHook:
    """A transformer block's forward with the patches (``BasicTransformerBlock.patch_hook``)."""

    def __init__(self, ps: _PatchSet, block: tuple[str, int], index: int) -> None:
        self.ps, self.block, self.index = ps, block, index

    def _replacement(self, name: str) -> Any:
        table = self.ps.replace.get(name)
        if not table:
            return None
        fn = table.get((self.block[0], self.block[1], self.index))
        return table.get(self.block) if fn is None else fn

    def __call__(self, tb: nn.Module, x: Tensor, context: Tensor) -> Tensor:
        patches, heads = self.ps.patches, tb.attn1.heads
        extra = {**self.ps.extra, "block": self.block, "block_index": self.index, "n_heads": heads,
                 "dim_head": x.shape[-1] // heads,
                 "activations_shape": _activations_shape(self.ps.extra["original_shape"], x)}
        n = tb.norm1(x)
        ctx1 = value1 = None
        if "attn1_patch" in patches:
            ctx1 = value1 = n
            for p in patches["attn1_patch"]:
                n, ctx1, value1 = p(n, ctx1, value1, extra)
        n = _attention(tb.attn1, n, ctx1, value1, self._replacement("attn1"), extra)
        for p in patches.get("attn1_output_patch", ()):
            n = p(n, extra)
        x = x + n
        if tb.middle_patch is not None:
            x = tb.middle_patch(x)
        n = tb.norm2(x)
        ctx2, value2 = context, None
        if "attn2_patch" in patches:
            value2 = ctx2
            for p in patches["attn2_patch"]:
                n, ctx2, value2 = p(n, ctx2, value2, extra)
        n = _attention(tb.attn2, n, ctx2, value2, self._replacement("attn2"), extra)
        for p in patches.get("attn2_output_patch", ()):
            n = p(n, extra)
        x = x + n
        return x + tb.ff(tb.norm3(x))


class _UNetHook:
    """The input/output block patches (``UNetModel.block_hook``)."""

    def __init__(self, ps: _PatchSet) -> None:
        self.ps = ps

    def input(self, h: Tensor, number: int) -> Tensor:
        for p in self.ps.patches.get("input_block_patch", ()):
            h = p(h, {**self.ps.extra, "block": ("input", number)})
        return h

    def output(self, h: Tensor, skip: Tensor, number: int) -> tuple[Tensor, Tensor]:
        for p in self.ps.patches.get("output_block_patch", ()):
            h, skip = p(h, skip, {**self.ps.extra, "block": ("output", number)})
        return h, skip


def _transformer_blocks(unet: nn.Module) -> Iterator[tuple[tuple[str, int], int, nn.Module]]:
    places = (("input", list(unet.input_blocks)), ("middle", [unet.middle_block]),
              ("output", list(unet.output_blocks)))
    for place, blocks in places:
        for number, block in enumerate(blocks):
            for layer in block:
                for index, tb in enumerate(getattr(layer, "transformer_blocks", ())):
                    yield (place, number), index, tb


@contextmanager
def unet_patches(unet: Any, opts: Any, transformer_options: dict[str, Any] | None,
                 original_shape: list[int]) -> Iterator[None]:
    """``opts`` (sampling.model_options.SamplerOptions)'s UNet patches on ``unet`` while the block runs."""
    if opts is None or not opts.patches_unet or not hasattr(unet, "input_blocks"):
        yield
        return
    extra = {**(transformer_options or {}), "original_shape": original_shape}
    ps = _PatchSet(opts.patches, opts.replace, extra)
    blocks = list(_transformer_blocks(unet))
    for block, index, tb in blocks:
        tb.patch_hook = _BlockHook(ps, block, index)
    if any(k in opts.patches for k in BLOCK_PATCHES):
        unet.block_hook = _UNetHook(ps)
    try:
        yield
    finally:
        for _, _, tb in blocks:
            tb.patch_hook = None
        unet.block_hook = None


__all__ = ["unet_patches"]
