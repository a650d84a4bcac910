"""SDXL base's CLIP value: CLIP-L and OpenCLIP-bigG side by side (MODELS_FACTS §2-3, ComfyUI's
``SDXLClipModel``/``SDXLTokenizer``). Both tokenize the same text with the same chunking (L pads with the end
token, G with 0); each encodes its own chunks (penultimate layer, no final LayerNorm, its own weighting);
the conditioning is [L ‖ G] along features (768 + 1280 = 2048), cut to the shorter token count, and the pooled
output is G's projected one. The refiner's CLIP is a plain :class:`TextEncoder` holding G alone.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from host.models.conditioning import TextEncoder, TokenBatch


class NotSDXLBaseClip(TypeError):
    """A node that needs SDXL base's two text encoders (CLIP-L and CLIP-G) got another CLIP."""


@dataclass
class SDXLTokens:
    """A prompt tokenized for both encoders (ComfyUI's ``{"l": ..., "g": ...}``)."""

    l: TokenBatch  # noqa: E741 (ComfyUI's name for CLIP-L's tokens)
    g: TokenBatch

    def ids(self) -> dict[str, list[list[int]]]:
        return {"l": self.l.ids(), "g": self.g.ids()}


class SDXLTextEncoder:
    """``tokenize``/``encode``/``clone``/``set_last_layer`` as :class:`TextEncoder`, over ``l`` and ``g``."""

    kind = "lg"

    def __init__(self, l: TextEncoder, g: TextEncoder) -> None:  # noqa: E741
        self.l, self.g = l, g

    # -- the CLIP value's housekeeping -----------------------------------------------------------------
    @property
    def device(self) -> Any:
        return self.g.device

    @property
    def embedding_dirs(self) -> list[Path]:
        return self.l.embedding_dirs

    @embedding_dirs.setter
    def embedding_dirs(self, dirs: list[Path]) -> None:
        self.l.embedding_dirs = list(dirs)
        self.g.embedding_dirs = list(dirs)

    @property
    def used_keys(self) -> set[str]:
        return self.l.used_keys | self.g.used_keys

    @property
    def clip_l(self) -> TextEncoder:
        """ComfyUI's names of the parts (what weight patches such as LoRAs address: ``clip_l.``/``clip_g.``)."""
        return self.l

    @property
    def clip_g(self) -> TextEncoder:
        return self.g

    @property
    def layer(self) -> int | None:
        return self.g.layer

    def clone(self) -> SDXLTextEncoder:
        other = copy.copy(self)
        other.l, other.g = self.l.clone(), self.g.clone()
        return other

    def set_last_layer(self, n: int) -> None:
        """CLIPSetLastLayer sets the layer of both encoders."""
        self.l.set_last_layer(n)
        self.g.set_last_layer(n)

    def to(self, device: Any) -> SDXLTextEncoder:
        self.l.to(device)
        self.g.to(device)
        return self

    def nbytes(self) -> int:
        return self.l.nbytes() + self.g.nbytes()

    # -- tokenize and encode ------------------------------------------------------------------------
    def tokenize(self, text: str) -> SDXLTokens:
        return SDXLTokens(self.l.tokenize(text), self.g.tokenize(text))

    def tokenize_pair(self, text_g: str, text_l: str) -> SDXLTokens:
        """CLIPTextEncodeSDXL's tokens: G from ``text_g``, L from ``text_l``, the shorter list padded with the
        empty prompt's chunks until both have as many."""
        tokens = SDXLTokens(self.l.tokenize(text_l), self.g.tokenize(text_g))
        if len(tokens.l.chunks) != len(tokens.g.chunks):
            empty = self.tokenize("")
            while len(tokens.l.chunks) < len(tokens.g.chunks):
                tokens.l.chunks.extend(empty.l.chunks)
            while len(tokens.l.chunks) > len(tokens.g.chunks):
                tokens.g.chunks.extend(empty.g.chunks)
        return tokens

    @torch.no_grad()
    def encode(self, tokens: SDXLTokens | TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(cond [1, 77k, 2048], pooled [1, 1280]), fp32 on the CPU."""
        if isinstance(tokens, TokenBatch):
            raise NotSDXLBaseClip("SDXL's CLIP encodes tokens of both encoders; tokenize with this CLIP")
        g_out, g_pooled = self.g.encode(tokens.g)
        l_out, _ = self.l.encode(tokens.l)
        cut = min(l_out.shape[1], g_out.shape[1])
        return torch.cat([l_out[:, :cut], g_out[:, :cut]], dim=-1), g_pooled

    def encode_text(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode(self.tokenize(text))


def require_sdxl_base(clip: Any, node: str) -> Any:
    """``clip`` when it is SDXL base's dual encoder (itself or patched, as by a LoRA), else a NotSDXLBaseClip
    saying what it is instead."""
    if getattr(clip, "kind", None) == "lg" and callable(getattr(clip, "tokenize_pair", None)):
        return clip
    kind = getattr(clip, "kind", None)
    what = {"g": "the SDXL refiner's text encoder (OpenCLIP-bigG alone); use CLIPTextEncodeSDXLRefiner or "
                 "CLIPTextEncode with it",
            "l": "a CLIP-L text encoder (SD1.x)", "h": "an OpenCLIP-H text encoder (SD2.x)"}.get(
        str(kind), f"a {type(clip).__name__}")
    raise NotSDXLBaseClip(f"{node} needs SDXL base's two text encoders (CLIP-L and CLIP-G, from an SDXL base "
                          f"checkpoint or DualCLIPLoader type sdxl); this CLIP is {what}")


__all__ = ["NotSDXLBaseClip", "SDXLTextEncoder", "SDXLTokens", "require_sdxl_base"]
