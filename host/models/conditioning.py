"""The CLIP value nodes pass around: tokenize with ComfyUI's syntax, encode with its weighting (MODELS_FACTS §3):
every chunk and, when a weight differs from 1, the empty prompt [start, end, pad...] in one batch; each
weighted position becomes (z - e)·w + e; chunks concatenated; pooled from chunk 0, never weighted."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from host.models.clip_model import ClipTextModel
from host.models.lazy import LazyWeights
from host.models.prompt import CHUNK, END, START, Chunk, chunk, load_embedding, token_groups
from host.models.tokenizer import ClipTokenizer

EMBEDDING_SUFFIXES = ("", ".safetensors", ".pt", ".bin")


@dataclass
class TokenBatch:
    """A tokenized prompt: chunks of 77 (token, weight) pairs."""

    chunks: list[Chunk]

    def ids(self) -> list[list[int]]:
        """The ids per chunk (embedding vectors shown as 0)."""
        return [[t if isinstance(t, int) else 0 for t, _ in c] for c in self.chunks]

    def weights(self) -> list[list[float]]:
        return [[w for _, w in c] for c in self.chunks]


@dataclass
class TextEncoder:
    """The CLIP value: a text model, its tokenizer, the clip-skip layer and where embeddings are looked up."""

    module: ClipTextModel
    tokenizer: ClipTokenizer = field(default_factory=ClipTokenizer)
    layer: int | None = None
    embedding_dirs: list[Path] = field(default_factory=list)
    device: Any = "cpu"
    #: the source file's keys this encoder was loaded from
    used_keys: set[str] = field(default_factory=set, repr=False)
    #: the weights, when they are still in the file (read on first use of ``model``)
    weights: LazyWeights | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.layer is None:
            self.layer = self.spec.default_layer

    @property
    def model(self) -> ClipTextModel:
        """The text model with its weights (loaded from the file now if this is their first use)."""
        return self.weights.ensure() if self.weights is not None else self.module

    @property
    def spec(self) -> Any:
        return self.module.spec

    @property
    def kind(self) -> str:
        return self.spec.kind

    def clone(self) -> TextEncoder:
        """A copy sharing the weights (as ComfyUI's ``CLIP.clone``)."""
        other = copy.copy(self)
        other.embedding_dirs = list(self.embedding_dirs)
        return other

    def set_last_layer(self, n: int) -> None:
        """CLIPSetLastLayer: -1 is the last layer, -2 the penultimate..."""
        self.layer = n

    def to(self, device: Any) -> TextEncoder:
        if self.weights is not None:
            self.weights.move(device)
        else:
            self.module.to(device)
        self.device = device
        return self

    def nbytes(self) -> int:
        if self.weights is not None:
            return self.weights.nbytes()
        return sum(p.numel() * p.element_size() for p in self.module.parameters())

    # -- tokenize ------------------------------------------------------------------------------------
    def find_embedding(self, name: str) -> torch.Tensor | None:
        for d in self.embedding_dirs:
            base = Path(d).resolve()
            for suffix in EMBEDDING_SUFFIXES:
                path = (base / (name + suffix)).resolve()
                if path.is_file() and base in path.parents:
                    return load_embedding(path, self.spec.width, self.kind)
        return None

    def tokenize(self, text: str) -> TokenBatch:
        groups = token_groups(text, self.tokenizer.ids, self.find_embedding)
        return TokenBatch(chunk(groups, self.spec.pad_id))

    # -- encode --------------------------------------------------------------------------------------
    def _embeds(self, chunks: list[Chunk]) -> tuple[torch.Tensor, torch.Tensor]:
        dtype = self.model.transformer.embeddings.token_embedding.weight.dtype
        rows, ends = [], []
        for c in chunks:
            ids = torch.tensor([t if isinstance(t, int) else 0 for t, _ in c], device=self.device)
            vec = self.model.token_vectors(ids).clone()
            for j, (t, _) in enumerate(c):
                if not isinstance(t, int):
                    vec[j] = t.to(device=vec.device, dtype=dtype)
            rows.append(vec)
            ends.append(next(j for j, (t, _) in enumerate(c) if isinstance(t, int) and t == END))
        return torch.stack(rows), torch.tensor(ends, device=self.device)

    @torch.no_grad()
    def encode(self, tokens: TokenBatch) -> tuple[torch.Tensor, torch.Tensor]:
        """(cond [1, 77k, D] fp32 CPU, pooled [1, D] fp32 CPU)."""
        chunks = list(tokens.chunks)
        weighted = any(w != 1.0 for c in chunks for _, w in c)
        batch = chunks + ([self.empty_chunk()] if weighted else [])
        hidden, pooled = self.model(*self._embeds(batch), self.layer)
        hidden, pooled = hidden.float().cpu(), pooled.float().cpu()
        out = []
        for k, c in enumerate(chunks):
            z = hidden[k].clone()
            if weighted:
                e = hidden[-1]
                w = torch.tensor([w for _, w in c])[:, None]
                sel = (w != 1.0).squeeze(1)
                z[sel] = (z[sel] - e[sel]) * w[sel] + e[sel]
            out.append(z)
        return torch.cat(out, dim=0)[None], pooled[0:1]

    def empty_chunk(self) -> Chunk:
        return [(START, 1.0), (END, 1.0)] + [(self.spec.pad_id, 1.0)] * (CHUNK - 2)

    def encode_text(self, text: str) -> tuple[torch.Tensor, torch.Tensor]:
        return self.encode(self.tokenize(text))


__all__ = ["TextEncoder", "TokenBatch"]
